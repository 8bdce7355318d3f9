"""The weather connector against a fake Open-Meteo speaking its documented JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from agents import FunctionTool, function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.weather import (
    CONNECTOR,
    CURRENT_FIELDS,
    DAILY_FIELDS,
    OpenMeteoClient,
    Place,
    describe_weather_code,
)

GEOCODING_HOST = "geocoding-api.open-meteo.com"
FORECAST_HOST = "api.open-meteo.com"

PARIS = {
    "id": 2988507,
    "name": "Paris",
    "latitude": 48.85341,
    "longitude": 2.3488,
    "elevation": 42.0,
    "feature_code": "PPLC",
    "country_code": "FR",
    "admin1_id": 3012874,
    "admin2_id": 2968815,
    "timezone": "Europe/Paris",
    "population": 2138551,
    "country_id": 3017382,
    "country": "France",
    "admin1": "Île-de-France",
    "admin2": "Paris",
}
GEOCODE_PARIS = {"results": [PARIS], "generationtime_ms": 0.86}
GEOCODE_NOTHING = {"generationtime_ms": 0.41}

METRIC_UNITS = {
    "current_units": {
        "time": "iso8601",
        "interval": "seconds",
        "temperature_2m": "°C",
        "apparent_temperature": "°C",
        "relative_humidity_2m": "%",
        "weather_code": "wmo code",
        "wind_speed_10m": "km/h",
        "precipitation": "mm",
    },
    "daily_units": {
        "time": "iso8601",
        "weather_code": "wmo code",
        "temperature_2m_max": "°C",
        "temperature_2m_min": "°C",
        "precipitation_probability_max": "%",
    },
}
IMPERIAL_UNITS = {
    "current_units": {
        **METRIC_UNITS["current_units"],
        "temperature_2m": "°F",
        "apparent_temperature": "°F",
        "wind_speed_10m": "mp/h",
        "precipitation": "inch",
    },
    "daily_units": {
        **METRIC_UNITS["daily_units"],
        "temperature_2m_max": "°F",
        "temperature_2m_min": "°F",
    },
}

DAILY_WEEK: dict[str, list[Any]] = {
    "time": ["2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"],
    "weather_code": [3, 61, 0, 95, 71],
    "temperature_2m_max": [12.4, 10.6, 9.8, 14.0, 2.1],
    "temperature_2m_min": [6.8, 5.2, 1.9, 8.3, -3.6],
    "precipitation_probability_max": [20, 85, 0, 70, None],
}


def forecast_payload(
    days: int = 1,
    *,
    units: dict[str, Any] | None = None,
    current: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "latitude": 48.86,
        "longitude": 2.3399997,
        "generationtime_ms": 0.0832,
        "utc_offset_seconds": 3600,
        "timezone": "Europe/Paris",
        "timezone_abbreviation": "GMT+1",
        "elevation": 43.0,
        **(units or METRIC_UNITS),
        "current": current
        or {
            "time": "2026-11-21T14:30",
            "interval": 900,
            "temperature_2m": 11.6,
            "apparent_temperature": 9.2,
            "relative_humidity_2m": 81,
            "weather_code": 3,
            "wind_speed_10m": 14.8,
            "precipitation": 0.0,
        },
        "daily": {key: values[:days] for key, values in DAILY_WEEK.items()},
    }


Handler = Callable[[httpx.Request], httpx.Response]


class FakeOpenMeteo:
    """Serves geocoding and forecast answers and records every request it receives."""

    def __init__(
        self,
        geocode: Handler | dict[str, Any] = GEOCODE_PARIS,
        forecast: Handler | dict[str, Any] | None = None,
    ) -> None:
        self.geocode = geocode
        self.forecast = forecast
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/search"):
            answer = self.geocode
        elif request.url.path.endswith("/forecast"):
            days = int(request.url.params.get("forecast_days", "1"))
            answer = self.forecast or forecast_payload(min(days, 5))
        else:
            return httpx.Response(404, json={"error": True, "reason": "not found"})
        if callable(answer):
            return answer(request)
        return httpx.Response(200, json=answer)

    def params(self, path_end: str) -> dict[str, str]:
        matching = [r for r in self.requests if r.url.path.endswith(path_end)]
        assert matching, f"no request to {path_end}"
        return dict(matching[-1].url.params)


def tools_for(fake: FakeOpenMeteo, settings: Any = None, **ctx_kwargs: Any) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(http=http, settings=settings, **ctx_kwargs)
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def current(fake: FakeOpenMeteo, location: str = "Paris", settings: Any = None) -> str:
    return await tools_for(fake, settings)["get_current_weather"].func(location=location)


# ---------------------------------------------------------------- happy paths


async def test_current_weather_sentence_and_requests() -> None:
    fake = FakeOpenMeteo()

    said = await current(fake)

    assert said == (
        "Right now in Paris, Île-de-France, France: overcast, 12°C, feeling like 9°C. "
        "Humidity 81%, wind 15 km/h. "
        "Today: overcast, 7 to 12°C, 20% chance of precipitation."
    )
    geo = fake.params("/search")
    assert geo == {"name": "Paris", "count": "1", "language": "en", "format": "json"}
    assert fake.requests[0].url.host == GEOCODING_HOST
    forecast = fake.params("/forecast")
    assert fake.requests[1].url.host == FORECAST_HOST
    assert forecast["latitude"] == "48.85341"
    assert forecast["longitude"] == "2.3488"
    assert forecast["current"].split(",") == list(CURRENT_FIELDS)
    assert forecast["daily"].split(",") == list(DAILY_FIELDS)
    assert forecast["timezone"] == "auto"
    assert forecast["forecast_days"] == "1"
    assert "temperature_unit" not in forecast
    assert "wind_speed_unit" not in forecast


async def test_imperial_units_are_requested_and_spoken() -> None:
    fake = FakeOpenMeteo(
        forecast=forecast_payload(
            units=IMPERIAL_UNITS,
            current={
                "time": "2026-11-21T08:30",
                "interval": 900,
                "temperature_2m": 52.9,
                "apparent_temperature": 48.6,
                "relative_humidity_2m": 64,
                "weather_code": 61,
                "wind_speed_10m": 9.2,
                "precipitation": 0.02,
            },
        )
    )

    said = await current(fake, settings=SimpleNamespace(units="imperial"))

    forecast = fake.params("/forecast")
    assert forecast["temperature_unit"] == "fahrenheit"
    assert forecast["wind_speed_unit"] == "mph"
    assert forecast["precipitation_unit"] == "inch"
    assert "light rain, 53°F, feeling like 49°F." in said
    assert "wind 9 mph" in said
    assert "precipitation 0.02 inches" in said


@pytest.mark.parametrize(
    "settings",
    [None, SimpleNamespace(), SimpleNamespace(units="metric"), SimpleNamespace(units="")],
)
async def test_metric_is_the_default(settings: Any) -> None:
    fake = FakeOpenMeteo()

    await current(fake, settings=settings)

    assert "temperature_unit" not in fake.params("/forecast")


async def test_units_setting_is_read_at_call_time() -> None:
    fake = FakeOpenMeteo()
    settings = SimpleNamespace(units="metric")
    tool = tools_for(fake, settings)["get_current_weather"]

    await tool.func(location="Paris")
    settings.units = "imperial"
    await tool.func(location="Paris")

    forecasts = [r for r in fake.requests if r.url.path.endswith("/forecast")]
    assert "temperature_unit" not in forecasts[0].url.params
    assert forecasts[1].url.params["temperature_unit"] == "fahrenheit"


async def test_forecast_lists_each_day() -> None:
    fake = FakeOpenMeteo()

    said = await tools_for(fake)["get_forecast"].func(location="Paris", days=3)

    assert said.splitlines() == [
        "3-day forecast for Paris, Île-de-France, France:",
        "Today: overcast, 7 to 12°C, 20% chance of precipitation.",
        "Tomorrow: light rain, 5 to 11°C, 85% chance of precipitation.",
        "Monday 23 November: clear sky, 2 to 10°C, 0% chance of precipitation.",
    ]
    assert fake.params("/forecast")["forecast_days"] == "3"


async def test_forecast_handles_missing_probability_and_negative_temperatures() -> None:
    fake = FakeOpenMeteo()

    said = await tools_for(fake)["get_forecast"].func(location="Paris", days=5)

    assert said.splitlines()[-1] == "Wednesday 25 November: light snow, -4 to 2°C."
    assert "Tuesday 24 November: a thunderstorm, 8 to 14°C" in said


@pytest.mark.parametrize(("asked", "sent"), [(0, "1"), (-3, "1"), (16, "16"), (40, "16")])
async def test_forecast_days_are_clamped(asked: int, sent: str) -> None:
    fake = FakeOpenMeteo()

    await tools_for(fake)["get_forecast"].func(location="Paris", days=asked)

    assert fake.params("/forecast")["forecast_days"] == sent


async def test_endpoints_can_be_overridden() -> None:
    fake = FakeOpenMeteo()
    tools = tools_for(
        fake,
        endpoints={
            "open_meteo_geocoding": "http://127.0.0.1:8081/geo/v1/",
            "open_meteo_forecast": "http://127.0.0.1:8082/v1",
        },
    )

    await tools["get_current_weather"].func(location="Paris")

    assert [str(r.url).split("?")[0] for r in fake.requests] == [
        "http://127.0.0.1:8081/geo/v1/search",
        "http://127.0.0.1:8082/v1/forecast",
    ]


async def test_client_can_be_used_directly() -> None:
    fake = FakeOpenMeteo()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        client = OpenMeteoClient(http)
        place = await client.geocode("  Paris ")
        forecast = await client.forecast(place, days=2, units="imperial")

    assert place == Place(
        name="Paris",
        latitude=48.85341,
        longitude=2.3488,
        timezone="Europe/Paris",
        country="France",
        admin1="Île-de-France",
    )
    assert [d.day.isoformat() for d in forecast.daily] == ["2026-11-21", "2026-11-22"]
    assert forecast.current.temperature == 11.6
    assert fake.params("/search")["name"] == "Paris"


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (0, "clear sky"),
        (2, "partly cloudy"),
        (45, "fog"),
        (65, "heavy rain"),
        (99, "a thunderstorm with heavy hail"),
        (42, "unsettled weather"),
        (None, "unknown conditions"),
    ],
)
def test_weather_codes_in_words(code: int | None, words: str) -> None:
    assert describe_weather_code(code) == words


# ---------------------------------------------------------------- failures


async def test_unknown_place_is_said_and_no_forecast_is_fetched() -> None:
    fake = FakeOpenMeteo(geocode=GEOCODE_NOTHING)

    with pytest.raises(ConnectorError) as caught:
        await current(fake, "Atlantis")

    assert caught.value.message == "I couldn't find a place called Atlantis."
    assert [r.url.path for r in fake.requests] == ["/v1/search"]


async def test_empty_results_list_is_not_found_too() -> None:
    fake = FakeOpenMeteo(geocode={"results": [], "generationtime_ms": 0.3})

    with pytest.raises(ConnectorError, match="I couldn't find a place called Nowhere"):
        await current(fake, "Nowhere")


async def test_blank_location_asks_for_a_place_without_a_request() -> None:
    fake = FakeOpenMeteo()

    with pytest.raises(ConnectorError, match="I need the name of a place"):
        await current(fake, "   ")
    assert fake.requests == []


async def test_documented_400_error_reason_is_relayed() -> None:
    reason = "Latitude must be in range of -90 to 90°. Given: 148.85."
    fake = FakeOpenMeteo(
        forecast=lambda _r: httpx.Response(400, json={"error": True, "reason": reason})
    )

    with pytest.raises(ConnectorError) as caught:
        await current(fake)

    assert caught.value.message == f"Open-Meteo couldn't answer that: {reason}"
    assert caught.value.status == 400
    assert not caught.value.retryable


async def test_400_without_reason_falls_back_to_the_status() -> None:
    fake = FakeOpenMeteo(geocode=lambda _r: httpx.Response(400, text="Bad Request"))

    with pytest.raises(ConnectorError, match=r"Open-Meteo rejected the request \(HTTP 400\)"):
        await current(fake)


async def test_rate_limit() -> None:
    fake = FakeOpenMeteo(
        forecast=lambda _r: httpx.Response(
            429, json={"error": True, "reason": "Minutely API request limit exceeded."}
        )
    )

    with pytest.raises(ConnectorError) as caught:
        await current(fake)

    assert caught.value.message == "Open-Meteo is rate-limiting requests; try again in a minute."
    assert caught.value.retryable
    assert caught.value.status == 429


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors(status: int) -> None:
    fake = FakeOpenMeteo(geocode=lambda _r: httpx.Response(status, text="upstream down"))

    with pytest.raises(ConnectorError) as caught:
        await current(fake)

    assert caught.value.message == f"Open-Meteo is having trouble right now (HTTP {status})."
    assert caught.value.retryable


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        await current(FakeOpenMeteo(forecast=hang))

    assert caught.value.message == "Open-Meteo did not answer in time."
    assert caught.value.retryable


async def test_connection_failure() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution", request=request)

    with pytest.raises(ConnectorError, match=r"^Could not reach Open-Meteo\.$"):
        await current(FakeOpenMeteo(geocode=refuse))


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>Service temporarily unavailable</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={k: v for k, v in forecast_payload().items() if k != "current"}),
        httpx.Response(200, json={**forecast_payload(), "current": {"time": "2026-11-21T14:30"}}),
        httpx.Response(
            200,
            json={**forecast_payload(3), "daily": {**forecast_payload(3)["daily"], "time": []}},
        ),
        httpx.Response(
            200,
            json={
                **forecast_payload(),
                "current": {**forecast_payload()["current"], "temperature_2m": "warm"},
            },
        ),
    ],
    ids=["html", "array", "no-current", "no-temperature", "ragged-daily", "bad-number"],
)
async def test_malformed_forecast(reply: httpx.Response) -> None:
    fake = FakeOpenMeteo(forecast=lambda _r: reply)

    with pytest.raises(ConnectorError) as caught:
        await current(fake)

    assert caught.value.message == "Open-Meteo sent a weather report I couldn't read."


async def test_malformed_geocoding_hit() -> None:
    fake = FakeOpenMeteo(geocode={"results": [{"id": 1, "name": "Paris"}]})

    with pytest.raises(ConnectorError, match="couldn't read"):
        await current(fake)


async def test_error_flag_in_a_200_reply_is_relayed() -> None:
    fake = FakeOpenMeteo(forecast={"error": True, "reason": "No data is available."})

    with pytest.raises(ConnectorError, match=r"couldn't answer that: No data is available\."):
        await current(fake)


# ---------------------------------------------------------------- wiring into the agents SDK


def test_tools_have_strict_schemas_the_sdk_accepts() -> None:
    tools = tools_for(FakeOpenMeteo())
    assert sorted(tools) == ["get_current_weather", "get_forecast"]

    current_tool = function_tool(tools["get_current_weather"].func)
    forecast_tool = function_tool(tools["get_forecast"].func)

    assert isinstance(current_tool, FunctionTool)
    assert current_tool.strict_json_schema
    schema = current_tool.params_json_schema
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["location"]
    assert schema["properties"]["location"]["type"] == "string"
    assert schema["properties"]["location"]["description"].startswith("A city or place name")

    schema = forecast_tool.params_json_schema
    assert list(schema["properties"]) == ["location", "days"]
    assert schema["properties"]["days"]["type"] == "integer"
    assert sorted(schema["required"]) == ["days", "location"]
    assert forecast_tool.description.startswith("Get the daily weather forecast")


async def test_tool_runs_through_the_sdk_wrapper() -> None:
    from agents.tool_context import ToolContext

    fake = FakeOpenMeteo()
    tool = function_tool(tools_for(fake)["get_forecast"].func)
    arguments = json.dumps({"location": "Paris", "days": 2})
    ctx = ToolContext(
        context=None, tool_name=tool.name, tool_call_id="call_1", tool_arguments=arguments
    )

    said = await tool.on_invoke_tool(ctx, arguments)

    assert str(said).startswith("2-day forecast for Paris")
    assert fake.params("/forecast")["forecast_days"] == "2"


def test_progress_templates_and_connector_metadata() -> None:
    tools = tools_for(FakeOpenMeteo())
    assert (
        render_progress(tools["get_current_weather"].progress, {"location": "Lyon"})
        == "Checking the weather in Lyon..."
    )
    assert (
        render_progress(tools["get_forecast"].progress, {"location": "Lyon", "days": 5})
        == "Getting the 5-day forecast for Lyon..."
    )
    assert CONNECTOR.name == "weather"
    assert CONNECTOR.requires_secrets == ()
    assert CONNECTOR.examples
    for template in CONNECTOR.followups:
        assert "…" not in render_progress(template, {"location": "Lyon", "days": 3})
