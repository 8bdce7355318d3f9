"""Concerts, sports, theatre and other ticketed events from the Ticketmaster Discovery API.

``/discovery/v2/events.json`` filters by keyword, city, category and a start-date window; the
key travels as the ``apikey`` query parameter, which is how Ticketmaster documents it. The
window is computed in the user's own time zone and sent in UTC, as the API expects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

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
from src.connectors.clock import local_zone, spoken_clock, spoken_date

NAME = "events"
TITLE = "Events (Ticketmaster)"
SERVICE = "Ticketmaster"
DEFAULT_BASE_URL = "https://app.ticketmaster.com/discovery/v2"
API_KEY = "ticketmaster.api_key"
REQUEST_TIMEOUT = httpx.Timeout(15.0)
DEFAULT_RESULTS = 5
MAX_RESULTS = 20
MAX_DAYS = 90

_STATUS_WORDS: Mapping[str, str] = {
    "cancelled": "cancelled",
    "postponed": "postponed",
    "rescheduled": "rescheduled",
    "offsale": "not on sale",
}
_CURRENCY_WORDS: Mapping[str, str] = {"USD": "dollars", "EUR": "euros", "GBP": "pounds"}


@dataclass(frozen=True)
class Event:
    name: str
    day: date | None
    start: time | None
    venue: str | None
    city: str | None
    status: str | None
    price_min: float | None
    price_max: float | None
    currency: str | None
    genre: str | None


def _first(items: Any) -> Mapping[str, Any]:
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        return items[0]
    return {}


def parse_events(payload: Mapping[str, Any]) -> list[Event]:
    if "page" not in payload and "_embedded" not in payload:
        raise ValueError("not an event search result")
    embedded = payload.get("_embedded") or {}
    events = []
    for item in embedded.get("events") or []:
        start = (item.get("dates") or {}).get("start") or {}
        local_date = start.get("localDate")
        local_time = start.get("localTime")
        venue = _first((item.get("_embedded") or {}).get("venues"))
        prices = _first(item.get("priceRanges"))
        classification = _first(item.get("classifications"))
        genre = (classification.get("genre") or {}).get("name")
        status = ((item.get("dates") or {}).get("status") or {}).get("code")
        events.append(
            Event(
                name=str(item["name"]),
                day=date.fromisoformat(local_date) if local_date else None,
                start=time.fromisoformat(local_time) if local_time else None,
                venue=str(venue["name"]) if venue.get("name") else None,
                city=str((venue.get("city") or {}).get("name") or "") or None,
                status=str(status) if status else None,
                price_min=None if prices.get("min") is None else float(prices["min"]),
                price_max=None if prices.get("max") is None else float(prices["max"]),
                currency=str(prices["currency"]) if prices.get("currency") else None,
                genre=str(genre) if genre and genre != "Undefined" else None,
            )
        )
    return events


def _money(amount: float) -> str:
    return f"{amount:,.0f}" if amount == int(amount) or amount >= 100 else f"{amount:,.2f}"


def describe_event(event: Event) -> str:
    when = spoken_date(event.day) if event.day else "Date to be announced"
    if event.start:
        when += f" at {spoken_clock(datetime.combine(date.min, event.start))}"
    text = f"{when}: {event.name}"
    if event.venue:
        text += f" at {event.venue}"
        if event.city and event.city not in event.venue:
            text += f", {event.city}"
    status = _STATUS_WORDS.get(event.status or "")
    if status:
        text += f" ({status})"
    if event.price_min is not None:
        unit = _CURRENCY_WORDS.get(event.currency or "", event.currency or "")
        if event.price_max is not None and event.price_max > event.price_min:
            text += f"; tickets {_money(event.price_min)} to {_money(event.price_max)} {unit}"
        else:
            text += f"; tickets from {_money(event.price_min)} {unit}"
    return text.rstrip() + "."


def format_events(events: Sequence[Event], heading: str) -> str:
    if not events:
        return f"I found no {heading[0].lower()}{heading[1:]}."
    return "\n".join([f"{heading}:", *(describe_event(e) for e in events)])


class DiscoveryClient:
    def __init__(
        self, http: httpx.AsyncClient, api_key: Callable[[], str], base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self._http = http
        self._api_key = api_key
        self._base = base_url.rstrip("/")

    async def search(self, params: Mapping[str, str | int]) -> list[Event]:
        payload = await request_json(
            self._http,
            SERVICE,
            "GET",
            f"{self._base}/events.json",
            params={**params, "apikey": self._api_key()},
            timeout=REQUEST_TIMEOUT,
            check=_gateway_refusal,
            reason=_error_detail,
            reason_statuses=(400,),
            refusal="{service} couldn't search that: {reason}",
            malformed=_malformed(),
        )
        try:
            return parse_events(payload)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent event listings I couldn't read.", retryable=True)


def _gateway_refusal(response: httpx.Response) -> ConnectorError | None:
    """A refused key or a used-up quota, which the API gateway reports as a fault code."""
    if response.status_code < 400:
        return None
    fault = _fault_code(body_object(response))
    if response.status_code in (401, 403) or fault.startswith("oauth."):
        return key_refused(SERVICE, NAME, response.status_code)
    if fault == "policies.ratelimit.QuotaViolation":
        return ConnectorError(
            f"Your {SERVICE} key has used up its daily requests; it resets tomorrow.",
            status=response.status_code,
        )
    return None


def _fault_code(body: Mapping[str, Any]) -> str:
    """The API gateway's errors: {"fault": {"faultstring", "detail": {"errorcode"}}}."""
    fault = body.get("fault")
    if not isinstance(fault, dict):
        return ""
    detail = fault.get("detail")
    return str(detail.get("errorcode") or "") if isinstance(detail, dict) else ""


