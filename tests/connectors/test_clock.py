"""The clock connector with an injected clock and a fake Open-Meteo geocoder."""

from __future__ import annotations

from datetime import UTC, datetime, time, tzinfo
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from agents import function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.clock import (
    CONNECTOR,
    TimeZoneResolver,
    local_zone,
    lookup_zone_name,
    parse_clock_time,
    system_zone,
)
from src.connectors.weather import OpenMeteoClient

# Saturday 21 November 2026, 13:05 UTC = 14:05 in Paris (CET, UTC+1).
NOW = datetime(2026, 11, 21, 13, 5, tzinfo=UTC)

LYON_HIT: dict[str, Any] = {
    "id": 2996944,
    "name": "Lyon",
    "latitude": 45.74846,
    "longitude": 4.84671,
    "elevation": 173.0,
    "feature_code": "PPLA",
    "country_code": "FR",
    "admin1_id": 11071625,
    "admin2_id": 2987410,
    "timezone": "Europe/Paris",
    "population": 522969,
    "country_id": 3017382,
    "country": "France",
    "admin1": "Auvergne-Rhône-Alpes",
    "admin2": "Rhône",
}
LYON = {"results": [LYON_HIT], "generationtime_ms": 0.7}
NOTHING = {"generationtime_ms": 0.4}


class FakeGeocoder:
    def __init__(self, reply: httpx.Response | None = None) -> None:
        self.reply = reply or httpx.Response(200, json=NOTHING)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply


def settings(zone: str | None = "Europe/Paris", now: datetime = NOW) -> SimpleNamespace:
    return SimpleNamespace(timezone=zone, now=lambda: now)


