"""Train (and other public transport) connections from the Swiss transport.opendata.ch API.

Why this API: it needs no key, its JSON is documented (https://transport.opendata.ch/docs.html)
and has been stable for over a decade, and it covers every Swiss operator plus cross-border
trains (Milan, Munich, Paris, Stuttgart, ...), with real-time delays and platforms. The German
transport.rest instances were the alternative; they are community-run best-effort mirrors of
Deutsche Bahn's changing internal APIs, so a keyless default that keeps working won here. A
self-hosted copy of the same service can be used through the ``transport_opendata`` endpoint.

One request does it all: ``/v1/connections`` resolves both station names itself and returns
the next few connections; times carry their UTC offset and are said in the station's time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    request_json,
)
from src.connectors.clock import local_zone, parse_clock_time, spoken_clock, spoken_date

NAME = "trains"
SERVICE = "The Swiss timetable service"
DEFAULT_BASE_URL = "https://transport.opendata.ch/v1"
REQUEST_TIMEOUT = httpx.Timeout(15.0)
DEFAULT_RESULTS = 4
MAX_RESULTS = 6  # the API's documented maximum for ``limit``

_DURATION = re.compile(r"^(\d+)d(\d{2}):(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class Connection:
    """One way from A to B: when it leaves and arrives, and what it rides."""

    origin: str
    destination: str
    departs: datetime
    arrives: datetime
    delay_minutes: int
    platform: str | None
    transfers: int
    products: tuple[str, ...]
    direction: str | None
    duration_minutes: int | None


def parse_duration(text: str) -> int | None:
    """Minutes in the API's "00d01:15:00" durations."""
    match = _DURATION.match(text or "")
    if not match:
        return None
    days, hours, minutes, _seconds = (int(g) for g in match.groups())
    return days * 1440 + hours * 60 + minutes


