"""The flight status connector against a fake FlightAware AeroAPI speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.flight_status import CONNECTOR, normalise_ident

HOST = "aeroapi.flightaware.com"

LHR = {
    "code": "EGLL",
    "code_icao": "EGLL",
    "code_iata": "LHR",
    "code_lid": None,
    "timezone": "Europe/London",
    "name": "London Heathrow",
    "city": "London",
    "airport_info_url": "/airports/EGLL",
}
LAX = {
    "code": "KLAX",
    "code_icao": "KLAX",
    "code_iata": "LAX",
    "code_lid": "LAX",
    "timezone": "America/Los_Angeles",
    "name": "Los Angeles Intl",
    "city": "Los Angeles",
    "airport_info_url": "/airports/KLAX",
}


def flight(day: int, **fields: Any) -> dict[str, Any]:
    """One AeroAPI flight object for BA283 on 2026-11-``day``; ``fields`` override."""
    base: dict[str, Any] = {
        "ident": "BAW283",
        "ident_icao": "BAW283",
        "ident_iata": "BA283",
        "fa_flight_id": f"BAW283-17637{day}-airline-0123",
        "operator": "BAW",
        "operator_icao": "BAW",
        "operator_iata": "BA",
        "flight_number": "283",
        "registration": "G-XWBA",
        "atc_ident": None,
        "inbound_fa_flight_id": None,
        "codeshares": ["AAL6951"],
        "codeshares_iata": ["AA6951"],
        "blocked": False,
        "diverted": False,
        "cancelled": False,
        "position_only": False,
        "origin": LHR,
        "destination": LAX,
        "departure_delay": 0,
        "arrival_delay": 0,
        "filed_ete": 39600,
        "progress_percent": 0,
        "status": "Scheduled",
        "aircraft_type": "A35K",
        "route_distance": 5456,
        "filed_airspeed": 488,
        "filed_altitude": None,
        "route": None,
        "baggage_claim": None,
        "seats_cabin_business": None,
        "seats_cabin_coach": None,
        "seats_cabin_first": None,
        "gate_origin": None,
        "gate_destination": None,
        "terminal_origin": "5",
        "terminal_destination": "B",
        "type": "Airline",
        "scheduled_out": f"2026-11-{day:02d}T09:50:00Z",
        "estimated_out": f"2026-11-{day:02d}T09:50:00Z",
        "actual_out": None,
        "scheduled_off": f"2026-11-{day:02d}T10:05:00Z",
        "estimated_off": f"2026-11-{day:02d}T10:05:00Z",
        "actual_off": None,
        "scheduled_on": f"2026-11-{day:02d}T20:55:00Z",
        "estimated_on": f"2026-11-{day:02d}T20:55:00Z",
        "actual_on": None,
        "scheduled_in": f"2026-11-{day:02d}T21:10:00Z",
        "estimated_in": f"2026-11-{day:02d}T21:10:00Z",
        "actual_in": None,
        "foresight_predictions_available": False,
    }
    base.update(fields)
    return base


YESTERDAY = flight(
    20,
    status="Arrived / Gate Arrival",
    actual_out="2026-11-20T09:52:00Z",
    actual_off="2026-11-20T10:10:00Z",
    actual_on="2026-11-20T21:00:00Z",
    actual_in="2026-11-20T21:14:00Z",
    progress_percent=100,
)
TODAY_DELAYED = flight(
    21,
    status="Scheduled / Delayed",
    estimated_out="2026-11-21T10:35:00Z",
    estimated_in="2026-11-21T21:50:00Z",
    departure_delay=2700,
    arrival_delay=2400,
    gate_origin="A10",
)
TOMORROW = flight(22)
PAYLOAD = {"flights": [TOMORROW, TODAY_DELAYED, YESTERDAY], "links": None, "num_pages": 1}

NOW = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], httpx.Response]


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


class FakeAeroApi:
    def __init__(self, answer: Handler | dict[str, Any] = PAYLOAD) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answer):
            return self.answer(request)
        return httpx.Response(200, json=self.answer)


def tools_for(
    fake: FakeAeroApi,
    now: datetime = NOW,
    secrets: Secrets | None = None,
    **kw: Any,
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(
        http=http,
        settings=SimpleNamespace(now=lambda: now),
        secrets=secrets or Secrets({"flightaware.api_key": "fa-key"}),
        **kw,
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def status(fake: FakeAeroApi, flight: str = "BA283", **kw: Any) -> str:
    now = kw.pop("now", NOW)
    return await tools_for(fake, now=now)["get_flight_status"].func(flight=flight, **kw)


# ---------------------------------------------------------------- happy paths


async def test_the_next_flight_with_delay_gate_and_local_times() -> None:
    fake = FakeAeroApi()

    said = await status(fake, "ba 283")

    assert said == (
        "Flight BA283 from London Heathrow to Los Angeles Intl: scheduled / delayed. "
        "It's expected to leave at 10:35 AM London time, 45 minutes late, "
        "from terminal 5, gate A10. "
        "It's expected to arrive at 1:50 PM Los Angeles time, 40 minutes late, at terminal B."
    )
    (request,) = fake.requests
    assert request.url.host == HOST
    assert request.url.path == "/aeroapi/flights/BA283"
    assert request.url.params["max_pages"] == "1"
    assert request.headers["x-apikey"] == "fa-key"


async def test_a_flight_in_the_air_is_preferred() -> None:
    airborne = flight(
        21,
        status="En Route / On Time",
        actual_out="2026-11-21T09:53:00Z",
        actual_off="2026-11-21T10:09:00Z",
        estimated_in="2026-11-21T21:05:00Z",
        arrival_delay=-300,
        gate_origin="A10",
        gate_destination="45",
        progress_percent=40,
    )
    fake = FakeAeroApi({"flights": [TOMORROW, airborne, YESTERDAY], "links": None})

    said = await status(fake, now=datetime(2026, 11, 21, 14, 0, tzinfo=UTC))

    assert said == (
        "Flight BA283 from London Heathrow to Los Angeles Intl: en route / on time. "
        "It left the gate at 9:53 AM London time, on time. "
        "It's expected to arrive at 1:05 PM Los Angeles time, 5 minutes early, "
        "at terminal B, gate 45."
    )


async def test_a_landed_flight_with_baggage_claim() -> None:
    landed = {**YESTERDAY, "baggage_claim": "7", "gate_destination": "52"}
    fake = FakeAeroApi({"flights": [landed], "links": None, "num_pages": 1})

    said = await status(fake)

    assert said == (
        "Flight BA283 from London Heathrow to Los Angeles Intl: arrived / gate arrival. "
        "It left the gate at 9:52 AM on Friday 20 November London time, on time. "
        "It arrived at 1:14 PM on Friday 20 November Los Angeles time, on time, "
        "at terminal B, gate 52. Bags at carousel 7."
    )


async def test_a_cancelled_flight() -> None:
    cancelled = {**TODAY_DELAYED, "cancelled": True, "status": "Cancelled"}
    fake = FakeAeroApi({"flights": [cancelled], "links": None, "num_pages": 1})

    said = await status(fake)

    assert said == (
        "Flight BA283 from London Heathrow to Los Angeles Intl, scheduled for "
        "9:50 AM London time, is cancelled."
    )


async def test_a_named_day_picks_that_operation() -> None:
    fake = FakeAeroApi()

    said = await status(fake, date="2026-11-22")

    assert "It's expected to leave at 9:50 AM on Sunday 22 November London time, on time" in said


async def test_a_named_day_without_a_flight() -> None:
    said = await status(FakeAeroApi(), date="2026-11-25")

    assert said == "I found no BA283 flight departing on Wednesday 25 November."


def test_idents_are_normalised() -> None:
    assert normalise_ident(" ua-1234 ") == "UA1234"


# ---------------------------------------------------------------- failures


async def test_empty_list_is_not_found() -> None:
    fake = FakeAeroApi({"flights": [], "links": None, "num_pages": 1})

    with pytest.raises(ConnectorError) as caught:
        await status(fake, "XX999")

    assert caught.value.message == (
        "I couldn't find flight XX999 in the past few days or the next two. "
        "Check the airline code and number."
    )


async def test_not_a_flight_number_makes_no_request() -> None:
    fake = FakeAeroApi()

    with pytest.raises(ConnectorError, match="doesn't look like a flight number"):
        await status(fake, "the one to Paris")
    assert fake.requests == []


async def test_missing_key() -> None:
    fake = FakeAeroApi()
    tool = tools_for(fake, secrets=Secrets({}))["get_flight_status"]

    with pytest.raises(ConnectorError) as caught:
        await tool.func(flight="BA283")

    assert caught.value.message == (
        "Connect Flight status (FlightAware) first: python main.py connect flight_status"
    )
    assert fake.requests == []


@pytest.mark.parametrize("code", [401, 403])
async def test_key_refused(code: int) -> None:
    body = {"title": "Unauthorized", "reason": "UNAUTHORIZED", "detail": "Invalid API key"}
    fake = FakeAeroApi(lambda _r: httpx.Response(code, json={**body, "status": code}))

    with pytest.raises(ConnectorError) as caught:
        await status(fake)

    assert caught.value.message == (
        "FlightAware didn't accept your API key. Reconnect it: python main.py connect flight_status"
    )


async def test_documented_400_detail() -> None:
    body = {
        "title": "Invalid argument",
        "reason": "INVALID_ARGUMENT",
        "detail": "Invalid value for date range",
        "status": 400,
    }
    fake = FakeAeroApi(lambda _r: httpx.Response(400, json=body))

    with pytest.raises(ConnectorError) as caught:
        await status(fake)

    assert caught.value.message == "FlightAware couldn't look that up: Invalid value for date range"


async def test_rate_limit() -> None:
    fake = FakeAeroApi(lambda _r: httpx.Response(429, json={"title": "Too many requests"}))

    with pytest.raises(ConnectorError) as caught:
        await status(fake)

    assert caught.value.message == "FlightAware is rate-limiting requests; try again in a minute."


async def test_server_error() -> None:
    fake = FakeAeroApi(lambda _r: httpx.Response(503, text="down"))

    with pytest.raises(
        ConnectorError, match=r"FlightAware is having trouble right now \(HTTP 503\)"
    ):
        await status(fake)


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(ConnectorError, match=r"^FlightAware did not answer in time\.$"):
        await status(FakeAeroApi(hang))


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, json=[]),
        httpx.Response(200, json={"links": None}),
        httpx.Response(200, json={"flights": [{"status": "Scheduled"}]}),
        httpx.Response(200, json={"flights": [{**TOMORROW, "scheduled_out": "soon"}]}),
    ],
    ids=["text", "array", "no-flights", "no-ident", "bad-time"],
)
async def test_malformed(reply: httpx.Response) -> None:
    fake = FakeAeroApi(lambda _r: reply)

    with pytest.raises(ConnectorError) as caught:
        await status(fake)

    assert caught.value.message == "FlightAware sent flight details I couldn't read."


# ---------------------------------------------------------------- metadata


def test_metadata_and_progress() -> None:
    tools = tools_for(FakeAeroApi())
    assert sorted(tools) == ["get_flight_status"]
    assert (
        render_progress(tools["get_flight_status"].progress, {"flight": "BA283"})
        == "Checking the status of flight BA283..."
    )
    assert CONNECTOR.requires_secrets == ("flightaware.api_key",)
    assert "flightaware.com" in CONNECTOR.key_help


async def test_endpoint_override() -> None:
    fake = FakeAeroApi()
    tool = tools_for(fake, endpoints={"flightaware": "http://127.0.0.1:9000/aeroapi/"})[
        "get_flight_status"
    ]

    await tool.func(flight="BA283")

    assert str(fake.requests[0].url) == "http://127.0.0.1:9000/aeroapi/flights/BA283?max_pages=1"