def _error_detail(response: httpx.Response) -> str | None:
    """The Discovery API's own errors: {"errors": [{"code", "detail", "status"}]}."""
    errors = body_object(response).get("errors")
    first = _first(errors)
    detail = first.get("detail")
    return str(detail).strip() if detail else None


def _now_local(settings: Any) -> datetime:
    now = getattr(settings, "now", None)
    moment = now() if callable(now) else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(local_zone(settings).zone)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _start_day(text: str, today: date) -> date:
    cleaned = text.strip().lower()
    if cleaned in ("", "today"):
        return today
    if cleaned == "tomorrow":
        return today + timedelta(days=1)
    try:
        day = date.fromisoformat(cleaned)
    except ValueError as exc:
        raise ConnectorError(
            f"I couldn't understand the date {text!r}; use year-month-day, like 2026-12-05."
        ) from exc
    if day < today:
        raise ConnectorError(f"{spoken_date(day, year=True)} has already passed.")
    return day


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = DiscoveryClient(
        ctx.http,
        lambda: require_secret(ctx, API_KEY, TITLE, NAME),
        ctx.endpoint("ticketmaster", DEFAULT_BASE_URL),
    )

    async def search_events(
        keyword: str = "",
        city: str = "",
        category: str = "",
        date: str = "",
        days: int = 7,
        count: int = DEFAULT_RESULTS,
    ) -> str:
        """Find upcoming concerts, games, shows and other ticketed events.

        Args:
            keyword: An artist, team, show or word to search for, e.g. "Taylor Swift";
                empty for anything.
            city: The city, e.g. "Chicago"; empty for the user's home city when no keyword
                is given.
            category: Optional kind of event: "music", "sports", "arts & theatre", "film" or
                "family"; empty for all.
            date: First day to include as year-month-day, "today" or "tomorrow"; empty for
                today.
            days: How many days from that date to cover (1 to 90).
            count: How many events to list (1 to 20).
        """
        words, place = keyword.strip(), city.strip()
        if not words and not place:
            place = str(getattr(ctx.settings, "home_city", None) or "").strip()
            if not place:
                raise ConnectorError("Which city, or which artist, team or show?")
        now = _now_local(ctx.settings)
        first = _start_day(date, now.date())
        start = now if first == now.date() else datetime.combine(first, time(0), now.tzinfo)
        span = max(1, min(MAX_DAYS, int(days)))
        end = datetime.combine(first + timedelta(days=span), time(0), now.tzinfo)
        params: dict[str, str | int] = {
            "startDateTime": _utc(start),
            "endDateTime": _utc(end),
            "size": max(1, min(MAX_RESULTS, int(count))),
            "sort": "date,asc",
        }
        if words:
            params["keyword"] = words
        if place:
            params["city"] = place
        if category.strip():
            params["classificationName"] = category.strip()
        events = await client.search(params)
        kind = category.strip().lower()
        heading = f"{kind.capitalize()} events" if kind else "Events"
        if words:
            heading += f" for {words}"
        if place:
            heading += f" in {place}"
        heading += f" from {spoken_date(first)}" if span > 1 else f" on {spoken_date(first)}"
        return format_events(events, heading)

    return [ToolDef(search_events, progress="Searching Ticketmaster for events...")]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Finds upcoming ticketed events: concerts and when an artist or band is touring, "
        "sports games, theatre, comedy and family shows, in or near a city on given dates, "
        "with venues and ticket price ranges."
    ),
    instructions=(
        "You find events on Ticketmaster. Pass an artist, team or show as the keyword, and "
        "the city if the user names one; dates as year-month-day. Mention the two or three "
        "most relevant events in a sentence or two: what, when and where, and the price range "
        "if asked. Say when an event is cancelled or postponed. You cannot buy tickets. If a "
        "tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What concerts are on in Chicago this weekend?",
        "When is Taylor Swift playing in London?",
        "Any basketball games in Boston next week?",
    ),
    requires_secrets=(API_KEY,),
    key_help=(
        "Create an app at https://developer.ticketmaster.com (My Apps) and store its Consumer "
        "Key as ticketmaster.api_key."
    ),
    followups=("Any cheaper tickets for {keyword}?", "What else is on in {city} that week?"),
)