def tools_for(
    fake: FakeGeocoder | None = None, config: Any = None, **ctx_kwargs: Any
) -> dict[str, ToolDef]:
    fake = fake or FakeGeocoder()
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(
        http=http, settings=settings() if config is None else config, **ctx_kwargs
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def current_time(place: str = "", **kwargs: Any) -> str:
    return await tools_for(**kwargs)["current_time"].func(place=place)


async def convert(when: str, source: str, target: str, **kwargs: Any) -> str:
    return await tools_for(**kwargs)["convert_time"].func(
        time=when, from_place=source, to_place=target
    )


async def days_until(day: str, **kwargs: Any) -> str:
    return await tools_for(**kwargs)["days_until"].func(date=day)


# ---------------------------------------------------------------- current_time


async def test_local_time_uses_the_configured_zone_and_the_injected_clock() -> None:
    assert await current_time("") == "It's 2:05 PM on Saturday 21 November (CET, UTC+1)."


@pytest.mark.parametrize("place", ["here", "local", "  "])
async def test_words_for_here_mean_local(place: str) -> None:
    assert (await current_time(place)).startswith("It's 2:05 PM")


@pytest.mark.parametrize(
    ("place", "said"),
    [
        (
            "Tokyo",
            "In Tokyo it's 10:05 PM on Saturday 21 November (JST, UTC+9). "
            "That's 8 hours ahead of you.",
        ),
        (
            "new york",
            "In New York it's 8:05 AM on Saturday 21 November (EST, UTC-5). "
            "That's 6 hours behind you.",
        ),
        (
            "Asia/Kolkata",
            "In Kolkata it's 6:35 PM on Saturday 21 November (IST, UTC+5:30). "
            "That's 4 hours and 30 minutes ahead of you.",
        ),
        (
            "Europe/Berlin",
            "In Berlin it's 2:05 PM on Saturday 21 November (CET, UTC+1). "
            "That's the same time as yours.",
        ),
        (
            "UTC",
            "In UTC it's 1:05 PM on Saturday 21 November (UTC). That's 1 hour behind you.",
        ),
        (
            "Pacific time",
            "In Pacific time it's 5:05 AM on Saturday 21 November (PST, UTC-8). "
            "That's 9 hours behind you.",
        ),
    ],
)
async def test_time_elsewhere(place: str, said: str) -> None:
    fake = FakeGeocoder()

    assert await current_time(place, fake=fake) == said
    assert fake.requests == [], "zone names and cities must resolve offline"


async def test_city_that_is_not_a_zone_name_is_geocoded() -> None:
    fake = FakeGeocoder(httpx.Response(200, json=LYON))

    said = await current_time("Lyon", fake=fake)

    assert said == (
        "In Lyon, France it's 2:05 PM on Saturday 21 November (CET, UTC+1). "
        "That's the same time as yours."
    )
    [request] = fake.requests
    assert request.url.host == "geocoding-api.open-meteo.com"
    assert request.url.path == "/v1/search"
    assert dict(request.url.params) == {
        "name": "Lyon",
        "count": "1",
        "language": "en",
        "format": "json",
    }


async def test_geocoding_endpoint_can_be_overridden() -> None:
    fake = FakeGeocoder(httpx.Response(200, json=LYON))

    await current_time(
        "Lyon", fake=fake, endpoints={"open_meteo_geocoding": "http://127.0.0.1:9000/v1"}
    )

    assert str(fake.requests[0].url).startswith("http://127.0.0.1:9000/v1/search?")


async def test_unknown_place() -> None:
    with pytest.raises(ConnectorError) as caught:
        await current_time("Atlantis")

    assert caught.value.message == "I couldn't find a place or time zone called Atlantis."


async def test_geocoding_failure_is_explained() -> None:
    fake = FakeGeocoder(httpx.Response(503, text="Service Unavailable"))

    with pytest.raises(ConnectorError) as caught:
        await current_time("Lyon", fake=fake)

    assert caught.value.message == (
        "I don't know the time zone of Lyon, and looking it up failed. "
        "Open-Meteo is having trouble right now (HTTP 503)."
    )
    assert caught.value.retryable


async def test_geocoding_hit_without_a_time_zone_is_not_found() -> None:
    hit = dict(LYON_HIT)
    del hit["timezone"]
    fake = FakeGeocoder(httpx.Response(200, json={"results": [hit]}))

    with pytest.raises(ConnectorError, match="couldn't find a place or time zone called Lyon"):
        await current_time("Lyon", fake=fake)


async def test_resolver_tries_the_part_before_a_comma_offline() -> None:
    fake = FakeGeocoder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        resolver = TimeZoneResolver(OpenMeteoClient(http), lambda: local_zone(settings()))
        resolved = await resolver.resolve("Tokyo, Japan")

    assert resolved.zone == ZoneInfo("Asia/Tokyo")
    assert resolved.label == "Tokyo"
    assert fake.requests == []


async def test_invalid_zone_setting_is_reported() -> None:
    with pytest.raises(ConnectorError, match="Mars/Olympus_Mons, isn't a time zone I know"):
        await current_time("", config=settings(zone="Mars/Olympus_Mons"))


async def test_without_a_zone_setting_the_system_zone_is_used() -> None:
    said = await current_time("", config=SimpleNamespace(now=lambda: NOW))
    moment = NOW.astimezone(system_zone())
    hour = moment.hour % 12 or 12

    assert said.startswith(f"It's {hour}:{moment.minute:02d} ")


async def test_with_no_settings_at_all_the_real_clock_answers() -> None:
    tools = tools_for(config=SimpleNamespace())

    said = await tools["current_time"].func(place="")

    assert said.startswith("It's ")


def test_system_zone_is_a_tzinfo() -> None:
    assert isinstance(system_zone(), tzinfo)


# ---------------------------------------------------------------- convert_time


async def test_convert_same_day() -> None:
    assert await convert("3pm", "New York", "Paris") == (
        "3:00 PM in New York is 9:00 PM in Paris, on Saturday 21 November."
    )


async def test_convert_across_midnight_names_both_days() -> None:
    assert await convert("22:30", "London", "Tokyo") == (
        "10:30 PM on Saturday 21 November in London is 7:30 AM on Sunday 22 November in Tokyo."
    )


async def test_convert_with_a_full_date_follows_daylight_saving() -> None:
    # In July New York is on EDT (UTC-4) and Sydney on AEST (UTC+10): 14 hours apart,
    # where in November (EST, AEDT) they are 16 hours apart.
    assert await convert("2026-07-01 09:00", "America/New_York", "Australia/Sydney") == (
        "9:00 AM in New York is 11:00 PM in Sydney, on Wednesday 1 July."
    )
    assert await convert("2026-11-21 09:00", "America/New_York", "Australia/Sydney") == (
        "9:00 AM on Saturday 21 November in New York is 1:00 AM on Sunday 22 November in Sydney."
    )


async def test_convert_to_and_from_local_time() -> None:
    assert await convert("9am", "Tokyo", "") == (
        "9:00 AM in Tokyo is 1:00 AM your time, on Saturday 21 November."
    )
    assert await convert("tomorrow 9am", "", "New York") == (
        "9:00 AM your time is 3:00 AM in New York, on Sunday 22 November."
    )


async def test_convert_uses_today_in_the_source_zone() -> None:
    # 23:30 UTC on the 21st is already the 22nd in Tokyo.
    late = settings(now=datetime(2026, 11, 21, 23, 30, tzinfo=UTC))

    said = await convert("8am", "Tokyo", "UTC", config=late)

    assert said == (
        "8:00 AM on Sunday 22 November in Tokyo is 11:00 PM on Saturday 21 November in UTC."
    )


@pytest.mark.parametrize("bad", ["soon", "25:00", "13pm", "half past"])
async def test_convert_rejects_times_it_cannot_read(bad: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        await convert(bad, "Paris", "Tokyo")

    assert caught.value.message == (
        f"I couldn't understand the time {bad!r}. Try something like 15:30 or 3pm."
    )


async def test_convert_reports_an_unknown_place() -> None:
    with pytest.raises(ConnectorError, match="called Narnia"):
        await convert("3pm", "Paris", "Narnia")


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("15:30", time(15, 30)),
        ("3pm", time(15, 0)),
        ("3:30 p.m.", time(15, 30)),
        ("11 AM", time(11, 0)),
        ("12am", time(0, 0)),
        ("12pm", time(12, 0)),
        ("noon", time(12, 0)),
        ("midnight", time(0, 0)),
        ("9", time(9, 0)),
        ("18h45", time(18, 45)),
    ],
)
def test_clock_time_parsing(text: str, parsed: time) -> None:
    assert parse_clock_time(text) == parsed