def _moment(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _station_name(stop: Mapping[str, Any]) -> str:
    station = stop.get("station") or stop.get("location") or {}
    return str(station.get("name") or "?")


def parse_connections(payload: Mapping[str, Any]) -> list[Connection]:
    found = []
    for item in payload["connections"]:
        start, end = item["from"], item["to"]
        departs = _moment(start["departure"])
        prognosis = start.get("prognosis") or {}
        delay = start.get("delay")
        if delay is None and prognosis.get("departure"):
            delay = int((_moment(prognosis["departure"]) - departs).total_seconds() // 60)
        platform = prognosis.get("platform") or start.get("platform")
        rides = [s for s in item.get("sections") or [] if s.get("journey")]
        direction = rides[0]["journey"].get("to") if rides else None
        products = tuple(str(p) for p in item.get("products") or [] if p)
        found.append(
            Connection(
                origin=_station_name(start),
                destination=_station_name(end),
                departs=departs,
                arrives=_moment(end["arrival"]),
                delay_minutes=int(delay or 0),
                platform=str(platform) if platform else None,
                transfers=int(item.get("transfers") or 0),
                products=products,
                direction=str(direction) if direction else None,
                duration_minutes=parse_duration(str(item.get("duration") or "")),
            )
        )
    return found


def _spoken_minutes(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def format_connections(connections: Sequence[Connection], today: date) -> str:
    """A line per connection: time, line and direction, platform, delay, arrival, changes."""
    first = connections[0]
    lines = [f"Next connections from {first.origin} to {first.destination}:"]
    for c in connections:
        when = spoken_clock(c.departs)
        if c.departs.date() != today:
            when += f" on {spoken_date(c.departs.date())}"
        ride = " then ".join(c.products) if c.products else "a connection"
        line = f"{when}, {ride}"
        if c.direction and len(c.products) <= 1:
            line += f" towards {c.direction}"
        if c.platform:
            line += f", platform {c.platform}"
        if c.delay_minutes > 0:
            line += f", {c.delay_minutes} min late"
        line += f"; arrives {spoken_clock(c.arrives)}"
        details = []
        if c.duration_minutes is not None:
            details.append(_spoken_minutes(c.duration_minutes))
        if c.transfers == 0:
            details.append("direct")
        else:
            details.append(f"{c.transfers} change{'s' if c.transfers != 1 else ''}")
        lines.append(f"{line} ({', '.join(details)}).")
    return "\n".join(lines)


class SwissTransportClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str = DEFAULT_BASE_URL) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def connections(
        self,
        origin: str,
        destination: str,
        *,
        day: date | None,
        at: str | None,
        arrive_by: bool,
        limit: int,
    ) -> dict[str, Any]:
        params: dict[str, str | int] = {"from": origin, "to": destination, "limit": limit}
        if day is not None:
            params["date"] = day.isoformat()
        if at is not None:
            params["time"] = at
        if arrive_by:
            params["isArrivalTime"] = 1
        return await request_json(
            self._http,
            SERVICE,
            "GET",
            f"{self._base}/connections",
            params=params,
            timeout=REQUEST_TIMEOUT,
            reason=_error_message,
            malformed=_malformed().message,
        )


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent a timetable I couldn't read.", retryable=True)


def _error_message(response: httpx.Response) -> str | None:
    """Documented error body: {"errors": [{"message": "..."}]}."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message")
        return str(message).strip() if message else None
    return None


def _now_local(settings: Any) -> datetime:
    now = getattr(settings, "now", None)
    moment = now() if callable(now) else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(local_zone(settings).zone)


def _parse_day(text: str, today: date) -> date | None:
    cleaned = text.strip().lower()
    if not cleaned:
        return None
    if cleaned == "today":
        return today
    if cleaned == "tomorrow":
        return today + timedelta(days=1)
    try:
        return date.fromisoformat(cleaned)
    except ValueError as exc:
        raise ConnectorError(
            f"I couldn't understand the date {text!r}; use year-month-day, like 2026-12-01."
        ) from exc


def _parse_time(text: str) -> str | None:
    if not text.strip():
        return None
    try:
        return parse_clock_time(text).strftime("%H:%M")
    except ValueError as exc:
        raise ConnectorError(
            f"I couldn't understand the time {text!r}; try something like 17:30 or 5pm."
        ) from exc


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = SwissTransportClient(ctx.http, ctx.endpoint("transport_opendata", DEFAULT_BASE_URL))

    async def find_train_connections(
        origin: str,
        destination: str,
        date: str = "",
        time: str = "",
        arrive_by: bool = False,
        count: int = DEFAULT_RESULTS,
    ) -> str:
        """Find the next train, tram, bus or boat connections between two stations.

        Covers Switzerland and trains across its borders (e.g. Zurich to Milan or Munich).

        Args:
            origin: Where to leave from: a station or place name, e.g. "Zürich HB" or "Bern".
            destination: Where to go: a station or place name, e.g. "Geneva Airport".
            date: Travel day as year-month-day, "today" or "tomorrow"; empty for today.
            time: Time of day, e.g. "17:30" or "5pm"; empty for now.
            arrive_by: True if the time is when the user wants to arrive, not leave.
            count: How many connections to list (1 to 6).
        """
        start, end = origin.strip(), destination.strip()
        if not start or not end:
            raise ConnectorError("I need both where you're leaving from and where you're going.")
        now = _now_local(ctx.settings)
        day = _parse_day(date, now.date())
        at = _parse_time(time)
        if day is not None and day < now.date():
            raise ConnectorError(f"{spoken_date(day, year=True)} has already passed.")
        limit = max(1, min(MAX_RESULTS, int(count)))
        payload = await client.connections(
            start, end, day=day, at=at, arrive_by=arrive_by, limit=limit
        )
        try:
            connections = parse_connections(payload)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise _malformed() from exc
        if not connections:
            if payload.get("from") is None:
                return f"I couldn't find a station called {start}."
            if payload.get("to") is None:
                return f"I couldn't find a station called {end}."
            return f"I found no connections from {start} to {end} at that time."
        return format_connections(connections[:limit], now.date())

    return [
        ToolDef(
            find_train_connections,
            progress="Looking up connections from {origin} to {destination}...",
        )
    ]


CONNECTOR = Connector(
    name=NAME,
    title="Trains (Swiss timetable)",
    description=(
        "Public transport connections in Switzerland and across its borders: the next trains, "
        "trams, buses and boats between two places, with platforms, delays and changes."
    ),
    instructions=(
        "You find public transport connections with your tool; it covers Switzerland and "
        "trains from there to neighbouring countries. Pass station or town names as the user "
        "says them. Answer with the first one or two connections in a sentence or two: time, "
        "line, platform and any delay, and the arrival time. If a station isn't found, ask the "
        "user to name it differently. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "When's the next train from Zurich to Bern?",
        "How do I get from Lausanne to Geneva Airport by 9am tomorrow?",
    ),
    followups=(
        "And the one after that from {origin} to {destination}?",
        "What about the way back from {destination} to {origin}?",
    ),
)
