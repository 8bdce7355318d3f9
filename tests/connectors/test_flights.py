"""The flights connector against a fake Amadeus speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.flights import (
    CONNECTOR,
    AmadeusClient,
    parse_iso_duration,
    spoken_duration,
)

HOST = "test.api.amadeus.com"
NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
SETTINGS = SimpleNamespace(timezone="Europe/Lisbon", now=lambda: NOW)

TOKEN = {
    "type": "amadeusOAuth2Token",
    "username": "ana@example.com",
    "application_name": "hark",
    "client_id": "key-123",
    "token_type": "Bearer",
    "access_token": "tok-1",
    "expires_in": 1799,
    "state": "approved",
    "scope": "",
}


def segment(
    seg_id: str, carrier: str, number: str, dep: tuple[str, str], arr: tuple[str, str], dur: str
) -> dict[str, Any]:
    return {
        "departure": {"iataCode": dep[0], "terminal": "1", "at": dep[1]},
        "arrival": {"iataCode": arr[0], "at": arr[1]},
        "carrierCode": carrier,
        "number": number,
        "aircraft": {"code": "320"},
        "operating": {"carrierCode": carrier},
        "duration": dur,
        "id": seg_id,
        "numberOfStops": 0,
        "blacklistedInEU": False,
    }


def offer(
    offer_id: str, total: str, carrier: str, segments: list[dict[str, Any]], duration: str
) -> dict[str, Any]:
    return {
        "type": "flight-offer",
        "id": offer_id,
        "source": "GDS",
        "instantTicketingRequired": False,
        "nonHomogeneous": False,
        "oneWay": False,
        "lastTicketingDate": "2026-11-30",
        "numberOfBookableSeats": 9,
        "itineraries": [{"duration": duration, "segments": segments}],
        "price": {
            "currency": "EUR",
            "total": total,
            "base": "40.00",
            "fees": [
                {"amount": "0.00", "type": "SUPPLIER"},
                {"amount": "0.00", "type": "TICKETING"},
            ],
            "grandTotal": total,
        },
        "pricingOptions": {"fareType": ["PUBLISHED"], "includedCheckedBagsOnly": False},
        "validatingAirlineCodes": [carrier],
        "travelerPricings": [
            {
                "travelerId": "1",
                "fareOption": "STANDARD",
                "travelerType": "ADULT",
                "price": {"currency": "EUR", "total": total, "base": "40.00"},
                "fareDetailsBySegment": [
                    {"segmentId": s["id"], "cabin": "ECONOMY", "fareBasis": "OL0ICE", "class": "O"}
                    for s in segments
                ],
            }
        ],
    }


OFFERS: dict[str, Any] = {
    "meta": {"count": 3, "links": {"self": "https://test.api.amadeus.com/v2/shopping/..."}},
    "data": [
        offer(
            "1",
            "132.40",
            "IB",
            [
                segment(
                    "1",
                    "IB",
                    "3109",
                    ("LIS", "2026-12-01T06:00:00"),
                    ("MAD", "2026-12-01T08:20:00"),
                    "PT1H20M",
                ),
            ],
            "PT1H20M",
        ),
        offer(
            "2",
            "84.51",
            "TP",
            [
                segment(
                    "2",
                    "TP",
                    "1016",
                    ("LIS", "2026-12-01T07:15:00"),
                    ("MAD", "2026-12-01T09:30:00"),
                    "PT1H15M",
                ),
            ],
            "PT1H15M",
        ),
        offer(
            "3",
            "99.00",
            "UX",
            [
                segment(
                    "3",
                    "UX",
                    "1158",
                    ("LIS", "2026-12-01T22:10:00"),
                    ("OPO", "2026-12-01T23:05:00"),
                    "PT55M",
                ),
                segment(
                    "4",
                    "UX",
                    "1160",
                    ("OPO", "2026-12-02T06:40:00"),
                    ("MAD", "2026-12-02T09:00:00"),
                    "PT1H20M",
                ),
            ],
            "PT9H50M",
        ),
    ],
    "dictionaries": {
        "locations": {
            "LIS": {"cityCode": "LIS", "countryCode": "PT"},
            "MAD": {"cityCode": "MAD", "countryCode": "ES"},
            "OPO": {"cityCode": "OPO", "countryCode": "PT"},
        },
        "aircraft": {"320": "AIRBUS A320"},
        "currencies": {"EUR": "EURO"},
        "carriers": {"TP": "TAP PORTUGAL", "IB": "IBERIA", "UX": "AIR EUROPA"},
    },
}

Handler = Callable[[httpx.Request], httpx.Response]


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


KEYS = Secrets({"amadeus.client_id": "key-123", "amadeus.client_secret": "shh-456"})


class FakeAmadeus:
    def __init__(
        self, offers: Handler | dict[str, Any] = OFFERS, token: Handler | None = None
    ) -> None:
        self.offers = offers
        self.token = token
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/security/oauth2/token":
            if self.token is not None:
                return self.token(request)
            self.tokens_issued += 1
            return httpx.Response(200, json={**TOKEN, "access_token": f"tok-{self.tokens_issued}"})
        if request.url.path == "/v2/shopping/flight-offers":
            if callable(self.offers):
                return self.offers(request)
            return httpx.Response(200, json=self.offers)
        return httpx.Response(404, json={"errors": [{"status": 404, "title": "NOT FOUND"}]})

    def searches(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/flight-offers")]


def tools_for(
    fake: FakeAmadeus, secrets: Secrets | None = KEYS, settings: Any = SETTINGS, **kw: Any
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(http=http, settings=settings, secrets=secrets, **kw)
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def search(fake: FakeAmadeus, **overrides: Any) -> str:
    args: dict[str, Any] = {"origin": "lis", "destination": "MAD", "date": "2026-12-01"}
    args.update(overrides)
    return await tools_for(fake)["search_flight_offers"].func(**args)


# ---------------------------------------------------------------- happy paths


async def test_cheapest_offers_are_summarised_and_the_wire_is_right() -> None:
    fake = FakeAmadeus()

    said = await search(fake)

    assert said.splitlines() == [
        "Cheapest flights from LIS to MAD on Tuesday 1 December, total for 1 adult:",
        "84.51 euros with TAP Portugal, nonstop, leaves 7:15 AM, arrives 9:30 AM "
        "(1 hour 15 minutes).",
        "99 euros with Air Europa, 1 stop, leaves 10:10 PM, arrives 9:00 AM the next day "
        "(9 hours 50 minutes).",
        "132 euros with Iberia, nonstop, leaves 6:00 AM, arrives 8:20 AM (1 hour 20 minutes).",
    ]
    token_request, search_request = fake.requests
    assert token_request.method == "POST"
    assert token_request.url.host == HOST
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": ["key-123"],
        "client_secret": ["shh-456"],
    }
    assert search_request.headers["authorization"] == "Bearer tok-1"
    assert dict(search_request.url.params) == {
        "originLocationCode": "LIS",
        "destinationLocationCode": "MAD",
        "departureDate": "2026-12-01",
        "adults": "1",
        "max": "20",
    }


async def test_options_are_sent_when_asked() -> None:
    fake = FakeAmadeus()
    settings = SimpleNamespace(timezone="UTC", now=lambda: NOW, currency="usd")
    tool = tools_for(fake, settings=settings)["search_flight_offers"]

    said = await tool.func(
        origin="BOS", destination="ORD", date="tomorrow", adults=2, nonstop_only=True
    )

    params = fake.searches()[0].url.params
    assert params["departureDate"] == "2026-11-22"
    assert params["adults"] == "2"
    assert params["nonStop"] == "true"
    assert params["currencyCode"] == "USD"
    assert "total for 2 adults" in said


async def test_the_token_is_cached_until_it_expires() -> None:
    fake = FakeAmadeus()
    now = [1000.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as http:
        client = AmadeusClient(http, lambda: ("key-123", "shh-456"), clock=lambda: now[0])
        await client.search("LIS", "MAD", date(2026, 12, 1))
        now[0] += 1000
        await client.search("LIS", "MAD", date(2026, 12, 1))
        assert fake.tokens_issued == 1
        now[0] += 800  # 1800 s after issue: past expires_in minus the safety margin
        await client.search("LIS", "MAD", date(2026, 12, 1))

    assert fake.tokens_issued == 2
    assert [r.headers["authorization"] for r in fake.searches()] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]


async def test_a_rejected_token_is_refreshed_once() -> None:
    seen: list[str] = []

    def offers(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer tok-1":
            return httpx.Response(401, json={"errors": [{"code": 38190, "status": 401}]})
        return httpx.Response(200, json=OFFERS)

    fake = FakeAmadeus(offers=offers)

    said = await search(fake)

    assert seen == ["Bearer tok-1", "Bearer tok-2"]
    assert said.startswith("Cheapest flights")


async def test_no_offers() -> None:
    fake = FakeAmadeus(offers={"meta": {"count": 0}, "data": []})

    said = await search(fake)

    assert said == "I found no flights from LIS to MAD on Tuesday 1 December for 1 adult."


async def test_endpoint_override_reaches_production_host() -> None:
    fake = FakeAmadeus()
    tools = tools_for(fake, endpoints={"amadeus": "https://api.amadeus.com/"})

    await tools["search_flight_offers"].func(origin="LIS", destination="MAD", date="2026-12-01")

    assert [str(r.url).split("?")[0] for r in fake.requests] == [
        "https://api.amadeus.com/v1/security/oauth2/token",
        "https://api.amadeus.com/v2/shopping/flight-offers",
    ]


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("PT2H10M", 130), ("PT45M", 45), ("PT3H", 180), ("P1DT2H", 1560), ("", None), ("x", None)],
)
def test_iso_durations(text: str, minutes: int | None) -> None:
    assert parse_iso_duration(text) == minutes


def test_spoken_durations() -> None:
    assert spoken_duration(75) == "1 hour 15 minutes"
    assert spoken_duration(60) == "1 hour"
    assert spoken_duration(1) == "1 minute"


# ---------------------------------------------------------------- input checks (no request)


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        ({"origin": "Lisbon"}, "three-letter airport or city code for the departure"),
        ({"destination": "M"}, "three-letter airport or city code for the destination"),
        ({"destination": "LIS"}, "The departure and destination are the same place."),
        ({"date": "next friday"}, "I couldn't understand the date 'next friday'"),
        ({"date": "2026-11-20"}, "Friday 20 November 2026 has already passed."),
        ({"adults": 12}, "I can search for 1 to 9 adults at a time."),
    ],
)
async def test_bad_input_is_said_without_a_request(args: dict[str, Any], sentence: str) -> None:
    fake = FakeAmadeus()

    with pytest.raises(ConnectorError) as caught:
        await search(fake, **args)

    assert sentence in caught.value.message
    assert fake.requests == []


async def test_missing_keys() -> None:
    fake = FakeAmadeus()
    tool = tools_for(fake, secrets=Secrets({"amadeus.client_id": "key-123"}))[
        "search_flight_offers"
    ]

    with pytest.raises(ConnectorError) as caught:
        await tool.func(origin="LIS", destination="MAD", date="2026-12-01")

    assert caught.value.message == (
        "Connect Flight search (Amadeus) first: python main.py connect flights"
    )
    assert fake.requests == []


# ---------------------------------------------------------------- failures


async def test_bad_credentials() -> None:
    fake = FakeAmadeus(
        token=lambda _r: httpx.Response(
            401,
            json={
                "error": "invalid_client",
                "error_description": "Client credentials are invalid",
                "code": 38187,
                "title": "Invalid parameters",
            },
        )
    )

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == (
        "Amadeus didn't accept your API key and secret. "
        "Reconnect them: python main.py connect flights"
    )
    assert caught.value.status == 401
    assert fake.searches() == []


async def test_forbidden_search() -> None:
    fake = FakeAmadeus(offers=lambda _r: httpx.Response(403, json={"errors": [{"status": 403}]}))

    with pytest.raises(ConnectorError, match="didn't accept your API key"):
        await search(fake)


async def test_documented_400_detail_is_relayed() -> None:
    body = {
        "errors": [
            {
                "status": 400,
                "code": 425,
                "title": "INVALID DATE",
                "detail": "Date/Time is in the past",
                "source": {"parameter": "departureDate"},
            }
        ]
    }
    fake = FakeAmadeus(offers=lambda _r: httpx.Response(400, json=body))

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == (
        "Amadeus couldn't search that: Date/Time is in the past (departureDate)."
    )


async def test_rate_limit() -> None:
    body = {"errors": [{"code": 38194, "title": "Too many requests", "status": 429}]}
    fake = FakeAmadeus(offers=lambda _r: httpx.Response(429, json=body))

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == "Amadeus is rate-limiting requests; try again in a minute."
    assert caught.value.retryable


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error(status: int) -> None:
    fake = FakeAmadeus(offers=lambda _r: httpx.Response(status, text="oops"))

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == f"Amadeus is having trouble right now (HTTP {status})."


async def test_token_server_error() -> None:
    fake = FakeAmadeus(token=lambda _r: httpx.Response(502, text="bad gateway"))

    with pytest.raises(ConnectorError, match=r"having trouble right now \(HTTP 502\)"):
        await search(fake)


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        await search(FakeAmadeus(offers=hang))

    assert caught.value.message == "Amadeus did not answer in time."
    assert caught.value.retryable


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(200, json=["data"]),
        httpx.Response(200, json={"meta": {"count": 1}}),
        httpx.Response(200, json={"data": [{"id": "1", "price": {"total": "1"}}]}),
        httpx.Response(200, json={**OFFERS, "data": [{**OFFERS["data"][0], "price": {}}]}),
    ],
    ids=["html", "array", "no-data", "no-itinerary", "no-price"],
)
async def test_malformed_offers(reply: httpx.Response) -> None:
    fake = FakeAmadeus(offers=lambda _r: reply)

    with pytest.raises(ConnectorError) as caught:
        await search(fake)

    assert caught.value.message == "Amadeus sent flight results I couldn't read."


async def test_malformed_token() -> None:
    fake = FakeAmadeus(token=lambda _r: httpx.Response(200, json={"state": "approved"}))

    with pytest.raises(ConnectorError, match="couldn't read"):
        await search(fake)


# ---------------------------------------------------------------- metadata


def test_connector_metadata_and_progress() -> None:
    tools = tools_for(FakeAmadeus())
    assert sorted(tools) == ["search_flight_offers"]
    assert not tools["search_flight_offers"].side_effect
    assert (
        render_progress(
            tools["search_flight_offers"].progress,
            {"origin": "LIS", "destination": "MAD", "date": "2026-12-01"},
        )
        == "Looking for flights from LIS to MAD on 2026-12-01..."
    )
    assert CONNECTOR.requires_secrets == ("amadeus.client_id", "amadeus.client_secret")
    assert "developers.amadeus.com" in CONNECTOR.key_help
    assert CONNECTOR.examples