# ---------------------------------------------------------------- days_until


@pytest.mark.parametrize(
    ("day", "said"),
    [
        ("2026-12-25", "Friday 25 December 2026 is in 34 days."),
        ("2026-11-22", "Sunday 22 November 2026 is in 1 day."),
        ("2026-11-21", "That's today, Saturday 21 November 2026."),
        ("2026-11-20", "Friday 20 November 2026 was 1 day ago."),
        ("2026-11-18", "Wednesday 18 November 2026 was 3 days ago."),
        ("2027-01-01T00:00", "Friday 1 January 2027 is in 41 days."),
    ],
)
async def test_days_until(day: str, said: str) -> None:
    assert await days_until(day) == said


async def test_days_until_counts_from_the_local_date() -> None:
    # 23:30 UTC on the 21st is the 22nd in Tokyo.
    late = settings(zone="Asia/Tokyo", now=datetime(2026, 11, 21, 23, 30, tzinfo=UTC))

    assert await days_until("2026-11-22", config=late) == "That's today, Sunday 22 November 2026."


@pytest.mark.parametrize("bad", ["Christmas", "25/12/2026", "2026-13-01", ""])
async def test_days_until_rejects_dates_it_cannot_read(bad: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        await days_until(bad)

    assert caught.value.message == (
        f"I couldn't understand the date {bad!r}. "
        "Please give it as year-month-day, like 2026-12-25."
    )


# ---------------------------------------------------------------- lookups and wiring


@pytest.mark.parametrize(
    ("place", "zone"),
    [
        ("Tokyo", "Asia/Tokyo"),
        ("new york", "America/New_York"),
        ("New_York", "America/New_York"),
        ("europe/paris", "Europe/Paris"),
        ("Los Angeles", "America/Los_Angeles"),
        ("St. Johns", "America/St_Johns"),
        ("eastern time", "America/New_York"),
        ("GMT", "UTC"),
    ],
)
def test_offline_lookup(place: str, zone: str) -> None:
    found = lookup_zone_name(place)
    assert found is not None
    assert found[0] == zone


def test_offline_lookup_misses_cities_that_are_not_zone_names() -> None:
    assert lookup_zone_name("Lyon") is None


def test_tools_have_strict_schemas_the_sdk_accepts() -> None:
    tools = tools_for()
    assert list(tools) == ["current_time", "convert_time", "days_until"]

    expected = {
        "current_time": ["place"],
        "convert_time": ["time", "from_place", "to_place"],
        "days_until": ["date"],
    }
    for name, params in expected.items():
        tool = function_tool(tools[name].func)
        schema = tool.params_json_schema
        assert tool.name == name
        assert tool.strict_json_schema
        assert list(schema["properties"]) == params
        assert sorted(schema["required"]) == sorted(params)
        assert schema["additionalProperties"] is False
        for param in params:
            assert schema["properties"][param]["type"] == "string"
            assert schema["properties"][param]["description"]


def test_progress_templates() -> None:
    tools = tools_for()
    assert (
        render_progress(tools["current_time"].progress, {"place": "Tokyo"})
        == "Looking up the time in Tokyo..."
    )
    assert (
        render_progress(
            tools["convert_time"].progress,
            {"time": "3pm", "from_place": "New York", "to_place": "Paris"},
        )
        == "Converting 3pm from New York to Paris..."
    )
    assert (
        render_progress(tools["days_until"].progress, {"date": "2026-12-25"})
        == "Counting the days until 2026-12-25..."
    )
    assert CONNECTOR.name == "clock"
    assert CONNECTOR.requires_secrets == ()
