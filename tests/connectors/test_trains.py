"""The trains connector against a fake transport.opendata.ch speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.trains import CONNECTOR, parse_duration

HOST = "transport.opendata.ch"
NOW = datetime(2026, 11, 21, 13, 30, tzinfo=UTC)  # 14:30 in Zurich
SETTINGS = SimpleNamespace(timezone="Europe/Zurich", now=lambda: NOW)


def station(station_id: str, name: str, x: float, y: float) -> dict[str, Any]:
    return {
        "id": station_id,
        "name": name,
        "score": None,
        "coordinate": {"type": "WGS84", "x": x, "y": y},
        "distance": None,
    }


ZURICH = station("8503000", "Zürich HB", 47.377847, 8.540502)
BADEN = station("8503504", "Baden", 47.476417, 8.307693)
BRUGG = station("8500309", "Brugg AG", 47.480843, 8.208823)


def stop(
    where: dict[str, Any],
    *,
    departure: str | None = None,
    arrival: str | None = None,
    delay: int | None = None,
    platform: str | None = None,
    prognosis: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "station": where,
        "arrival": arrival,
        "arrivalTimestamp": None,
        "departure": departure,
        "departureTimestamp": None,
        "delay": delay,
        "platform": platform,
        "prognosis": prognosis
        or {
            "platform": None,
            "arrival": None,
            "departure": None,
            "capacity1st": None,
            "capacity2nd": None,
        },
        "realtimeAvailability": None,
        "location": where,
    }


def section(
    name: str, category: str, number: str, to: str, dep: dict[str, Any], arr: dict[str, Any]
) -> dict[str, Any]:
    return {
        "journey": {
            "name": name,
            "category": category,
            "subcategory": None,
            "categoryCode": None,
            "number": number,
            "operator": "SBB",
            "to": to,
            "passList": [dep, arr],
            "capacity1st": None,
            "capacity2nd": None,
        },
        "walk": None,
        "departure": dep,
        "arrival": arr,
    }


DIRECT_DEP = stop(ZURICH, departure="2026-11-21T14:36:00+0100", platform="17")
DIRECT_ARR = stop(BADEN, arrival="2026-11-21T14:51:00+0100")
LATE_DEP = stop(
    ZURICH,
    departure="2026-11-21T14:44:00+0100",
    delay=3,
    platform="41/42",
    prognosis={
        "platform": "43",
        "arrival": None,
        "departure": "2026-11-21T14:47:00+0100",
        "capacity1st": 1,
        "capacity2nd": 2,
    },
)
LATE_ARR = stop(BADEN, arrival="2026-11-21T15:12:00+0100")
CHANGE_DEP = stop(ZURICH, departure="2026-11-21T14:50:00+0100", platform="3")
CHANGE_MID_ARR = stop(BRUGG, arrival="2026-11-21T15:20:00+0100")
CHANGE_MID_DEP = stop(BRUGG, departure="2026-11-21T15:25:00+0100", platform="2")
CHANGE_ARR = stop(BADEN, arrival="2026-11-21T15:35:00+0100")

PAYLOAD: dict[str, Any] = {
    "connections": [
        {
            "from": DIRECT_DEP,
            "to": DIRECT_ARR,
            "duration": "00d00:15:00",
            "transfers": 0,
            "service": None,
            "products": ["IR"],
            "capacity1st": None,
            "capacity2nd": None,
            "sections": [section("IR 1974", "IR", "IR 1974", "Basel SBB", DIRECT_DEP, DIRECT_ARR)],
        },
        {
            "from": LATE_DEP,
            "to": LATE_ARR,
            "duration": "00d00:28:00",
            "transfers": 0,
            "service": None,
            "products": ["S12"],
            "capacity1st": None,
            "capacity2nd": None,
            "sections": [section("S12 19254", "S", "12", "Brugg AG", LATE_DEP, LATE_ARR)],
        },
        {
            "from": CHANGE_DEP,
            "to": CHANGE_ARR,
            "duration": "00d00:45:00",
            "transfers": 1,
            "service": None,
            "products": ["IC 5", "S19"],
            "capacity1st": None,
            "capacity2nd": None,
            "sections": [
                section("IC 5 811", "IC", "5", "Geneve-Aeroport", CHANGE_DEP, CHANGE_MID_ARR),
                {
                    "journey": None,
                    "walk": {"duration": None},
                    "departure": CHANGE_MID_ARR,
                    "arrival": CHANGE_MID_DEP,
                },
                section("S19 18955", "S", "19", "Dietikon", CHANGE_MID_DEP, CHANGE_ARR),
            ],
        },
    ],
    "from": ZURICH,
    "to": BADEN,
    "stations": {"from": [ZURICH], "to": [BADEN]},
}

Handler = Callable[[httpx.Request], httpx.Response]


class FakeTimetable:
    def __init__(self, answer: Handler | dict[str, Any] = PAYLOAD) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answer):
            return self.answer(request)
        return httpx.Response(200, json=self.answer)


def tools_for(fake: FakeTimetable, **kw: Any) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(http=http, settings=SETTINGS, **kw)
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def find(fake: FakeTimetable, **kw: Any) -> str:
    args: dict[str, Any] = {"origin": "Zürich HB", "destination": "Baden"}
    args.update(kw)
    return await tools_for(fake)["find_train_connections"].func(**args)


async def test_next_connections_in_station_time() -> None:
    fake = FakeTimetable()

    said = await find(fake)

    assert said.splitlines() == [
        "Next connections from Zürich HB to Baden:",
        "2:36 PM, IR towards Basel SBB, platform 17; arrives 2:51 PM (15 min, direct).",
        "2:44 PM, S12 towards Brugg AG, platform 43, 3 min late; arrives 3:12 PM (28 min, direct).",
        "2:50 PM, IC 5 then S19, platform 3; arrives 3:35 PM (45 min, 1 change).",
    ]
    (request,) = fake.requests
    assert request.url.host == HOST
    assert request.url.path == "/v1/connections"
    assert dict(request.url.params) == {"from": "Zürich HB", "to": "Baden", "limit": "4"}


async def test_date_time_and_arrival_are_sent() -> None:
    fake = FakeTimetable()

    await find(fake, date="tomorrow", time="9am", arrive_by=True, count=9)

    params = fake.requests[0].url.params
    assert params["date"] == "2026-11-22"
    assert params["time"] == "09:00"
    assert params["isArrivalTime"] == "1"
    assert params["limit"] == "6"


async def test_other_days_are_named() -> None:
    later = {
        **PAYLOAD,
        "connections": [
            {
                **PAYLOAD["connections"][0],
                "from": stop(ZURICH, departure="2026-11-23T07:02:00+0100", platform="8"),
            }
        ],
    }

    said = await find(FakeTimetable(later), date="2026-11-23")

    assert "7:02 AM on Monday 23 November, IR" in said


@pytest.mark.parametrize(
    ("payload", "sentence"),
    [
        ({"connections": [], "from": None, "to": BADEN}, "I couldn't find a station called Xyz."),
        (
            {"connections": [], "from": ZURICH, "to": None},
            "I couldn't find a station called Baden.",
        ),
        (
            {"connections": [], "from": ZURICH, "to": BADEN},
            "I found no connections from Xyz to Baden at that time.",
        ),
    ],
)
async def test_nothing_found(payload: dict[str, Any], sentence: str) -> None:
    said = await find(FakeTimetable(payload), origin="Xyz")

    assert said == sentence


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        ({"origin": " "}, "I need both where you're leaving from and where you're going."),
        ({"date": "someday"}, "I couldn't understand the date 'someday'"),
        ({"time": "teatime"}, "I couldn't understand the time 'teatime'"),
        ({"date": "2026-11-01"}, "Sunday 1 November 2026 has already passed."),
    ],
)
async def test_bad_input_makes_no_request(args: dict[str, Any], sentence: str) -> None:
    fake = FakeTimetable()

    with pytest.raises(ConnectorError) as caught:
        await find(fake, **args)

    assert sentence in caught.value.message
    assert fake.requests == []


def test_durations() -> None:
    assert parse_duration("00d01:15:00") == 75
    assert parse_duration("01d00:05:00") == 1445
    assert parse_duration("soon") is None


# ---------------------------------------------------------------- failures


async def test_documented_error_message_is_relayed() -> None:
    body = {"errors": [{"message": "Invalid date format"}]}
    fake = FakeTimetable(lambda _r: httpx.Response(400, json=body))

    with pytest.raises(ConnectorError) as caught:
        await find(fake)

    assert caught.value.message == (
        "The Swiss timetable service couldn't answer that: Invalid date format"
    )


async def test_rate_limit() -> None:
    body = {"errors": [{"message": "Rate limit of 3 requests per second exceeded"}]}
    fake = FakeTimetable(lambda _r: httpx.Response(429, json=body))

    with pytest.raises(ConnectorError) as caught:
        await find(fake)

    assert caught.value.message == (
        "The Swiss timetable service is rate-limiting requests; try again in a minute."
    )


@pytest.mark.parametrize("status", [401, 403])
async def test_refused(status: int) -> None:
    fake = FakeTimetable(lambda _r: httpx.Response(status, text="no"))

    with pytest.raises(ConnectorError, match=r"refused the request \(not authorised\)"):
        await find(fake)


async def test_server_error_with_documented_body() -> None:
    body = {"errors": [{"message": "HAFAS backend error"}]}
    fake = FakeTimetable(lambda _r: httpx.Response(500, json=body))

    with pytest.raises(ConnectorError) as caught:
        await find(fake)

    assert caught.value.message == (
        "The Swiss timetable service is having trouble right now (HTTP 500)."
    )
    assert caught.value.retryable


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ConnectorError, match=r"^The Swiss timetable service did not answer"):
        await find(FakeTimetable(hang))


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html></html>"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"stations": {}}),
        httpx.Response(200, json={"connections": [{"from": DIRECT_DEP}]}),
        httpx.Response(
            200, json={"connections": [{**PAYLOAD["connections"][0], "from": {"departure": "x"}}]}
        ),
    ],
    ids=["html", "array", "no-connections", "no-to", "bad-time"],
)
async def test_malformed(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await find(FakeTimetable(lambda _r: reply))

    assert caught.value.message == "The Swiss timetable service sent a timetable I couldn't read."


def test_metadata() -> None:
    tools = tools_for(FakeTimetable())
    assert sorted(tools) == ["find_train_connections"]
    assert (
        render_progress(
            tools["find_train_connections"].progress, {"origin": "Bern", "destination": "Thun"}
        )
        == "Looking up connections from Bern to Thun..."
    )
    assert CONNECTOR.requires_secrets == ()


async def test_endpoint_override() -> None:
    fake = FakeTimetable()
    tools = tools_for(fake, endpoints={"transport_opendata": "http://127.0.0.1:8080/v1"})

    await tools["find_train_connections"].func(origin="Bern", destination="Thun")

    assert str(fake.requests[0].url).startswith("http://127.0.0.1:8080/v1/connections?")
