"""Google Calendar: what is coming up, and adding events to the user's primary calendar.

Times are the user's: the window of ``events.list`` is computed in the configured (or the
system's) time zone, sent as RFC 3339 with that offset, and ``timeZone`` asks Google to answer
in it too; new events carry the IANA zone name so they stay right across daylight-saving
changes. Creating an event (and inviting people) is a side effect, approved after a read-back.

Scope: ``calendar.events`` (events only; no calendar settings, sharing or deletion of
calendars).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef
from src.connectors.clock import (
    local_zone,
    parse_clock_time,
    parse_date,
    parse_when,
    spoken_clock,
    spoken_date,
)
from src.connectors.google_api import KEY_HELP, GoogleApi, google_oauth, unreadable

SERVICE = "Google Calendar"
DEFAULT_BASE_URL = "https://www.googleapis.com/calendar/v3"
SCOPES = ("https://www.googleapis.com/auth/calendar.events",)
OAUTH = google_oauth(*SCOPES)
MAX_EVENTS = 20
MAX_DAYS = 31
NO_ATTENDEES = frozenset({"", "none", "nobody", "no one", "-"})
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _now(settings: Any) -> datetime:
    now = getattr(settings, "now", None)
    moment = now() if callable(now) else datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def zone_name(zone: tzinfo) -> str | None:
    """The IANA name of a zone, if it has one (``ZoneInfo.key``)."""
    key = getattr(zone, "key", None)
    return key if isinstance(key, str) and key else None


def parse_day(text: str, today: date) -> date:
    """ "today", "tomorrow", a weekday (the next one, today included) or an ISO date."""
    word = text.strip().lower()
    if word in ("", "today"):
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    word = word.removeprefix("next ").removeprefix("this ")
    if word in _WEEKDAYS:
        return today + timedelta(days=(_WEEKDAYS.index(word) - today.weekday()) % 7)
    try:
        return parse_date(text)
    except ValueError:
        raise ConnectorError(
            f"I couldn't tell which day “{text}” is; say today, tomorrow, a weekday or a date "
            "like 2026-11-23."
        ) from None


def _parse_moment(text: str, day: date, zone: tzinfo) -> datetime:
    try:
        moment = parse_when(text, day)
    except ValueError:
        raise ConnectorError(
            f"I couldn't understand the time “{text}”; say something like “tomorrow 3pm” or "
            "“2026-11-23 15:00”."
        ) from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment.astimezone(zone)


def _parse_end(text: str, begins: datetime, today: date, zone: tzinfo) -> datetime:
    """A bare time ("4pm") is on the start's day; anything else reads as a start would."""
    try:
        clock_time = parse_clock_time(text)
    except ValueError:
        return _parse_moment(text, today, zone)
    return datetime.combine(begins.date(), clock_time, zone)


