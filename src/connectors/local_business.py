"""Local businesses from Yelp Fusion: restaurants, shops and services near a place.

``/v3/businesses/search`` finds places by what and where (a city, neighbourhood or address),
and ``/v3/businesses/{id}/reviews`` gives review excerpts. A voice user names a business, not
its Yelp id, so reviews are looked up by searching for the name first. Where the user doesn't
say, the search uses ``home_city`` from settings, which is what "near me" means on a laptop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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

NAME = "local_business"
TITLE = "Local businesses (Yelp)"
SERVICE = "Yelp"
DEFAULT_BASE_URL = "https://api.yelp.com/v3"
API_KEY = "yelp.api_key"
REQUEST_TIMEOUT = httpx.Timeout(15.0)
DEFAULT_RESULTS = 3
MAX_RESULTS = 10
REVIEWS_SPOKEN = 3
REVIEW_CHARS = 200
SORTS = ("best_match", "rating", "review_count", "distance")

_PRICE_WORDS: Mapping[str, str] = {
    "$": "inexpensive",
    "$$": "moderately priced",
    "$$$": "pricey",
    "$$$$": "very expensive",
}


@dataclass(frozen=True)
class Business:
    id: str
    name: str
    rating: float | None
    review_count: int | None
    price: str | None
    address: str
    open_now: bool | None
    categories: tuple[str, ...]
    phone: str | None
    distance_m: float | None
    closed_for_good: bool


def _open_now(item: Mapping[str, Any]) -> bool | None:
    """Search results carry ``business_hours``; business details carry ``hours``."""
    for key in ("business_hours", "hours"):
        hours = item.get(key)
        if isinstance(hours, list) and hours and isinstance(hours[0], Mapping):
            value = hours[0].get("is_open_now")
            if value is not None:
                return bool(value)
    return None


def parse_business(item: Mapping[str, Any]) -> Business:
    location = item.get("location") or {}
    lines = location.get("display_address") or []
    address = ", ".join(str(x) for x in lines) if lines else str(location.get("address1") or "")
    return Business(
        id=str(item["id"]),
        name=str(item["name"]),
        rating=None if item.get("rating") is None else float(item["rating"]),
        review_count=None if item.get("review_count") is None else int(item["review_count"]),
        price=str(item["price"]) if item.get("price") else None,
        address=address,
        open_now=_open_now(item),
        categories=tuple(str(c["title"]) for c in item.get("categories") or []),
        phone=str(item["display_phone"]) if item.get("display_phone") else None,
        distance_m=None if item.get("distance") is None else float(item["distance"]),
        closed_for_good=bool(item.get("is_closed")),
    )


def _rating(business: Business) -> str:
    if business.rating is None:
        return "no rating yet"
    stars = f"{business.rating:g} star{'s' if business.rating != 1 else ''}"
    if business.review_count:
        stars += (
            f" from {business.review_count:,} review{'s' if business.review_count != 1 else ''}"
        )
    return stars


def describe_business(business: Business) -> str:
    parts = [business.name]
    if business.categories:
        parts.append(" and ".join(business.categories[:2]).lower())
    parts.append(_rating(business))
    if business.price:
        parts.append(_PRICE_WORDS.get(business.price, business.price))
    if business.open_now is True:
        parts.append("open now")
    elif business.open_now is False:
        parts.append("closed right now")
    if business.address:
        parts.append(f"at {business.address}")
    return ", ".join(parts) + "."


class YelpClient:
    def __init__(
        self, http: httpx.AsyncClient, api_key: Callable[[], str], base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self._http = http
        self._api_key = api_key
        self._base = base_url.rstrip("/")

    async def search(
        self, term: str, location: str, *, limit: int, open_now: bool, sort_by: str
    ) -> list[Business]:
        params: dict[str, str | int] = {
            "term": term,
            "location": location,
            "limit": limit,
            "sort_by": sort_by,
        }
        if open_now:
            params["open_now"] = "true"
        payload = await self._get("/businesses/search", params)
        try:
            items = payload["businesses"]
            return [parse_business(item) for item in items]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc

    async def reviews(self, business_id: str) -> list[tuple[float | None, str, str]]:
        """(rating, reviewer first name, text) for a business's review excerpts."""
        payload = await self._get(f"/businesses/{business_id}/reviews", {"limit": REVIEWS_SPOKEN})
        try:
            found = []
            for review in payload["reviews"]:
                user = review.get("user") or {}
                rating = review.get("rating")
                found.append(
                    (
                        None if rating is None else float(rating),
                        str(user.get("name") or "Someone").split(" ")[0],
                        " ".join(str(review["text"]).split()),
                    )
                )
            return found
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc

    async def _get(self, path: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        return await request_json(
            self._http,
            SERVICE,
            "GET",
            f"{self._base}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self._api_key()}", "Accept": "application/json"},
            timeout=REQUEST_TIMEOUT,
            check=_refusal,
            reason=lambda response: _yelp_error(response)[1],
            reason_statuses=(400,),
            refusal="{service} couldn't search that: {reason}",
            malformed=_malformed(),
        )


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent results I couldn't read.", retryable=True)


