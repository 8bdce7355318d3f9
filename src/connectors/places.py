"""Finding places with OpenStreetMap's Nominatim: no key needed.

Nominatim's public instance is free under a usage policy: a descriptive User-Agent (the
shared HTTP client already sends Hark's, so this module never overrides it), at most one
request per second, and caching of repeated lookups. The client therefore spaces its requests
and remembers the bounding boxes of areas it has looked up.

"Coffee near the station" style searches are biased to an area: the one the user names, or
``settings.home_city``. The area is geocoded once, and its bounding box restricts the search
(``viewbox`` + ``bounded=1``); when the area came only from the home-city setting and nothing
is found inside it, the search is repeated worldwide.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    request_json,
)

NAME = "places"
TITLE = "Places"
SERVICE = "OpenStreetMap's place search"
DEFAULT_URL = "https://nominatim.openstreetmap.org"
REQUEST_TIMEOUT = httpx.Timeout(10.0)
MIN_REQUEST_INTERVAL = 1.0  # seconds; Nominatim's usage policy allows one request per second
DEFAULT_LIMIT = 5
MAX_LIMIT = 10

_CITY_KEYS = ("city", "town", "village", "hamlet", "municipality", "suburb", "county")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")


@dataclass(frozen=True)
class Place:
    name: str
    kind: str
    address: str
    latitude: float
    longitude: float
    osm_url: str


@dataclass(frozen=True)
class BoundingBox:
    south: float
    north: float
    west: float
    east: float

    @property
    def viewbox(self) -> str:
        """Nominatim's ``viewbox`` form: two corners as longitude,latitude."""
        return f"{self.west},{self.north},{self.east},{self.south}"


class AreaNotFoundError(ConnectorError):
    def __init__(self, area: str) -> None:
        super().__init__(f"I couldn't find a place called {area}.")
        self.area = area


class RequestSpacer:
    """Keeps consecutive requests at least ``interval`` seconds apart (Nominatim's policy)."""

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            if self._last is not None and self._interval > 0:
                remaining = self._last + self._interval - self._clock()
                if remaining > 0:
                    await self._sleep(remaining)
            self._last = self._clock()


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent results I couldn't read.", retryable=True)


def short_address(item: Mapping[str, Any]) -> str:
    """ "172 Boulevard Saint-Germain, Paris, France" from Nominatim's address details."""
    address = item.get("address")
    if not isinstance(address, dict):
        parts = [p.strip() for p in str(item.get("display_name") or "").split(",")]
        return ", ".join(p for p in parts[1:4] if p)
    pieces = []
    road = address.get("road") or address.get("pedestrian") or address.get("footway")
    if road:
        number = address.get("house_number")
        pieces.append(f"{number} {road}" if number else str(road))
    city = next((address[key] for key in _CITY_KEYS if address.get(key)), None)
    if city:
        pieces.append(str(city))
    elif address.get("state"):
        pieces.append(str(address["state"]))
    if address.get("country"):
        pieces.append(str(address["country"]))
    return ", ".join(pieces)


def _parse_place(item: Mapping[str, Any]) -> Place:
    latitude = float(item["lat"])
    longitude = float(item["lon"])
    display = str(item.get("display_name") or "")
    name = str(item.get("name") or "").strip() or display.split(",", 1)[0].strip()
    if not name:
        raise ValueError("a place without a name")
    kind = str(item.get("type") or "").replace("_", " ")
    if kind in ("yes", "unclassified"):
        kind = str(item.get("category") or "").replace("_", " ")
    osm_url = ""
    if item.get("osm_type") and item.get("osm_id"):
        osm_url = f"https://www.openstreetmap.org/{item['osm_type']}/{item['osm_id']}"
    return Place(
        name=name,
        kind=kind,
        address=short_address(item),
        latitude=latitude,
        longitude=longitude,
        osm_url=osm_url,
    )


