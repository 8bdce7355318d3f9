"""Weather from Open-Meteo: no key needed.

A place name is turned into coordinates with Open-Meteo's geocoding API, then one forecast
request fetches the current conditions and the daily outlook. ``OpenMeteoClient`` knows the
wire format; the tools only turn its results into short sentences for speech.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    request_json,
)

SERVICE = "Open-Meteo"
DEFAULT_GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1"
DEFAULT_FORECAST_URL = "https://api.open-meteo.com/v1"
REQUEST_TIMEOUT = httpx.Timeout(10.0)
MAX_FORECAST_DAYS = 16

CURRENT_FIELDS = (
    "temperature_2m",
    "apparent_temperature",
    "relative_humidity_2m",
    "weather_code",
    "wind_speed_10m",
    "precipitation",
)
DAILY_FIELDS = (
    "weather_code",
    "temperature_2m_max",
    "temperature_2m_min",
    "precipitation_probability_max",
)

# WMO weather interpretation codes as listed in the Open-Meteo forecast documentation.
WMO_CODES: Mapping[int, str] = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "freezing fog",
    51: "light drizzle",
    53: "drizzle",
    55: "heavy drizzle",
    56: "light freezing drizzle",
    57: "heavy freezing drizzle",
    61: "light rain",
    63: "rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "heavy freezing rain",
    71: "light snow",
    73: "snow",
    75: "heavy snow",
    77: "snow grains",
    80: "light rain showers",
    81: "rain showers",
    82: "violent rain showers",
    85: "light snow showers",
    86: "heavy snow showers",
    95: "a thunderstorm",
    96: "a thunderstorm with light hail",
    99: "a thunderstorm with heavy hail",
}

# How unit symbols from ``current_units`` / ``daily_units`` read aloud.
_SPOKEN_UNITS: Mapping[str, str] = {"inch": " inches", "mm": " mm", "%": "%"}
_SPOKEN_SPEEDS: Mapping[str, str] = {"mp/h": "mph", "kn": "knots"}


class PlaceNotFoundError(ConnectorError):
    """Geocoding found nothing for the name asked about."""

    def __init__(self, query: str):
        super().__init__(f"I couldn't find a place called {query}.")
        self.query = query


def describe_weather_code(code: int | None) -> str:
    """The words for a WMO weather code ("partly cloudy"); unknown codes stay vague."""
    if code is None:
        return "unknown conditions"
    return WMO_CODES.get(int(code), "unsettled weather")


@dataclass(frozen=True)
class Place:
    """A geocoding hit."""

    name: str
    latitude: float
    longitude: float
    timezone: str | None = None
    country: str | None = None
    admin1: str | None = None

    @property
    def label(self) -> str:
        """How the place is said back: "Springfield, Illinois, United States"."""
        parts = [self.name]
        if self.admin1 and self.admin1 != self.name:
            parts.append(self.admin1)
        if self.country and self.country not in parts:
            parts.append(self.country)
        return ", ".join(parts)


@dataclass(frozen=True)
class CurrentConditions:
    temperature: float
    apparent_temperature: float | None
    humidity: float | None
    weather_code: int | None
    wind_speed: float | None
    precipitation: float | None
    temperature_unit: str
    wind_unit: str
    precipitation_unit: str


@dataclass(frozen=True)
class DailyForecast:
    day: date
    weather_code: int | None
    temperature_max: float | None
    temperature_min: float | None
    precipitation_probability: float | None


@dataclass(frozen=True)
class Forecast:
    place: Place
    current: CurrentConditions
    daily: tuple[DailyForecast, ...]
    temperature_unit: str


class OpenMeteoClient:
    """A thin client for Open-Meteo's geocoding and forecast APIs.

    Every failure becomes a ``ConnectorError`` with a sentence the user can hear.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        geocoding_url: str = DEFAULT_GEOCODING_URL,
        forecast_url: str = DEFAULT_FORECAST_URL,
    ) -> None:
        self._http = http
        self._geocoding_url = geocoding_url.rstrip("/")
        self._forecast_url = forecast_url.rstrip("/")

    async def geocode(self, name: str) -> Place:
        """The best match for a place name; ``ConnectorError`` when there is none."""
        query = name.strip()
        if not query:
            raise ConnectorError("I need the name of a place.")
        payload = await self._get_json(
            f"{self._geocoding_url}/search",
            {"name": query, "count": 1, "language": "en", "format": "json"},
        )
        results = payload.get("results")
        if not results:
            raise PlaceNotFoundError(query)
        try:
            hit = results[0]
            return Place(
                name=str(hit["name"]),
                latitude=float(hit["latitude"]),
                longitude=float(hit["longitude"]),
                timezone=_optional_str(hit.get("timezone")),
                country=_optional_str(hit.get("country")),
                admin1=_optional_str(hit.get("admin1")),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise _malformed() from exc

    async def forecast(self, place: Place, *, days: int = 1, units: str = "metric") -> Forecast:
        """Current conditions plus ``days`` daily summaries (1-16) for a place."""
        days = clamp_days(days)
        params: dict[str, str | int | float] = {
            "latitude": place.latitude,
            "longitude": place.longitude,
            "current": ",".join(CURRENT_FIELDS),
            "daily": ",".join(DAILY_FIELDS),
            "timezone": "auto",
            "forecast_days": days,
        }
        if units == "imperial":
            params.update(
                temperature_unit="fahrenheit", wind_speed_unit="mph", precipitation_unit="inch"
            )
        payload = await self._get_json(f"{self._forecast_url}/forecast", params)
        try:
            return _parse_forecast(place, payload)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise _malformed() from exc

    async def _get_json(self, url: str, params: Mapping[str, str | int | float]) -> dict[str, Any]:
        payload = await request_json(
            self._http,
            SERVICE,
            "GET",
            url,
            params=params,
            timeout=REQUEST_TIMEOUT,
            reason=_error_reason,
            malformed=str(_malformed()),
        )
        if payload.get("error") is True:
            reason = str(payload.get("reason") or "no reason given")
            raise ConnectorError(f"{SERVICE} couldn't answer that: {reason}")
        return payload


def clamp_days(days: int) -> int:
    return max(1, min(MAX_FORECAST_DAYS, int(days)))


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent a weather report I couldn't read.", retryable=True)


def _optional_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _error_reason(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("error") and body.get("reason"):
        return str(body["reason"])
    return None


def _parse_forecast(place: Place, payload: Mapping[str, Any]) -> Forecast:
    current = payload["current"]
    units = payload.get("current_units") or {}
    conditions = CurrentConditions(
        temperature=float(current["temperature_2m"]),
        apparent_temperature=_optional_float(current.get("apparent_temperature")),
        humidity=_optional_float(current.get("relative_humidity_2m")),
        weather_code=_optional_int(current.get("weather_code")),
        wind_speed=_optional_float(current.get("wind_speed_10m")),
        precipitation=_optional_float(current.get("precipitation")),
        temperature_unit=str(units.get("temperature_2m", "°C")),
        wind_unit=str(units.get("wind_speed_10m", "km/h")),
        precipitation_unit=str(units.get("precipitation", "mm")),
    )
    daily = payload["daily"]
    times: Sequence[str] = daily["time"]
    columns = {name: daily[name] for name in DAILY_FIELDS}
    if any(len(column) != len(times) for column in columns.values()):
        raise ValueError("daily columns differ in length")
    days = tuple(
        DailyForecast(
            day=date.fromisoformat(times[i]),
            weather_code=_optional_int(columns["weather_code"][i]),
            temperature_max=_optional_float(columns["temperature_2m_max"][i]),
            temperature_min=_optional_float(columns["temperature_2m_min"][i]),
            precipitation_probability=_optional_float(columns["precipitation_probability_max"][i]),
        )
        for i in range(len(times))
    )
    daily_units = payload.get("daily_units") or {}
    temperature_unit = str(daily_units.get("temperature_2m_max", conditions.temperature_unit))
    return Forecast(place=place, current=conditions, daily=days, temperature_unit=temperature_unit)


def _amount(value: float, unit: str) -> str:
    return f"{value:g}{_SPOKEN_UNITS.get(unit, f' {unit}')}"


def _degrees(value: float, unit: str) -> str:
    return f"{round(value)}{unit}"


def format_current(forecast: Forecast) -> str:
    """One or two spoken sentences about the weather right now."""
    now = forecast.current
    text = (
        f"Right now in {forecast.place.label}: {describe_weather_code(now.weather_code)}, "
        f"{_degrees(now.temperature, now.temperature_unit)}"
    )
    if now.apparent_temperature is not None and round(now.apparent_temperature) != round(
        now.temperature
    ):
        text += f", feeling like {_degrees(now.apparent_temperature, now.temperature_unit)}"
    text += "."
    details = []
    if now.humidity is not None:
        details.append(f"humidity {round(now.humidity)}%")
    if now.wind_speed is not None:
        wind_unit = _SPOKEN_SPEEDS.get(now.wind_unit, now.wind_unit)
        details.append(f"wind {round(now.wind_speed)} {wind_unit}")
    if now.precipitation:
        details.append(f"precipitation {_amount(now.precipitation, now.precipitation_unit)}")
    if details:
        joined = ", ".join(details)
        text += f" {joined[0].upper()}{joined[1:]}."
    if forecast.daily:
        today = forecast.daily[0]
        text += " " + _day_sentence("Today", today, forecast.temperature_unit)
    return text


def format_forecast(forecast: Forecast) -> str:
    """A line per day: "Tomorrow: light rain, 8 to 13°C, 70% chance of precipitation."."""
    count = len(forecast.daily)
    if count == 0:
        return f"There is no forecast available for {forecast.place.label}."
    heading = f"{count}-day forecast for {forecast.place.label}:"
    lines = [heading]
    for index, day in enumerate(forecast.daily):
        lines.append(_day_sentence(_day_label(index, day.day), day, forecast.temperature_unit))
    return "\n".join(lines)


def _day_label(index: int, day: date) -> str:
    if index == 0:
        return "Today"
    if index == 1:
        return "Tomorrow"
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"


def _day_sentence(label: str, day: DailyForecast, unit: str) -> str:
    parts = [describe_weather_code(day.weather_code)]
    if day.temperature_min is not None and day.temperature_max is not None:
        parts.append(f"{round(day.temperature_min)} to {_degrees(day.temperature_max, unit)}")
    elif day.temperature_max is not None:
        parts.append(f"high of {_degrees(day.temperature_max, unit)}")
    if day.precipitation_probability is not None:
        parts.append(f"{round(day.precipitation_probability)}% chance of precipitation")
    return f"{label}: " + ", ".join(parts) + "."


def _units(settings: Any) -> str:
    units = str(getattr(settings, "units", "metric") or "metric").lower()
    return "imperial" if units == "imperial" else "metric"


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = OpenMeteoClient(
        ctx.http,
        geocoding_url=ctx.endpoint("open_meteo_geocoding", DEFAULT_GEOCODING_URL),
        forecast_url=ctx.endpoint("open_meteo_forecast", DEFAULT_FORECAST_URL),
    )

    async def get_current_weather(location: str) -> str:
        """Get the weather right now in a place, with today's high, low and rain chance.

        Args:
            location: A city or place name, optionally with a region or country after a
                comma, e.g. "Paris" or "Springfield, Illinois".
        """
        place = await client.geocode(location)
        forecast = await client.forecast(place, days=1, units=_units(ctx.settings))
        return format_current(forecast)

    async def get_forecast(location: str, days: int = 3) -> str:
        """Get the daily weather forecast for a place: conditions, low and high, rain chance.

        Args:
            location: A city or place name, optionally with a region or country after a
                comma, e.g. "Paris" or "Springfield, Illinois".
            days: How many days to cover, starting today (1 to 16).
        """
        place = await client.geocode(location)
        forecast = await client.forecast(place, days=clamp_days(days), units=_units(ctx.settings))
        return format_forecast(forecast)

    return [
        ToolDef(func=get_current_weather, progress="Checking the weather in {location}..."),
        ToolDef(func=get_forecast, progress="Getting the {days}-day forecast for {location}..."),
    ]


CONNECTOR = Connector(
    name="weather",
    title="Weather",
    description=(
        "Current weather conditions and daily forecasts up to 16 days ahead for any place "
        "in the world."
    ),
    instructions=(
        "You answer questions about the weather using your tools. Always call a tool; never "
        "guess the weather. If the user names no place, ask which place they mean. Reply in one "
        "to three short spoken sentences: lead with what they asked (for example whether to "
        "take an umbrella), give temperatures as whole numbers with their unit, and mention "
        "only the days they care about. Don't read out lists or symbols. If a tool reports a "
        "problem, say that sentence plainly and suggest trying again if it may help."
    ),
    build_tools=build_tools,
    examples=(
        "What's the weather like in Paris?",
        "Do I need an umbrella in London today?",
        "What's the forecast for Tokyo this weekend?",
        "How cold will it get in Chicago over the next five days?",
    ),
    followups=(
        "And tomorrow in {location}?",
        "What about the rest of the week in {location}?",
        "Will it rain in {location} this weekend?",
    ),
)
