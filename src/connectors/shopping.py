"""Product search with the Best Buy Products API.

Best Buy's keyword search lives in the path: ``/v1/products(search=oven&search=steel)``,
each ``search=`` term ANDed, plus optional attribute filters such as ``salePrice<=500``. The
query is therefore reduced to plain words before it goes into the path (no user text can add
its own operators or parentheses). Results come back as JSON with ``format=json`` and only the
fields asked for in ``show``. The API takes its key only as the ``apiKey`` query parameter, so
no error sentence here ever includes a URL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    hide_secret,
    request_json,
    require_secret,
)

NAME = "shopping"
TITLE = "Best Buy"
SERVICE = "Best Buy"
SECRET = "bestbuy"
DEFAULT_URL = "https://api.bestbuy.com/v1"
REQUEST_TIMEOUT = httpx.Timeout(10.0)
PAGE_SIZE = 5
MAX_WORDS = 8
SHOW = (
    "sku",
    "name",
    "manufacturer",
    "salePrice",
    "regularPrice",
    "onSale",
    "customerReviewAverage",
    "customerReviewCount",
    "url",
)
SORTS: Mapping[str, tuple[str, str]] = {
    "best_selling": ("bestSellingRank.asc", "best sellers first"),
    "lowest_price": ("salePrice.asc", "cheapest first"),
    "top_rated": ("customerReviewAverage.dsc", "best rated first"),
}
Order = Literal["best_selling", "lowest_price", "top_rated"]

_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Product:
    sku: int
    name: str
    price: float
    regular_price: float | None
    on_sale: bool
    rating: float | None
    reviews: int
    url: str


@dataclass(frozen=True)
class SearchResult:
    products: list[Product]
    total: int


def search_words(query: str) -> list[str]:
    """The plain words of a query, safe to put in Best Buy's path syntax."""
    return _WORD.findall(query)[:MAX_WORDS]


def dollars(value: float) -> str:
    return f"${value:,.2f}"


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent product results I couldn't read.", retryable=True)


def _parse_product(item: Mapping[str, Any]) -> Product:
    regular = item.get("regularPrice")
    rating = item.get("customerReviewAverage")
    return Product(
        sku=int(item["sku"]),
        name=" ".join(str(item["name"]).split()),
        price=float(item["salePrice"]),
        regular_price=None if regular is None else float(regular),
        on_sale=bool(item.get("onSale")),
        rating=None if rating is None else float(rating),
        reviews=int(item.get("customerReviewCount") or 0),
        url=str(item.get("url") or ""),
    )


