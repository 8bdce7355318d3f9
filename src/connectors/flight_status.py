"""Live flight status from FlightAware AeroAPI (v4): times, gates and delays for one flight.

``GET /flights/{ident}`` answers with every recent and upcoming flight under that flight
number (a daily flight appears once per day), so the tool picks the one the user most likely
means: the one in the air, else the next departure, else the latest one, or the one on the
day asked about. Times come in UTC and are spoken in each airport's own time zone, which the
response names, because "lands at 1:20 PM" only helps in the local time of the airport.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    key_refused,
    request_json,
    require_secret,
)
from src.connectors.clock import spoken_clock, spoken_date

NAME = "flight_status"
TITLE = "Flight status (FlightAware)"
SERVICE = "FlightAware"
DEFAULT_BASE_URL = "https://aeroapi.flightaware.com/aeroapi"
API_KEY = "flightaware.api_key"
REQUEST_TIMEOUT = httpx.Timeout(15.0)
ON_TIME_MARGIN = timedelta(minutes=5)
RECENT_DEPARTURE = timedelta(hours=1)  # a flight that left under an hour ago is "the next" one

_IDENT = re.compile(r"^[A-Z0-9]{2,8}$")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Airport:
    code: str
    name: str
    city: str
    zone: tzinfo

    @property
    def label(self) -> str:
        return self.name or self.city or self.code


@dataclass(frozen=True)
class FlightLeg:
    """One operation of a flight number, with the OOOI times AeroAPI reports (UTC)."""

    ident: str
    operator: str
    status: str
    origin: Airport
    destination: Airport
    cancelled: bool
    diverted: bool
    scheduled_out: datetime | None
    estimated_out: datetime | None
    actual_out: datetime | None
    actual_off: datetime | None
    scheduled_in: datetime | None
    estimated_in: datetime | None
    actual_on: datetime | None
    actual_in: datetime | None
    departure_delay: int | None
    arrival_delay: int | None
    gate_origin: str | None
    gate_destination: str | None
    terminal_origin: str | None
    terminal_destination: str | None
    baggage_claim: str | None

    @property
    def departs(self) -> datetime | None:
        return self.actual_out or self.estimated_out or self.scheduled_out

    @property
    def in_the_air(self) -> bool:
        started = self.actual_off or self.actual_out
        return bool(started) and not (self.actual_on or self.actual_in) and not self.cancelled


def normalise_ident(text: str) -> str:
    """ "ba 283" -> "BA283"; "UAL-1234" -> "UAL1234"."""
    return re.sub(r"[\s\-]", "", text).upper()


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _seconds(value: Any) -> int | None:
    return None if value is None else int(value)


def _airport(data: Any) -> Airport:
    if not isinstance(data, Mapping):
        return Airport(code="?", name="", city="", zone=UTC)
    try:
        zone: tzinfo = ZoneInfo(str(data.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    code = str(data.get("code_iata") or data.get("code") or "?")
    return Airport(
        code=code, name=str(data.get("name") or ""), city=str(data.get("city") or ""), zone=zone
    )


def parse_flights(payload: Mapping[str, Any]) -> list[FlightLeg]:
    legs = []
    for item in payload["flights"]:
        legs.append(
            FlightLeg(
                ident=str(item.get("ident_iata") or item["ident"]),
                operator=str(item.get("operator_iata") or item.get("operator") or ""),
                status=str(item.get("status") or ""),
                origin=_airport(item.get("origin")),
                destination=_airport(item.get("destination")),
                cancelled=bool(item.get("cancelled")),
                diverted=bool(item.get("diverted")),
                scheduled_out=_time(item.get("scheduled_out")),
                estimated_out=_time(item.get("estimated_out")),
                actual_out=_time(item.get("actual_out")),
                actual_off=_time(item.get("actual_off")),
                scheduled_in=_time(item.get("scheduled_in")),
                estimated_in=_time(item.get("estimated_in")),
                actual_on=_time(item.get("actual_on")),
                actual_in=_time(item.get("actual_in")),
                departure_delay=_seconds(item.get("departure_delay")),
                arrival_delay=_seconds(item.get("arrival_delay")),
                gate_origin=_text(item.get("gate_origin")),
                gate_destination=_text(item.get("gate_destination")),
                terminal_origin=_text(item.get("terminal_origin")),
                terminal_destination=_text(item.get("terminal_destination")),
                baggage_claim=_text(item.get("baggage_claim")),
            )
        )
    return legs


def choose_leg(legs: Sequence[FlightLeg], now: datetime, day: date | None) -> FlightLeg | None:
    """The operation the user most likely means (see the module docstring)."""
    dated = [leg for leg in legs if leg.departs is not None]
    if day is not None:
        same_day = [
            leg
            for leg in dated
            if leg.departs is not None and leg.departs.astimezone(leg.origin.zone).date() == day
        ]
        return min(same_day, key=_departure, default=None)
    flying = [leg for leg in dated if leg.in_the_air]
    if flying:
        return flying[0]
    upcoming = [leg for leg in dated if _departure(leg) >= now - RECENT_DEPARTURE]
    if upcoming:
        return min(upcoming, key=_departure)
    return max(dated, key=_departure, default=None)


def _departure(leg: FlightLeg) -> datetime:
    return leg.departs or datetime.min.replace(tzinfo=UTC)


def _delay_words(seconds: int | None) -> str:
    if seconds is None:
        return ""
    delay = timedelta(seconds=seconds)
    if abs(delay) < ON_TIME_MARGIN:
        return "on time"
    minutes = abs(seconds) // 60
    hours, rest = divmod(minutes, 60)
    amount = f"{hours} hour{'s' if hours != 1 else ''}" if hours else ""
    if rest:
        amount = (amount + " " if amount else "") + f"{rest} minute{'s' if rest != 1 else ''}"
    return f"{amount} {'late' if seconds > 0 else 'early'}"


def _where(terminal: str | None, gate: str | None) -> str:
    parts = []
    if terminal:
        parts.append(f"terminal {terminal}")
    if gate:
        parts.append(f"gate {gate}")
    return ", ".join(parts)


def _at(moment: datetime, airport: Airport, today: date) -> str:
    local = moment.astimezone(airport.zone)
    text = spoken_clock(local)
    if local.date() != today:
        text += f" on {spoken_date(local.date())}"
    return f"{text} {airport.city or airport.code} time"


def format_leg(leg: FlightLeg, now: datetime) -> str:
    """A few spoken sentences: status, departure and arrival with gates and delays."""
    today = now.astimezone(leg.origin.zone).date()
    route = f"{leg.ident} from {leg.origin.label} to {leg.destination.label}"
    if leg.cancelled:
        when = _at(leg.scheduled_out, leg.origin, today) if leg.scheduled_out else "its slot"
        return f"Flight {route}, scheduled for {when}, is cancelled."
    sentences = [f"Flight {route}: {leg.status.lower() or 'status unknown'}."]

    departure_delay = leg.departure_delay
    if departure_delay is None and leg.scheduled_out and leg.departs:
        departure_delay = int((leg.departs - leg.scheduled_out).total_seconds())
    if leg.actual_out:
        text = f"It left the gate at {_at(leg.actual_out, leg.origin, today)}"
    elif leg.estimated_out:
        text = f"It's expected to leave at {_at(leg.estimated_out, leg.origin, today)}"
    elif leg.scheduled_out:
        text = f"It's scheduled to leave at {_at(leg.scheduled_out, leg.origin, today)}"
    else:
        text = "Its departure time isn't known"
    delay = _delay_words(departure_delay)
    if delay:
        text += f", {delay}"
    where = _where(leg.terminal_origin, leg.gate_origin)
    if where and not leg.actual_off:
        text += f", from {where}"
    sentences.append(text + ".")

    arrival_delay = leg.arrival_delay
    arrives = leg.actual_in or leg.estimated_in or leg.scheduled_in
    if arrival_delay is None and leg.scheduled_in and arrives:
        arrival_delay = int((arrives - leg.scheduled_in).total_seconds())
    if leg.actual_in:
        text = f"It arrived at {_at(leg.actual_in, leg.destination, today)}"
    elif leg.actual_on:
        text = f"It landed at {_at(leg.actual_on, leg.destination, today)}"
    elif leg.estimated_in:
        text = f"It's expected to arrive at {_at(leg.estimated_in, leg.destination, today)}"
    elif leg.scheduled_in:
        text = f"It's scheduled to arrive at {_at(leg.scheduled_in, leg.destination, today)}"
    else:
        text = "Its arrival time isn't known"
    delay = _delay_words(arrival_delay)
    if delay:
        text += f", {delay}"
    where = _where(leg.terminal_destination, leg.gate_destination)
    if where:
        text += f", at {where}"
    sentences.append(text + ".")
    if leg.baggage_claim and (leg.actual_on or leg.actual_in):
        sentences.append(f"Bags at carousel {leg.baggage_claim}.")
    if leg.diverted:
        sentences.append("It was diverted.")
    return " ".join(sentences)


class AeroApiClient:
    """``GET /flights/{ident}`` with the ``x-apikey`` header."""

    def __init__(
        self, http: httpx.AsyncClient, api_key: Callable[[], str], base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self._http = http
        self._api_key = api_key
        self._base = base_url.rstrip("/")

    async def flights(self, ident: str) -> list[FlightLeg]:
        payload = await request_json(
            self._http,
            SERVICE,
            "GET",
            f"{self._base}/flights/{ident}",
            params={"max_pages": 1},
            headers={"x-apikey": self._api_key(), "Accept": "application/json"},
            timeout=REQUEST_TIMEOUT,
            check=lambda response: _refusal(response, ident),
            reason=_error_detail,
            reason_statuses=(400,),
            refusal="{service} couldn't look that up: {reason}",
            malformed=_malformed(),
        )
        try:
            return parse_flights(payload)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent flight details I couldn't read.", retryable=True)


def _refusal(response: httpx.Response, ident: str) -> ConnectorError | None:
    if response.status_code in (401, 403):
        return key_refused(SERVICE, NAME, response.status_code)
    if response.status_code == 404:
        return _not_found(ident)
    return None


def _not_found(ident: str) -> ConnectorError:
    return ConnectorError(
        f"I couldn't find flight {ident} in the past few days or the next two. "
        "Check the airline code and number."
    )


def _error_detail(response: httpx.Response) -> str | None:
    """AeroAPI errors: {"title", "reason", "detail", "status"}."""
    body = body_object(response)
    text = body.get("detail") or body.get("title")
    return str(text).strip() if text else None


def _clock(settings: Any) -> Clock:
    now = getattr(settings, "now", None)
    if callable(now):
        injected: Clock = now
        return injected
    return lambda: datetime.now(UTC)


def _parse_day(text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return datetime.fromisoformat(text.strip()).date()
    except ValueError as exc:
        raise ConnectorError(
            f"I couldn't understand the date {text!r}; use year-month-day."
        ) from exc


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = AeroApiClient(
        ctx.http,
        lambda: require_secret(ctx, API_KEY, TITLE, NAME),
        ctx.endpoint("flightaware", DEFAULT_BASE_URL),
    )
    clock = _clock(ctx.settings)

    async def get_flight_status(flight: str, date: str = "") -> str:
        """Get a flight's live status: departure and arrival times, gates, terminals and delays.

        Args:
            flight: The airline code and flight number, e.g. "BA283", "UA 1234" or "DLH400".
            date: Optional departure day as year-month-day (local to the departure airport),
                for a flight that is not the next or current one. Empty for the current one.
        """
        ident = normalise_ident(flight)
        if not _IDENT.match(ident):
            raise ConnectorError(
                f"{flight!r} doesn't look like a flight number; say it like BA283 or UA1234."
            )
        day = _parse_day(date)
        legs = await client.flights(ident)
        now = clock()
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        leg = choose_leg(legs, now, day)
        if leg is None:
            if day is not None and legs:
                return f"I found no {ident} flight departing on {spoken_date(day)}."
            raise _not_found(ident)
        return format_leg(leg, now)

    return [ToolDef(get_flight_status, progress="Checking the status of flight {flight}...")]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Live status of a flight by its number: whether it's on time, delayed, cancelled or in "
        "the air, with departure and arrival times, terminals and gates."
    ),
    instructions=(
        "You report flight status with your tool. You need the airline code and flight number "
        "(like BA283); if the user gives only an airline or a route, ask for the number. Answer "
        "in one to three short sentences: on time or how late, the relevant time in the "
        "airport's local time, and the gate if known. If a tool reports a problem, say that "
        "sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Is flight BA283 on time?",
        "When does UA 1234 land?",
        "What gate is my flight LH400 leaving from?",
    ),
    requires_secrets=(API_KEY,),
    key_help=(
        "Sign up for AeroAPI at https://www.flightaware.com/aeroapi/portal (a personal tier "
        "exists) and store the API key as flightaware.api_key."
    ),
    followups=("Which gate does {flight} arrive at?", "Is {flight} still on time?"),
)
