"""Flight prices from the Amadeus Self-Service Flight Offers Search API.

Amadeus authenticates apps with an OAuth 2.0 client-credentials grant: the user's API key and
secret buy a short-lived bearer token (about 30 minutes), which ``AmadeusClient`` caches until
shortly before it expires so a conversation about flights costs one token request, not one per
search. The test host is the default because it is what a free Amadeus account can use; point
the ``amadeus`` endpoint at ``https://api.amadeus.com`` for production data.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    request_json,
    require_secret,
)
from src.connectors.clock import local_zone, spoken_clock, spoken_date

NAME = "flights"
TITLE = "Flight search (Amadeus)"
SERVICE = "Amadeus"
DEFAULT_BASE_URL = "https://test.api.amadeus.com"
CLIENT_ID = "amadeus.client_id"
CLIENT_SECRET = "amadeus.client_secret"
REQUEST_TIMEOUT = httpx.Timeout(15.0)
TOKEN_MARGIN_S = 60.0  # refresh a little early so a token never expires mid-request
MAX_OFFERS_ASKED = 20
OFFERS_SPOKEN = 3
MAX_ADULTS = 9  # the API's documented limit of seated travellers

_IATA = re.compile(r"^[A-Z]{3}$")
_DURATION = re.compile(r"^P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?")

# Short words in carrier names that are words, not acronyms like KLM or TAP.
_COMMON_SHORT_WORDS = frozenset({"AIR", "AND", "THE", "OF", "DE", "DEL", "LA", "LE", "SKY", "JET"})

# How currency codes read aloud; anything else is said as its code.
_CURRENCY_WORDS: Mapping[str, str] = {
    "EUR": "euros",
    "USD": "US dollars",
    "GBP": "pounds",
    "CHF": "Swiss francs",
    "CAD": "Canadian dollars",
    "AUD": "Australian dollars",
    "JPY": "yen",
}


@dataclass(frozen=True)
class _Token:
    value: str
    client_id: str
    expires_at: float


@dataclass(frozen=True)
class FlightOffer:
    """One bookable offer, reduced to what a listener cares about (first itinerary only)."""

    price: float
    currency: str
    carrier: str
    stops: int
    departs: datetime
    arrives: datetime
    duration_minutes: int | None
    origin: str
    destination: str


def parse_iso_duration(text: str) -> int | None:
    """Minutes in an ISO 8601 duration such as "PT2H10M" or "P1DT3H"; None if unreadable."""
    match = _DURATION.match(text or "")
    if not match or not any(match.groups()):
        return None
    days, hours, minutes = (int(g) if g else 0 for g in match.groups())
    return days * 1440 + hours * 60 + minutes


def spoken_duration(minutes: int) -> str:
    """ "2 hours 10 minutes", "45 minutes", "1 hour"."""
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if rest or not hours:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def spoken_price(amount: float, currency: str) -> str:
    words = _CURRENCY_WORDS.get(currency, currency)
    whole = amount >= 100 or amount == int(amount)  # "132 euros", not "132.40" read aloud
    text = f"{amount:,.0f}" if whole else f"{amount:,.2f}"
    return f"{text} {words}"


def _carrier_name(code: str, carriers: Mapping[str, Any]) -> str:
    """Amadeus spells carriers in capitals ("TAP PORTUGAL"); say them in title case."""
    name = carriers.get(code)
    if not isinstance(name, str) or not name.strip():
        return code
    words = []
    for word in name.split():
        keep = len(word) <= 3 and word.upper() not in _COMMON_SHORT_WORDS
        words.append(word if keep else word.capitalize())
    return " ".join(words)


class AmadeusClient:
    """Client-credentials token handling plus the Flight Offers Search call."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials: Callable[[], tuple[str, str]],
        *,
        base_url: str = DEFAULT_BASE_URL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._base = base_url.rstrip("/")
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self.tokens_fetched = 0

    async def search(
        self,
        origin: str,
        destination: str,
        departure: date,
        *,
        adults: int = 1,
        nonstop: bool = False,
        currency: str | None = None,
    ) -> list[FlightOffer]:
        """Offers for a one-way trip, cheapest first."""
        params: dict[str, str | int] = {
            "originLocationCode": origin,
            "destinationLocationCode": destination,
            "departureDate": departure.isoformat(),
            "adults": adults,
            "max": MAX_OFFERS_ASKED,
        }
        if nonstop:
            params["nonStop"] = "true"
        if currency:
            params["currencyCode"] = currency
        payload = await self._get_json("/v2/shopping/flight-offers", params)
        try:
            return _parse_offers(payload)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise _malformed() from exc

    async def _get_json(self, path: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        return await request_json(
            self,
            SERVICE,
            "GET",
            f"{self._base}{path}",
            params=params,
            timeout=REQUEST_TIMEOUT,
            check=lambda response: _refused(response, (401, 403)),
            reason=_first_error_detail,
            reason_statuses=(400, 404),
            refusal="{service} couldn't search that: {reason}.",
            malformed=_malformed(),
        )

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A call with the bearer token (a ``Requester`` for ``request_json``).

        A token can be revoked or expire early; one fresh token is worth a retry after a 401.
        """
        token = await self._bearer()
        response = await self._http.request(method, url, **kwargs, headers=_auth(token))
        if response.status_code == 401:
            self._token = None
            token = await self._bearer()
            response = await self._http.request(method, url, **kwargs, headers=_auth(token))
        return response

    async def _bearer(self) -> str:
        client_id, secret = self._credentials()
        cached = self._token
        if cached and cached.client_id == client_id and self._clock() < cached.expires_at:
            return cached.value
        async with self._lock:
            cached = self._token
            if cached and cached.client_id == client_id and self._clock() < cached.expires_at:
                return cached.value
            self._token = await self._fetch_token(client_id, secret)
            return self._token.value

    async def _fetch_token(self, client_id: str, secret: str) -> _Token:
        body = await request_json(
            self._http,
            SERVICE,
            "POST",
            f"{self._base}/v1/security/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
            timeout=REQUEST_TIMEOUT,
            # The token endpoint answers a wrong key or secret with a 400 as well.
            check=lambda response: _refused(response, (400, 401, 403)),
            malformed=_malformed(),
        )
        try:
            value = str(body["access_token"])
            lifetime = float(body.get("expires_in", 1799))
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed() from exc
        if not value:
            raise _malformed()
        self.tokens_fetched += 1
        expires_at = self._clock() + max(0.0, lifetime - TOKEN_MARGIN_S)
        return _Token(value=value, client_id=client_id, expires_at=expires_at)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _bad_credentials(status: int) -> ConnectorError:
    return ConnectorError(
        f"{SERVICE} didn't accept your API key and secret. "
        f"Reconnect them: python main.py connect {NAME}",
        status=status,
    )


def _refused(response: httpx.Response, statuses: tuple[int, ...]) -> ConnectorError | None:
    return _bad_credentials(response.status_code) if response.status_code in statuses else None


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent flight results I couldn't read.", retryable=True)


def _first_error_detail(response: httpx.Response) -> str | None:
    """The documented error list: {"errors": [{"status", "code", "title", "detail"}]}."""
    errors = body_object(response).get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    first = errors[0]
    detail = first.get("detail") or first.get("title")
    if not detail:
        return None
    text = str(detail).strip().rstrip(".")
    source = first.get("source")
    parameter = source.get("parameter") if isinstance(source, dict) else None
    return f"{text} ({parameter})" if parameter else text


def _parse_offers(payload: Mapping[str, Any]) -> list[FlightOffer]:
    data = payload.get("data")
    if data is None:
        raise ValueError("no data")
    dictionaries = payload.get("dictionaries") or {}
    carriers = dictionaries.get("carriers") or {}
    offers = []
    for item in data:
        price = item["price"]
        itinerary = item["itineraries"][0]
        segments = itinerary["segments"]
        if not segments:
            raise ValueError("an itinerary without segments")
        first, last = segments[0], segments[-1]
        validating = item.get("validatingAirlineCodes") or []
        code = str(validating[0] if validating else first["carrierCode"])
        stops = len(segments) - 1 + sum(int(s.get("numberOfStops") or 0) for s in segments)
        offers.append(
            FlightOffer(
                price=float(price.get("grandTotal") or price["total"]),
                currency=str(price["currency"]),
                carrier=_carrier_name(code, carriers),
                stops=stops,
                departs=datetime.fromisoformat(str(first["departure"]["at"])),
                arrives=datetime.fromisoformat(str(last["arrival"]["at"])),
                duration_minutes=parse_iso_duration(str(itinerary.get("duration") or "")),
                origin=str(first["departure"]["iataCode"]),
                destination=str(last["arrival"]["iataCode"]),
            )
        )
    offers.sort(key=lambda o: (o.price, o.departs))
    return offers


def _stops(count: int) -> str:
    if count == 0:
        return "nonstop"
    return f"{count} stop{'s' if count != 1 else ''}"


def format_offers(
    offers: list[FlightOffer], origin: str, destination: str, day: date, adults: int
) -> str:
    """The cheapest few offers as short spoken lines."""
    who = f"{adults} adult{'s' if adults != 1 else ''}"
    when = spoken_date(day)
    if not offers:
        return f"I found no flights from {origin} to {destination} on {when} for {who}."
    shown = offers[:OFFERS_SPOKEN]
    lines = [f"Cheapest flights from {origin} to {destination} on {when}, total for {who}:"]
    for offer in shown:
        arrival = spoken_clock(offer.arrives)
        extra_days = (offer.arrives.date() - offer.departs.date()).days
        if extra_days > 0:
            arrival += " the next day" if extra_days == 1 else f" {extra_days} days later"
        line = (
            f"{spoken_price(offer.price, offer.currency)} with {offer.carrier}, "
            f"{_stops(offer.stops)}, leaves {spoken_clock(offer.departs)}, arrives {arrival}"
        )
        if offer.duration_minutes:
            line += f" ({spoken_duration(offer.duration_minutes)})"
        lines.append(line + ".")
    if len(offers) > len(shown):
        lines.append(f"{len(offers) - len(shown)} more offers are pricier.")
    return "\n".join(lines)


def _today(settings: Any) -> date:
    now = getattr(settings, "now", None)
    moment = now() if callable(now) else datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(local_zone(settings).zone).date()


def parse_travel_date(text: str, today: date) -> date:
    """ "2026-12-01", "today" or "tomorrow"; a past date is refused in a sentence."""
    cleaned = text.strip().lower()
    if cleaned in ("", "today"):
        day = today
    elif cleaned == "tomorrow":
        day = today + timedelta(days=1)
    else:
        try:
            day = date.fromisoformat(cleaned)
        except ValueError as exc:
            raise ConnectorError(
                f"I couldn't understand the date {text!r}. "
                "Please give it as year-month-day, like 2026-12-01."
            ) from exc
    if day < today:
        raise ConnectorError(f"{spoken_date(day, year=True)} has already passed.")
    return day


def _airport(code: str, which: str) -> str:
    cleaned = code.strip().upper()
    if not _IATA.match(cleaned):
        raise ConnectorError(
            f"I need a three-letter airport or city code for the {which}, like LHR or NYC; "
            f"{code!r} isn't one."
        )
    return cleaned


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    def credentials() -> tuple[str, str]:
        return (
            require_secret(ctx, CLIENT_ID, TITLE, NAME),
            require_secret(ctx, CLIENT_SECRET, TITLE, NAME),
        )

    client = AmadeusClient(
        ctx.http, credentials, base_url=ctx.endpoint("amadeus", DEFAULT_BASE_URL)
    )

    async def search_flight_offers(
        origin: str, destination: str, date: str, adults: int = 1, nonstop_only: bool = False
    ) -> str:
        """Find the cheapest one-way flight offers between two airports on a day.

        Args:
            origin: The departure airport or city as a three-letter IATA code, e.g. "LIS" or
                "PAR". Convert city names to their code yourself.
            destination: The arrival airport or city as a three-letter IATA code, e.g. "JFK".
            date: The departure day as year-month-day (e.g. "2026-12-01"), or "today" or
                "tomorrow".
            adults: How many adult travellers (1 to 9); prices are totals for all of them.
            nonstop_only: Only direct flights.
        """
        start = _airport(origin, "departure")
        end = _airport(destination, "destination")
        if start == end:
            raise ConnectorError("The departure and destination are the same place.")
        day = parse_travel_date(date, _today(ctx.settings))
        if not 1 <= adults <= MAX_ADULTS:
            raise ConnectorError(f"I can search for 1 to {MAX_ADULTS} adults at a time.")
        currency = getattr(ctx.settings, "currency", None)
        offers = await client.search(
            start,
            end,
            day,
            adults=adults,
            nonstop=nonstop_only,
            currency=str(currency).upper() if currency else None,
        )
        return format_offers(offers, start, end, day, adults)

    return [
        ToolDef(
            search_flight_offers,
            progress="Looking for flights from {origin} to {destination} on {date}...",
        )
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Searches flight prices: what it costs to fly between two airports or cities on a "
        "date, with the cheapest one-way offers, airline, stops and times. It cannot book."
    ),
    instructions=(
        "You find flight prices with your tool. Convert cities to three-letter IATA codes "
        "yourself (London is LON, Paris is PAR, New York is NYC) and dates to year-month-day. "
        "If the user gives no date, ask for one. Say the cheapest one or two options in a "
        "sentence or two: price, airline, stops and departure time. Don't read codes letter by "
        "letter when you know the city's name. You cannot book; say so if asked. If a tool "
        "reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "How much is a flight from Lisbon to Madrid next Friday?",
        "Find me a nonstop flight from Boston to Chicago tomorrow for two people.",
    ),
    requires_secrets=(CLIENT_ID, CLIENT_SECRET),
    key_help=(
        "Create a free app at https://developers.amadeus.com (My Self-Service Workspace) and "
        "store its API key as amadeus.client_id and its API secret as amadeus.client_secret."
    ),
    followups=(
        "Any nonstop flights from {origin} to {destination}?",
        "What about the day after, from {origin} to {destination}?",
    ),
)