def _refusal(response: httpx.Response) -> ConnectorError | None:
    """Yelp's error codes that deserve their own sentence, whatever the status."""
    code, _ = _yelp_error(response)
    if response.status_code in (401, 403) or code in ("TOKEN_INVALID", "TOKEN_MISSING"):
        return key_refused(SERVICE, NAME, response.status_code)
    if code == "ACCESS_LIMIT_REACHED":
        return ConnectorError(
            f"Your {SERVICE} key has used up its daily requests; it resets tomorrow.",
            status=response.status_code,
        )
    if code == "LOCATION_NOT_FOUND":
        return ConnectorError(
            f"{SERVICE} couldn't find that place. Try a city or a full address.",
            status=response.status_code,
        )
    if response.status_code == 404 and code == "BUSINESS_NOT_FOUND":
        return ConnectorError(f"{SERVICE} no longer lists that business.", status=404)
    return None


def _yelp_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """Documented error body: {"error": {"code": "...", "description": "..."}}."""
    if response.status_code < 400:
        return None, None
    error = body_object(response).get("error")
    if not isinstance(error, dict):
        return None, None
    code = error.get("code")
    description = error.get("description")
    return (str(code) if code else None, str(description).strip() if description else None)


def _where(where: str, settings: Any) -> str:
    place = where.strip() or str(getattr(settings, "home_city", None) or "").strip()
    if not place:
        raise ConnectorError(
            "Which city or neighbourhood should I search? (Setting home_city lets me assume one.)"
        )
    return place


def format_results(results: Sequence[Business], what: str, place: str) -> str:
    shown = [b for b in results if not b.closed_for_good]
    if not shown:
        return f"I found no {what} in {place}."
    lines = [f"Top {what} in {place} on Yelp:"]
    lines += [describe_business(b) for b in shown]
    return "\n".join(lines)


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = YelpClient(
        ctx.http,
        lambda: require_secret(ctx, API_KEY, TITLE, NAME),
        ctx.endpoint("yelp", DEFAULT_BASE_URL),
    )

    async def search_local_businesses(
        what: str,
        where: str = "",
        open_now: bool = False,
        sort_by: str = "best_match",
        count: int = DEFAULT_RESULTS,
    ) -> str:
        """Find restaurants, cafés, shops or services in a place, with rating, price and hours.

        Args:
            what: What to look for, e.g. "ramen", "pharmacy" or "bike repair".
            where: A city, neighbourhood or address; empty to use the user's home city.
            open_now: Only places open right now.
            sort_by: One of "best_match", "rating", "review_count" or "distance".
            count: How many places to list (1 to 10).
        """
        term = what.strip()
        if not term:
            raise ConnectorError("What kind of place should I look for?")
        place = _where(where, ctx.settings)
        order = sort_by if sort_by in SORTS else "best_match"
        limit = max(1, min(MAX_RESULTS, int(count)))
        results = await client.search(term, place, limit=limit, open_now=open_now, sort_by=order)
        return format_results(results, term, place)

    async def get_business_reviews(business: str, where: str = "") -> str:
        """Read what reviewers say about one business, found by its name.

        Args:
            business: The business's name, e.g. "Tartine Bakery".
            where: Its city or neighbourhood; empty to use the user's home city.
        """
        name = business.strip()
        if not name:
            raise ConnectorError("Which business do you mean?")
        place = _where(where, ctx.settings)
        matches = await client.search(name, place, limit=1, open_now=False, sort_by="best_match")
        if not matches:
            return f"I couldn't find {name} in {place} on Yelp."
        found = matches[0]
        reviews = await client.reviews(found.id)
        lines = [describe_business(found)]
        if not reviews:
            lines.append("It has no review excerpts yet.")
        for rating, who, text in reviews:
            excerpt = text if len(text) <= REVIEW_CHARS else text[:REVIEW_CHARS].rsplit(" ", 1)[0]
            if excerpt != text:
                excerpt += "…"
            stars = f" ({rating:g} stars)" if rating is not None else ""
            lines.append(f"{who}{stars}: {excerpt}")
        return "\n".join(lines)

    return [
        ToolDef(search_local_businesses, progress="Looking for {what} on Yelp..."),
        ToolDef(get_business_reviews, progress="Reading Yelp reviews of {business}..."),
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Finds and recommends local restaurants, cafes, coffee shops, bars, stores and services "
        "in a city or neighbourhood: how well rated they are, what reviews say, price level, "
        "address, and whether they're open now."
    ),
    instructions=(
        "You find local places with Yelp. Pass what the user wants and where; leave 'where' "
        "empty for near home. Recommend one to three places in a sentence or two: name, "
        "rating, price level, and whether it's open now; give the street address only when "
        "asked or when they're choosing. Paraphrase reviews briefly instead of reading them. "
        "If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Find a good ramen place in Seattle.",
        "Is there a pharmacy open now near me?",
        "What do people say about Tartine Bakery in San Francisco?",
    ),
    requires_secrets=(API_KEY,),
    key_help=(
        "Create an app at https://www.yelp.com/developers/v3/manage_app and store its API key "
        "as yelp.api_key."
    ),
    followups=("Which {what} places are open now?", "What do people say about {business}?"),
)