class BestBuyClient:
    """Keyword search over the Products API; every failure is a ``ConnectorError``."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str = DEFAULT_URL) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def search(
        self, words: list[str], api_key: str, *, max_price: float | None, sort: str
    ) -> SearchResult:
        terms = [f"search={word}" for word in words]
        if max_price is not None:
            terms.append(f"salePrice<={max_price:.2f}")
        url = f"{self._base_url}/products({'&'.join(terms)})"
        params: dict[str, str | int] = {
            "format": "json",
            "show": ",".join(SHOW),
            "pageSize": PAGE_SIZE,
            "sort": sort,
            "apiKey": api_key,
        }
        payload = await request_json(
            self._http,
            SERVICE,
            "GET",
            url,
            params=params,
            timeout=REQUEST_TIMEOUT,
            check=lambda response: _refusal(response, api_key),
            malformed=_malformed(),
        )
        try:
            products = [_parse_product(item) for item in payload["products"]]
            total = int(payload.get("total", len(products)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc
        return SearchResult(products=products, total=total)


def _refusal(response: httpx.Response, api_key: str) -> ConnectorError | None:
    status = response.status_code
    if status in (401, 403):
        # Best Buy documents 403 as "call limit exceeded"; a wrong key is refused the same way.
        return ConnectorError(
            f"{SERVICE} refused the request: your API key may be wrong or its daily call limit "
            f"used up. Check the key with: python main.py connect {NAME}",
            status=status,
        )
    if status == 400:
        reason = _error_message(response, api_key)
        text = f": {reason}" if reason else ""
        return ConnectorError(f"{SERVICE} couldn't run that search{text}.", status=status)
    return None


def _error_message(response: httpx.Response, api_key: str) -> str | None:
    """The message of an ``{"error": {"code", "status", "message"}}`` body, if there is one."""
    body = body_object(response)
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else body.get("errorMessage")
    if not message:
        return None
    text = hide_secret(str(message), api_key)
    return " ".join(text.split())[:160].rstrip(".")


def format_results(query: str, result: SearchResult, order_label: str) -> str:
    if not result.products:
        return f"{SERVICE} has no products matching “{query}”."
    heading = f"{SERVICE} results for “{query}” ({order_label}"
    if result.total > len(result.products):
        heading += f", {len(result.products)} of {result.total:,} matches"
    lines = [heading + "):"]
    for number, product in enumerate(result.products, start=1):
        line = f"{number}. {product.name}: {dollars(product.price)}"
        if (
            product.on_sale
            and product.regular_price is not None
            and product.regular_price > product.price
        ):
            line += f" (on sale, was {dollars(product.regular_price)})"
        if product.rating is not None and product.reviews:
            noun = "review" if product.reviews == 1 else "reviews"
            line += f", rated {product.rating:.1f} of 5 from {product.reviews:,} {noun}"
        else:
            line += ", no reviews yet"
        lines.append(line)
        if product.url:
            lines.append(f"   {product.url}")
    return "\n".join(lines)


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = BestBuyClient(ctx.http, base_url=ctx.endpoint("bestbuy", DEFAULT_URL))

    async def shopping_search(
        query: str, max_price: float = 0, order: Order = "best_selling"
    ) -> str:
        """Search Best Buy's catalogue for products, with prices, sale prices and ratings.

        Args:
            query: What to look for, e.g. "noise cancelling headphones" or "65 inch OLED TV".
            max_price: The most the user wants to pay, in US dollars; 0 for no limit.
            order: best_selling, lowest_price or top_rated first.
        """
        key = require_secret(ctx, SECRET, TITLE, NAME)
        words = search_words(query)
        if not words:
            raise ConnectorError("I need the name or kind of product to look for.")
        limit = float(max_price)
        if not math.isfinite(limit) or limit < 0:
            raise ConnectorError("The price limit must be a positive amount.")
        sort, label = SORTS.get(order, SORTS["best_selling"])
        result = await client.search(words, key, max_price=limit or None, sort=sort)
        text = " ".join(words)
        if limit:
            label += f", up to {dollars(limit)}"
        return format_results(text, result, label)

    return [ToolDef(func=shopping_search, progress="Searching Best Buy for {query}...")]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Shopping: searches Best Buy's catalogue for products to buy (electronics, "
        "appliances, gadgets), with current prices, deals and customer ratings. Search only; "
        "it cannot place orders."
    ),
    instructions=(
        "You help the user shop by searching Best Buy with your tool. Pass a price limit when "
        "they give a budget. Name the best two or three products with price and rating in "
        "short spoken sentences; mention sales. Don't read URLs aloud. You cannot buy anything: "
        "if asked to, say so and offer the product link. If a tool reports a problem, say that "
        "sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Find me noise cancelling headphones under 200 dollars.",
        "What's the cheapest 65 inch TV at Best Buy?",
        "Show me the best rated robot vacuums.",
    ),
    requires_secrets=(SECRET,),
    followups=(
        "Any cheaper {query}?",
        "Which {query} has the best reviews?",
    ),
    key_help=(
        "Best Buy API key: sign up at https://developer.bestbuy.com (Get API Key); the key "
        "arrives by email and is shown on your developer account page."
    ),
)