def split_attendees(attendees: str) -> list[str]:
    """Email addresses from "a@x.org, b@y.org"; "none" means nobody."""
    if attendees.strip().lower() in NO_ATTENDEES:
        return []
    found = [a.strip() for a in re.split(r"[,;\s]+", attendees) if a.strip()]
    bad = [a for a in found if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", a)]
    if bad:
        raise ConnectorError(f"“{bad[0]}” doesn't look like an email address.")
    return found


def _event_time(value: Any, zone: tzinfo) -> tuple[datetime | None, date]:
    """(moment, day) of an event's ``start``/``end``: ``dateTime`` or an all-day ``date``."""
    if not isinstance(value, dict):
        raise ValueError("no time")
    if value.get("dateTime"):
        moment = datetime.fromisoformat(str(value["dateTime"])).astimezone(zone)
        return moment, moment.date()
    return None, date.fromisoformat(str(value["date"]))


def describe_event(event: Mapping[str, Any], zone: tzinfo) -> str:
    title = str(event.get("summary") or "(no title)")
    start, start_day = _event_time(event.get("start"), zone)
    end, _ = _event_time(event.get("end"), zone)
    if start is None:
        when = f"{spoken_date(start_day)}, all day"
    elif end is not None and end.date() == start.date():
        when = f"{spoken_date(start_day)}, {spoken_clock(start)} to {spoken_clock(end)}"
    else:
        when = f"{spoken_date(start_day)}, {spoken_clock(start)}"
    place = f" ({event['location']})" if event.get("location") else ""
    return f"{when}: {title}{place}"


def describe_period(first: date, span: int, today: date) -> str:
    """ "today", "Friday 27 November", "the 7 days from Saturday 21 November"."""
    if span == 1:
        return "today" if first == today else spoken_date(first)
    return f"the {span} days from {spoken_date(first)}"


def build_tools(ctx: ConnectorContext) -> Sequence[ToolDef]:
    api = GoogleApi(ctx, OAUTH, SERVICE)
    base = f"{ctx.endpoint('google_calendar', DEFAULT_BASE_URL)}/calendars/primary/events"

    async def list_events(day: str = "", days: int = 1) -> str:
        """List the user's calendar events, from now (or from the start of a given day).

        Args:
            day: Where to start: empty for right now, "today", "tomorrow", a weekday such as
                "friday", or a date like "2026-11-23".
            days: How many days to cover (1 to 31).
        """
        zone = local_zone(ctx.settings).zone
        now = _now(ctx.settings).astimezone(zone)
        span = max(1, min(MAX_DAYS, int(days)))
        first = parse_day(day, now.date())
        start = now if not day.strip() else datetime.combine(first, time(0), zone)
        end = datetime.combine(first + timedelta(days=span), time(0), zone)
        params: dict[str, Any] = {
            "timeMin": start.isoformat(),
            "timeMax": end.isoformat(),
            "singleEvents": "true",
            "orderBy": "startTime",
            "maxResults": MAX_EVENTS,
        }
        if name := zone_name(zone):
            params["timeZone"] = name
        listing = await api.get_json(base, params)
        items = listing.get("items", [])
        if not isinstance(items, list):
            raise unreadable(SERVICE)
        events = [e for e in items if isinstance(e, dict) and e.get("status") != "cancelled"]
        period = describe_period(first, span, now.date())
        if not events:
            return f"Nothing on your calendar for {period}."
        try:
            lines = [describe_event(e, zone) for e in events]
        except (KeyError, TypeError, ValueError) as exc:
            raise unreadable(SERVICE) from exc
        more = " (there may be more)" if listing.get("nextPageToken") else ""
        count = f"{len(lines)} event{'s' if len(lines) != 1 else ''}"
        return f"{count} for {period}{more}:\n" + "\n".join(lines)

    async def create_event(
        title: str, start: str, end: str, attendees: str = "none", location: str = ""
    ) -> str:
        """Add an event to the user's primary Google Calendar, inviting attendees by email.

        Args:
            title: What the event is called.
            start: When it starts, e.g. "tomorrow 3pm" or "2026-11-23 15:00".
            end: When it ends, e.g. "tomorrow 4pm" or "16:00" (the start's day).
            attendees: Email addresses to invite, separated by commas, or "none".
            location: Where it happens (optional).
        """
        if not title.strip():
            raise ConnectorError("An event needs a title.")
        zone = local_zone(ctx.settings).zone
        today = _now(ctx.settings).astimezone(zone).date()
        begins = _parse_moment(start, today, zone)
        ends = _parse_end(end, begins, today, zone)
        if ends <= begins:
            raise ConnectorError("The event must end after it starts.")
        guests = split_attendees(attendees)
        name = zone_name(zone)

        def stamp(moment: datetime) -> dict[str, str]:
            return {"dateTime": moment.isoformat(), **({"timeZone": name} if name else {})}

        body: dict[str, Any] = {
            "summary": title.strip(),
            "start": stamp(begins),
            "end": stamp(ends),
        }
        if guests:
            body["attendees"] = [{"email": g} for g in guests]
        if location.strip():
            body["location"] = location.strip()
        params = {"sendUpdates": "all" if guests else "none"}
        created = await api.post_json(base, body, params)
        if not created.get("id"):
            raise ConnectorError(
                "Google Calendar didn't confirm the event; check your calendar before trying again."
            )
        same_day = ends.date() == begins.date()
        until = (
            spoken_clock(ends) if same_day else f"{spoken_date(ends.date())} {spoken_clock(ends)}"
        )
        text = (
            f"Added “{title.strip()}” on {spoken_date(begins.date())}, "
            f"{spoken_clock(begins)} to {until}"
        )
        if guests:
            text += ", and invited " + ", ".join(guests)
        return text + "."

    return [
        ToolDef(list_events, progress="Checking your calendar..."),
        ToolDef(
            create_event,
            progress="Adding “{title}” to your calendar...",
            side_effect=True,
            readback="Create the event '{title}' from {start} to {end}; attendees: {attendees}",
        ),
    ]


CONNECTOR = Connector(
    name="google_calendar",
    title="Google Calendar",
    description=(
        "The user's Google Calendar schedule: upcoming events, meetings and appointments, "
        "whether they are free or busy at a time, and adding new events."
    ),
    instructions=(
        "You manage the user's Google Calendar. For questions about their schedule call "
        "list_events (empty day means from now on; days covers several days). Answer in one "
        "or two spoken sentences with times as people say them; don't read lists or ids. To "
        "add an event, work out the title, start and end (ask if the end is unclear; an hour "
        "is a fair default for meetings) and call create_event; Hark reads it back and asks "
        "the user first. If they decline, say nothing was added. If a tool reports a problem, "
        "say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What's on my calendar today?",
        "Am I free on Friday afternoon?",
        "Add lunch with Ana tomorrow from noon to 1pm.",
    ),
    followups=("What about tomorrow?", "And the rest of the week?"),
    key_help=KEY_HELP,
    oauth=OAUTH,
)