class NominatimClient:
    """Free-form search on a Nominatim server, polite to its usage policy."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str = DEFAULT_URL,
        language: str | None = None,
        spacer: RequestSpacer | None = None,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._language = language
        self._spacer = spacer or RequestSpacer(MIN_REQUEST_INTERVAL)
        self._areas: dict[str, BoundingBox] = {}

    async def search(
        self, query: str, *, limit: int = DEFAULT_LIMIT, box: BoundingBox | None = None
    ) -> list[Place]:
        params: dict[str, str | int] = {
            "q": query,
            "format": "jsonv2",
            "addressdetails": 1,
            "limit": max(1, min(MAX_LIMIT, limit)),
        }
        if box is not None:
            params["viewbox"] = box.viewbox
            params["bounded"] = 1
        items = await self._get(params)
        try:
            return [_parse_place(item) for item in items]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc

    async def area(self, name: str) -> BoundingBox:
        """The bounding box of a named area (a city, a district), looked up once and kept."""
        key = " ".join(name.lower().split())
        if key in self._areas:
            return self._areas[key]
        items = await self._get({"q": name, "format": "jsonv2", "limit": 1})
        if not items:
            raise AreaNotFoundError(name)
        try:
            south, north, west, east = (float(v) for v in items[0]["boundingbox"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise _malformed() from exc
        box = BoundingBox(south=south, north=north, west=west, east=east)
        self._areas[key] = box
        return box

    async def _get(self, params: dict[str, str | int]) -> list[dict[str, Any]]:
        if self._language:
            params["accept-language"] = self._language
        await self._spacer.wait()
        payload = await request_json(
            self._http,
            SERVICE,
            "GET",
            f"{self._base_url}/search",
            params=params,
            timeout=REQUEST_TIMEOUT,
            check=_refusal,
            reason=_error_text,
            reason_statuses=(400,),
            refusal="{service} couldn't do that: {reason}",
            malformed=_malformed(),
            expect=list,
        )
        if not all(isinstance(i, dict) for i in payload):
            raise _malformed()
        return payload


def _error_text(response: httpx.Response) -> str | None:
    """Nominatim's ``{"error": "..."}`` or ``{"error": {"message": "..."}}``, if any."""
    error = body_object(response).get("error")
    if not error:
        return None
    if isinstance(error, dict):
        error = error.get("message")
    return " ".join(str(error or "unknown error").split())[:200]


def _refusal(response: httpx.Response) -> ConnectorError | None:
    status = response.status_code
    if status in (401, 403):
        return ConnectorError(
            f"{SERVICE} refused the request; its usage policy may be blocking this app for now.",
            status=status,
        )
    if response.is_success:
        # Nominatim can answer an error object with a 200; the answer is otherwise a list.
        text = _error_text(response)
        if text:
            return ConnectorError(f"{SERVICE} couldn't do that: {text}")
    return None


def format_places(heading: str, places: list[Place]) -> str:
    lines = [heading]
    for number, place in enumerate(places, start=1):
        line = f"{number}. {place.name}"
        if place.kind:
            line += f" ({place.kind})"
        if place.address:
            line += f", {place.address}"
        lines.append(line)
        location = f"   at {place.latitude:.5f}, {place.longitude:.5f}"
        if place.osm_url:
            location += f": {place.osm_url}"
        lines.append(location)
    return "\n".join(lines)


def _language(settings: Any) -> str | None:
    raw = str(getattr(settings, "language", "") or "").strip().lower().replace("_", "-")
    return raw if _LANGUAGE.match(raw) else None


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = NominatimClient(
        ctx.http,
        base_url=ctx.endpoint("nominatim", DEFAULT_URL),
        language=_language(ctx.settings),
        spacer=RequestSpacer(MIN_REQUEST_INTERVAL),
    )

    async def find_places(query: str, near: str = "") -> str:
        """Find places, addresses, landmarks or kinds of venue (cafes, pharmacies) on the map.

        Args:
            query: What to find, e.g. "Eiffel Tower", "10 Downing Street" or "pharmacy".
            near: A town, city or district to search in; empty to search around the user's
                home city (if set) and then everywhere.
        """
        what = " ".join(query.split())
        if not what:
            raise ConnectorError("I need the name or kind of place to look for.")
        explicit = " ".join(near.split())
        area = explicit or " ".join(str(getattr(ctx.settings, "home_city", "") or "").split())
        places: list[Place] = []
        if area:
            try:
                box: BoundingBox | None = await client.area(area)
            except AreaNotFoundError:
                if explicit:
                    raise
                box = None
            if box is not None:
                places = await client.search(what, box=box)
            if not places and explicit:
                return f"I couldn't find {what} near {explicit}."
        if not places:
            places = await client.search(what)
        if not places:
            return f"I couldn't find any place matching {what}."
        where = f" near {explicit}" if explicit else ""
        return format_places(f"Places matching “{what}”{where}:", places)

    return [ToolDef(func=find_places, progress="Looking up {query} on the map...")]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Finds where places are on the map (OpenStreetMap): the location and address of a "
        "landmark, museum, building, street or park, or kinds of place such as a pharmacy or "
        "station near a named area or the user's home city."
    ),
    instructions=(
        "You find places with your tool, using OpenStreetMap data. Pass the area the user "
        "names as 'near'; leave it empty when they mean around home. Say the best one to three "
        "matches by name and short address, in plain spoken sentences; don't read coordinates "
        "or links unless asked. OpenStreetMap has no opening hours or ratings here: say so if "
        "asked. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Where is the Eiffel Tower?",
        "Find a pharmacy near Camden.",
        "What's the address of the British Museum?",
        "Are there any bike shops around here?",
    ),
    followups=(
        "Find another {query} nearby.",
        "Find something else near {near}.",
    ),
)
