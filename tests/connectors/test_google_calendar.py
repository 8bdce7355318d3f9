"""Google Calendar against a fake speaking the Calendar API's events.list / events.insert JSON.

The clock is fixed at Saturday 21 November 2026, 09:30 in Paris (08:30 UTC).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorError, ToolDef, render_progress
from src.connectors.google_calendar import CONNECTOR, SCOPES
from src.services.secrets import SecretStore
from tests.fakes.google_apis import (
    FakeGoogle,
    connected_store,
    google_context,
    insufficient_scopes,
    rate_limited,
    tools,
    user_rate_limited_403,
)

EVENTS = "/calendar/v3/calendars/primary/events"


def event(summary: str, start: dict[str, str], end: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "calendar#event",
        "etag": '"3391234567890000"',
        "id": f"evt{abs(hash(summary)) % 10_000}",
        "status": "confirmed",
        "htmlLink": "https://www.google.com/calendar/event?eid=abc",
        "created": "2026-11-01T10:00:00.000Z",
        "updated": "2026-11-01T10:00:00.000Z",
        "summary": summary,
        "creator": {"email": "me@example.com", "self": True},
        "organizer": {"email": "me@example.com", "self": True},
        "start": start,
        "end": end,
        "iCalUID": "abc@google.com",
        "sequence": 0,
        "reminders": {"useDefault": True},
        "eventType": "default",
        **extra,
    }


def listing(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "calendar#events",
        "etag": '"p32c9rbvgvsng0o"',
        "summary": "me@example.com",
        "description": "",
        "updated": "2026-11-20T17:00:00.000Z",
        "timeZone": "Europe/Paris",
        "accessRole": "owner",
        "defaultReminders": [{"method": "popup", "minutes": 10}],
        "items": list(items),
        **extra,
    }


STANDUP = event(
    "Standup",
    {"dateTime": "2026-11-21T10:00:00+01:00", "timeZone": "Europe/Paris"},
    {"dateTime": "2026-11-21T10:15:00+01:00", "timeZone": "Europe/Paris"},
    location="Room 4",
)
MARKET = event("Market day", {"date": "2026-11-21"}, {"date": "2026-11-22"})
CANCELLED = {**event("Old", {"date": "2026-11-21"}, {"date": "2026-11-22"}), "status": "cancelled"}
DINNER_UTC = event(
    "Dinner", {"dateTime": "2026-11-21T18:30:00Z"}, {"dateTime": "2026-11-21T20:00:00Z"}
)


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return connected_store(tmp_path)


def calendar(fake: FakeGoogle, store: SecretStore | None, **kwargs: Any) -> dict[str, ToolDef]:
    return tools(CONNECTOR.build_tools, google_context(fake, store, **kwargs))


# ---------------------------------------------------------------- listing


async def test_the_rest_of_today_in_the_users_time_zone(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", EVENTS, listing(MARKET, STANDUP, CANCELLED, DINNER_UTC))

    said = await calendar(fake, store)["list_events"].func()

    assert said.splitlines() == [
        "3 events for today:",
        "Saturday 21 November, all day: Market day",
        "Saturday 21 November, 10:00 AM to 10:15 AM: Standup (Room 4)",
        "Saturday 21 November, 7:30 PM to 9:00 PM: Dinner",
    ]
    request = fake.last(EVENTS)
    assert request.url.host == "www.googleapis.com"
    assert dict(request.url.params) == {
        "timeMin": "2026-11-21T09:30:00+01:00",
        "timeMax": "2026-11-22T00:00:00+01:00",
        "singleEvents": "true",
        "orderBy": "startTime",
        "maxResults": "20",
        "timeZone": "Europe/Paris",
    }


@pytest.mark.parametrize(
    ("day", "days", "time_min", "time_max", "period"),
    [
        (
            "tomorrow",
            1,
            "2026-11-22T00:00:00+01:00",
            "2026-11-23T00:00:00+01:00",
            "Sunday 22 November",
        ),
        (
            "friday",
            1,
            "2026-11-27T00:00:00+01:00",
            "2026-11-28T00:00:00+01:00",
            "Friday 27 November",
        ),
        ("saturday", 1, "2026-11-21T00:00:00+01:00", "2026-11-22T00:00:00+01:00", "today"),
        (
            "2026-11-23",
            7,
            "2026-11-23T00:00:00+01:00",
            "2026-11-30T00:00:00+01:00",
            "the 7 days from Monday 23 November",
        ),
    ],
)
async def test_a_given_day_starts_at_its_midnight(
    store: SecretStore, day: str, days: int, time_min: str, time_max: str, period: str
) -> None:
    fake = FakeGoogle().on("GET", EVENTS, listing())

    said = await calendar(fake, store)["list_events"].func(day=day, days=days)

    assert said == f"Nothing on your calendar for {period}."
    params = fake.last(EVENTS).url.params
    assert (params["timeMin"], params["timeMax"]) == (time_min, time_max)


async def test_another_time_zone_setting_moves_the_window(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", EVENTS, listing(DINNER_UTC))

    said = await calendar(fake, store, timezone="America/New_York")["list_events"].func()

    params = fake.last(EVENTS).url.params
    assert params["timeMin"] == "2026-11-21T03:30:00-05:00"
    assert params["timeZone"] == "America/New_York"
    assert "Saturday 21 November, 1:30 PM to 3:00 PM: Dinner" in said


async def test_more_pages_are_mentioned(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", EVENTS, listing(STANDUP, nextPageToken="CigKGjc"))
    said = await calendar(fake, store)["list_events"].func(days=3)
    assert said.startswith("1 event for the 3 days from Saturday 21 November (there may be more):")


async def test_an_unknown_day_is_asked_about_without_a_request(store: SecretStore) -> None:
    fake = FakeGoogle()
    with pytest.raises(ConnectorError, match="couldn't tell which day “someday” is"):
        await calendar(fake, store)["list_events"].func(day="someday")
    assert fake.requests == []


# ---------------------------------------------------------------- creating


def created(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(200, json=event(body["summary"], body["start"], body["end"], id="new1"))


async def test_create_event_with_attendees(store: SecretStore) -> None:
    fake = FakeGoogle().on("POST", EVENTS, created)

    said = await calendar(fake, store)["create_event"].func(
        title="Lunch with Ana",
        start="tomorrow 12:30",
        end="13:30",
        attendees="ana@example.com, bob@example.org",
        location="Café Lou",
    )

    assert said == (
        "Added “Lunch with Ana” on Sunday 22 November, 12:30 PM to 1:30 PM, and invited "
        "ana@example.com, bob@example.org."
    )
    request = fake.last(EVENTS)
    assert request.url.params["sendUpdates"] == "all"
    assert json.loads(request.content) == {
        "summary": "Lunch with Ana",
        "start": {"dateTime": "2026-11-22T12:30:00+01:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2026-11-22T13:30:00+01:00", "timeZone": "Europe/Paris"},
        "attendees": [{"email": "ana@example.com"}, {"email": "bob@example.org"}],
        "location": "Café Lou",
    }


async def test_create_event_alone_sends_no_invitations(store: SecretStore) -> None:
    fake = FakeGoogle().on("POST", EVENTS, created)

    said = await calendar(fake, store)["create_event"].func(
        title="Dentist", start="2026-11-24 3pm", end="2026-11-24 4pm"
    )

    assert said == "Added “Dentist” on Tuesday 24 November, 3:00 PM to 4:00 PM."
    request = fake.last(EVENTS)
    assert request.url.params["sendUpdates"] == "none"
    assert "attendees" not in json.loads(request.content)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"start": "tomorrow 3pm", "end": "tomorrow 2pm"}, "must end after it starts"),
        ({"start": "whenever", "end": "3pm"}, "couldn't understand the time “whenever”"),
        ({"start": "3pm", "end": "4pm", "attendees": "ana at example"}, "doesn't look like"),
        ({"start": "3pm", "end": "4pm", "title": "  "}, "needs a title"),
    ],
)
async def test_bad_events_are_refused_before_any_request(
    store: SecretStore, args: dict[str, str], words: str
) -> None:
    fake = FakeGoogle()
    with pytest.raises(ConnectorError, match=words):
        await calendar(fake, store)["create_event"].func(**{"title": "Call", **args})
    assert fake.requests == []


def test_creating_needs_approval_with_a_readback() -> None:
    by_name = calendar(FakeGoogle(), None)
    tool = by_name["create_event"]
    assert tool.side_effect and not by_name["list_events"].side_effect
    args = {"title": "Lunch", "start": "tomorrow noon", "end": "1pm", "attendees": "none"}
    assert render_progress(tool.readback, args) == (
        "Create the event 'Lunch' from tomorrow noon to 1pm; attendees: none"
    )
    assert CONNECTOR.oauth is not None and CONNECTOR.oauth.scopes == SCOPES


# ---------------------------------------------------------------- failures


async def test_a_401_is_retried_after_a_refresh(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", EVENTS, listing(STANDUP))
    fake.revoke_first_token()
    said = await calendar(fake, store)["list_events"].func()
    assert "Standup" in said
    assert len(fake.token_requests) == 1 and len(fake.requests) == 2


@pytest.mark.parametrize(
    ("reply", "message", "retryable"),
    [
        (
            insufficient_scopes("calendar-json.googleapis.com"),
            "Hark isn't allowed to use Google Calendar with your Google account. Connect again "
            "and allow Google Calendar access: python main.py connect google",
            False,
        ),
        (
            user_rate_limited_403(),
            "Google Calendar is rate-limiting requests; try again in a minute.",
            True,
        ),
        (rate_limited(), "Google Calendar is rate-limiting requests; try again in a minute.", True),
        (
            httpx.Response(502, text="Bad Gateway"),
            "Google Calendar is having trouble right now (HTTP 502).",
            True,
        ),
        (
            httpx.Response(200, text="{'items': truncated"),
            "Google Calendar sent an answer I couldn't read.",
            True,
        ),
        (
            httpx.Response(200, json=listing({"summary": "x", "start": {}, "end": {}})),
            "Google Calendar sent an answer I couldn't read.",
            True,
        ),
    ],
    ids=["scopes", "403-rate", "429", "502", "bad-json", "bad-event"],
)
async def test_failures_are_sentences(
    store: SecretStore, reply: httpx.Response, message: str, retryable: bool
) -> None:
    fake = FakeGoogle().on("GET", EVENTS, reply)
    with pytest.raises(ConnectorError) as caught:
        await calendar(fake, store)["list_events"].func()
    assert caught.value.message == message
    assert caught.value.retryable is retryable


async def test_not_connected(tmp_path: Path) -> None:
    with pytest.raises(
        ConnectorError, match=r"^Connect Google first: python main.py connect google$"
    ):
        await calendar(FakeGoogle(), None)["list_events"].func()
