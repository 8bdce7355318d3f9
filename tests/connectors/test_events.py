"""The events connector against a fake Ticketmaster Discovery API speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.events import CONNECTOR

HOST = "app.ticketmaster.com"
NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)  # 9 AM in Chicago
SETTINGS = SimpleNamespace(timezone="America/Chicago", home_city="Chicago", now=lambda: NOW)


def venue(name: str, city: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "venue",
        "id": "KovZpZAFFE1A",
        "url": "https://www.ticketmaster.com/venue/1",
        "locale": "en-us",
        "postalCode": "60612",
        "timezone": "America/Chicago",
        "city": {"name": city},
        "state": {"name": "Illinois", "stateCode": "IL"},
        "country": {"name": "United States Of America", "countryCode": "US"},
        "address": {"line1": "1901 W Madison St"},
        "location": {"longitude": "-87.6742", "latitude": "41.8807"},
    }


def event(
    name: str,
    local_date: str,
    local_time: str | None,
    status: str,
    prices: tuple[float, float] | None,
    place: dict[str, Any],
    segment: str = "Music",
    genre: str = "Rock",
) -> dict[str, Any]:
    start: dict[str, Any] = {
        "localDate": local_date,
        "dateTBD": False,
        "dateTBA": False,
        "timeTBA": local_time is None,
        "noSpecificTime": False,
    }
    if local_time:
        start["localTime"] = local_time
        start["dateTime"] = f"{local_date}T01:30:00Z"
    item: dict[str, Any] = {
        "name": name,
        "type": "event",
        "id": "vvG1IZ9" + name[:3],
        "test": False,
        "url": "https://www.ticketmaster.com/event/1",
        "locale": "en-us",
        "images": [],
        "sales": {"public": {"startDateTime": "2026-08-01T15:00:00Z", "endDateTime": "x"}},
        "dates": {
            "start": start,
            "timezone": "America/Chicago",
            "status": {"code": status},
            "spanMultipleDays": False,
        },
        "classifications": [
            {
                "primary": True,
                "segment": {"id": "KZFzniwnSyZfZ7v7nJ", "name": segment},
                "genre": {"id": "KnvZfZ7vAeA", "name": genre},
                "subGenre": {"id": "KZazBEonSMnZfZ7v6F1", "name": "Pop"},
            }
        ],
        "_links": {"self": {"href": "/discovery/v2/events/x?locale=en-us"}},
        "_embedded": {"venues": [place], "attractions": []},
    }
    if prices:
        item["priceRanges"] = [
            {"type": "standard", "currency": "USD", "min": prices[0], "max": prices[1]}
        ]
    return item


UNITED = venue("United Center", "Chicago")
THALIA = venue("Thalia Hall", "Chicago")
PAYLOAD: dict[str, Any] = {
    "_embedded": {
        "events": [
            event("Khruangbin", "2026-11-27", "19:30:00", "onsale", (45.0, 120.5), UNITED),
            event("Jazz Night", "2026-11-28", None, "onsale", (25.0, 25.0), THALIA, genre="Jazz"),
            event("The Lumineers", "2026-11-28", "20:00:00", "cancelled", None, UNITED),
        ]
    },
    "_links": {"self": {"href": "/discovery/v2/events.json?city=Chicago&page=0&size=5"}},
    "page": {"size": 5, "totalElements": 3, "totalPages": 1, "number": 0},
}
EMPTY = {
    "_links": {"self": {"href": "/discovery/v2/events.json?keyword=zzz"}},
    "page": {"size": 5, "totalElements": 0, "totalPages": 0, "number": 0},
}

Handler = Callable[[httpx.Request], httpx.Response]


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


class FakeDiscovery:
    def __init__(self, answer: Handler | dict[str, Any] = PAYLOAD) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answer):
            return self.answer(request)
        return httpx.Response(200, json=self.answer)

    def params(self) -> dict[str, str]:
        return dict(self.requests[-1].url.params)


def tools_for(
    fake: FakeDiscovery, settings: Any = SETTINGS, secrets: Secrets | None = None, **kw: Any
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(
        http=http,
        settings=settings,
        secrets=secrets or Secrets({"ticketmaster.api_key": "tm-key"}),
        **kw,
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def search(fake: FakeDiscovery, **kw: Any) -> str:
    return await tools_for(fake)["search_events"].func(**kw)


async def test_events_in_the_home_city_this_week() -> None:
    fake = FakeDiscovery()

    said = await search(fake)

    assert said.splitlines() == [
        "Events in Chicago from Saturday 21 November:",
        "Friday 27 November at 7:30 PM: Khruangbin at United Center, Chicago; "
        "tickets 45 to 120 dollars.",
        "Saturday 28 November: Jazz Night at Thalia Hall, Chicago; tickets from 25 dollars.",
        "Saturday 28 November at 8:00 PM: The Lumineers at United Center, Chicago (cancelled).",
    ]
    request = fake.requests[0]
    assert request.url.host == HOST
    assert request.url.path == "/discovery/v2/events.json"
    assert fake.params() == {
        "startDateTime": "2026-11-21T15:00:00Z",
        "endDateTime": "2026-11-28T06:00:00Z",
        "size": "5",
        "sort": "date,asc",
        "city": "Chicago",
        "apikey": "tm-key",
    }


async def test_keyword_category_and_a_later_date() -> None:
    fake = FakeDiscovery()

    said = await search(
        fake, keyword="Khruangbin", category="Music", date="2026-11-27", days=1, count=50
    )

    params = fake.params()
    assert params["keyword"] == "Khruangbin"
    assert "city" not in params
    assert params["classificationName"] == "Music"
    assert params["startDateTime"] == "2026-11-27T06:00:00Z"
    assert params["endDateTime"] == "2026-11-28T06:00:00Z"
    assert params["size"] == "20"
    assert said.startswith("Music events for Khruangbin on Friday 27 November:")


async def test_nothing_found() -> None:
    said = await search(FakeDiscovery(EMPTY), keyword="zzz", city="Peoria")

    assert said == "I found no events for zzz in Peoria from Saturday 21 November."


async def test_no_city_no_keyword_no_home() -> None:
    fake = FakeDiscovery()
    tool = tools_for(fake, settings=SimpleNamespace(home_city=None, now=lambda: NOW))[
        "search_events"
    ]

    with pytest.raises(ConnectorError, match=r"Which city, or which artist, team or show\?"):
        await tool.func()
    assert fake.requests == []


@pytest.mark.parametrize(
    ("date", "sentence"),
    [("soon", "I couldn't understand the date 'soon'"), ("2026-01-01", "has already passed")],
)
async def test_bad_dates(date: str, sentence: str) -> None:
    fake = FakeDiscovery()

    with pytest.raises(ConnectorError, match=sentence):
        await search(fake, date=date)
    assert fake.requests == []


async def test_missing_key() -> None:
    fake = FakeDiscovery()
    tool = tools_for(fake, secrets=Secrets({}))["search_events"]

    with pytest.raises(ConnectorError) as caught:
        await tool.func(city="Chicago")

    assert (
        caught.value.message == "Connect Events (Ticketmaster) first: python main.py connect events"
    )
    assert fake.requests == []


# ---------------------------------------------------------------- failures


async def test_invalid_key() -> None:
    body = {
        "fault": {
            "faultstring": "Invalid ApiKey",
            "detail": {"errorcode": "oauth.v2.InvalidApiKey"},
        }
    }
    fake = FakeDiscovery(lambda _r: httpx.Response(401, json=body))

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == (
        "Ticketmaster didn't accept your API key. Reconnect it: python main.py connect events"
    )


async def test_daily_quota() -> None:
    body = {
        "fault": {
            "faultstring": "Rate limit quota violation. Quota limit  exceeded.",
            "detail": {"errorcode": "policies.ratelimit.QuotaViolation"},
        }
    }
    fake = FakeDiscovery(lambda _r: httpx.Response(429, json=body))

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == (
        "Your Ticketmaster key has used up its daily requests; it resets tomorrow."
    )


async def test_spike_rate_limit() -> None:
    body = {
        "fault": {
            "faultstring": "Spike arrest violation. Allowed rate : 5ps",
            "detail": {"errorcode": "policies.ratelimit.SpikeArrestViolation"},
        }
    }
    fake = FakeDiscovery(lambda _r: httpx.Response(429, json=body))

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == "Ticketmaster is rate-limiting requests; try again in a minute."


async def test_documented_400_detail() -> None:
    body = {
        "errors": [
            {
                "code": "DIS1015",
                "detail": "Query param with date must be of valid format YYYY-MM-DDTHH:mm:ssZ",
                "status": "400",
                "_links": {"about": {"href": "/discovery/v2/errors.html#DIS1015"}},
            }
        ]
    }
    fake = FakeDiscovery(lambda _r: httpx.Response(400, json=body))

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == (
        "Ticketmaster couldn't search that: "
        "Query param with date must be of valid format YYYY-MM-DDTHH:mm:ssZ"
    )


async def test_server_error() -> None:
    fake = FakeDiscovery(lambda _r: httpx.Response(502, text="<html>Bad gateway</html>"))

    with pytest.raises(ConnectorError, match=r"^Ticketmaster is having trouble right now"):
        await search(fake)


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ConnectorError, match=r"^Ticketmaster did not answer in time\.$"):
        await search(FakeDiscovery(hang))


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="nope"),
        httpx.Response(200, json=[]),
        httpx.Response(200, json={"_links": {}}),
        httpx.Response(200, json={"_embedded": {"events": [{"id": "no name"}]}, "page": {}}),
        httpx.Response(
            200,
            json={
                "_embedded": {"events": [{**PAYLOAD["_embedded"]["events"][0], "dates": 3}]},
                "page": {},
            },
        ),
    ],
    ids=["text", "array", "no-page", "no-name", "bad-dates"],
)
async def test_malformed(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await search(FakeDiscovery(lambda _r: reply))

    assert caught.value.message == "Ticketmaster sent event listings I couldn't read."


def test_metadata() -> None:
    tools = tools_for(FakeDiscovery())
    assert sorted(tools) == ["search_events"]
    assert render_progress(tools["search_events"].progress, {}) == (
        "Searching Ticketmaster for events..."
    )
    assert CONNECTOR.requires_secrets == ("ticketmaster.api_key",)


async def test_endpoint_override() -> None:
    fake = FakeDiscovery()
    tools = tools_for(fake, endpoints={"ticketmaster": "http://127.0.0.1:7000/discovery/v2"})

    await tools["search_events"].func(city="Chicago")

    assert str(fake.requests[0].url).startswith("http://127.0.0.1:7000/discovery/v2/events.json?")
