"""The shopping connector against a fake Best Buy Products API speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.shopping import CONNECTOR, search_words

KEY = "bby-test-key-42"


def product(
    sku: int,
    name: str,
    sale: float,
    regular: float,
    rating: float | None,
    reviews: int | None,
) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": name,
        "manufacturer": name.split(" - ")[0],
        "salePrice": sale,
        "regularPrice": regular,
        "onSale": sale < regular,
        "customerReviewAverage": rating,
        "customerReviewCount": reviews,
        "url": f"https://api.bestbuy.com/click/-/{sku}/pdp",
    }


HEADPHONES: dict[str, Any] = {
    "from": 1,
    "to": 2,
    "currentPage": 1,
    "total": 87,
    "totalPages": 44,
    "queryTime": "0.006",
    "totalTime": "0.031",
    "partial": False,
    "canonicalUrl": '/v1/products((search="noise"&search="cancelling"&search="headphones"))'
    "?show=sku,name&format=json&apiKey=" + KEY,
    "products": [
        product(
            6505727,
            "Sony - WH-1000XM5 Wireless Noise-Canceling Headphones - Black",
            329.99,
            399.99,
            4.7,
            8213,
        ),
        product(
            6554457, "Insignia™ - Wireless Noise Cancelling Headphones", 59.99, 59.99, None, None
        ),
    ],
}
EMPTY = {**HEADPHONES, "from": 0, "to": 0, "total": 0, "totalPages": 0, "products": []}

Handler = Callable[[httpx.Request], httpx.Response]


class FakeBestBuy:
    def __init__(self, answer: Handler | dict[str, Any] = HEADPHONES) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answer):
            return self.answer(request)
        return httpx.Response(200, json=self.answer)


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def tools_for(
    fake: FakeBestBuy, secrets: dict[str, str] | None = None, **ctx: Any
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    context = ConnectorContext(
        http=http, secrets=Secrets({"bestbuy": KEY} if secrets is None else secrets), **ctx
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(context)}


async def search(fake: FakeBestBuy, query: str = "noise cancelling headphones", **kw: Any) -> str:
    return await tools_for(fake)["shopping_search"].func(query=query, **kw)


# ---------------------------------------------------------------- happy paths


async def test_products_with_prices_sales_and_ratings() -> None:
    fake = FakeBestBuy()

    said = await search(fake)

    assert said == (
        "Best Buy results for “noise cancelling headphones” "
        "(best sellers first, 2 of 87 matches):\n"
        "1. Sony - WH-1000XM5 Wireless Noise-Canceling Headphones - Black: $329.99 "
        "(on sale, was $399.99), rated 4.7 of 5 from 8,213 reviews\n"
        "   https://api.bestbuy.com/click/-/6505727/pdp\n"
        "2. Insignia™ - Wireless Noise Cancelling Headphones: $59.99, no reviews yet\n"
        "   https://api.bestbuy.com/click/-/6554457/pdp"
    )


async def test_what_crossed_the_wire() -> None:
    fake = FakeBestBuy()

    await search(fake, max_price=200, order="lowest_price")

    (request,) = fake.requests
    assert request.url.host == "api.bestbuy.com"
    assert request.url.path == (
        "/v1/products(search=noise&search=cancelling&search=headphones&salePrice<=200.00)"
    )
    assert dict(request.url.params) == {
        "format": "json",
        "show": "sku,name,manufacturer,salePrice,regularPrice,onSale,customerReviewAverage,"
        "customerReviewCount,url",
        "pageSize": "5",
        "sort": "salePrice.asc",
        "apiKey": KEY,
    }


async def test_user_text_cannot_inject_search_syntax() -> None:
    fake = FakeBestBuy()
    await search(fake, query='tv)|(sku=*)&name="x"')
    assert fake.requests[0].url.path == ("/v1/products(search=tv&search=sku&search=name&search=x)")


async def test_price_limit_and_order_are_said() -> None:
    said = await search(FakeBestBuy(), max_price=400, order="top_rated")
    assert said.splitlines()[0] == (
        "Best Buy results for “noise cancelling headphones” "
        "(best rated first, up to $400.00, 2 of 87 matches):"
    )


async def test_nothing_found() -> None:
    assert await search(FakeBestBuy(EMPTY), query="flux capacitor") == (
        "Best Buy has no products matching “flux capacitor”."
    )


@pytest.mark.parametrize(
    ("query", "price", "message"),
    [
        ("  !!! ", 0, "I need the name or kind of product to look for."),
        ("tv", -5, "The price limit must be a positive amount."),
        ("tv", float("inf"), "The price limit must be a positive amount."),
    ],
)
async def test_bad_arguments_make_no_request(query: str, price: float, message: str) -> None:
    fake = FakeBestBuy()
    with pytest.raises(ConnectorError) as caught:
        await search(fake, query=query, max_price=price)
    assert caught.value.message == message
    assert fake.requests == []


async def test_endpoint_override() -> None:
    fake = FakeBestBuy()
    tools = tools_for(fake, endpoints={"bestbuy": "http://127.0.0.1:9/bby/v1/"})
    await tools["shopping_search"].func(query="tv")
    assert str(fake.requests[0].url).startswith("http://127.0.0.1:9/bby/v1/products(search=tv)?")


# ---------------------------------------------------------------- keys and failures


async def test_missing_key() -> None:
    fake = FakeBestBuy()
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake, secrets={})["shopping_search"].func(query="tv")
    assert caught.value.message == "Connect Best Buy first: python main.py connect shopping"
    assert fake.requests == []


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_key_or_quota(status: int) -> None:
    reply = httpx.Response(status, text="<h1>403 Developer Inactive</h1>")
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBestBuy(lambda _r: reply))
    assert caught.value.message == (
        "Best Buy refused the request: your API key may be wrong or its daily call limit used "
        "up. Check the key with: python main.py connect shopping"
    )
    assert KEY not in caught.value.message


async def test_rate_limit() -> None:
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBestBuy(lambda _r: httpx.Response(429, text="Over QPS")))
    assert caught.value.message == "Best Buy is rate-limiting requests; try again in a minute."
    assert caught.value.retryable


async def test_bad_request_message_without_the_key() -> None:
    body = {
        "error": {
            "code": 400,
            "status": "400 Bad Request",
            "message": f"Couldn't understand '(search=tv&apiKey={KEY})'",
        }
    }
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBestBuy(lambda _r: httpx.Response(400, json=body)))
    assert caught.value.message == (
        "Best Buy couldn't run that search: Couldn't understand '(search=tv&apiKey=[key])'."
    )


@pytest.mark.parametrize("status", [500, 501, 503])
async def test_server_errors(status: int) -> None:
    body = {
        "errorMessage": "An unexpected error kept us from completing your request",
        "status": status,
    }
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBestBuy(lambda _r: httpx.Response(status, json=body)))
    assert caught.value.message == f"Best Buy is having trouble right now (HTTP {status})."
    assert caught.value.retryable


async def test_timeout_never_shows_the_url() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout(f"timed out reading {request.url}", request=request)

    with pytest.raises(ConnectorError) as caught:
        await search(FakeBestBuy(hang))
    assert caught.value.message == "Best Buy did not answer in time."


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<?xml version='1.0'?><products/>"),
        httpx.Response(200, json={"total": 1}),
        httpx.Response(200, json={"products": [{"sku": 1, "name": "No price"}]}),
        httpx.Response(
            200, json={"products": [{**HEADPHONES["products"][0], "salePrice": "cheap"}]}
        ),
        httpx.Response(200, json=[]),
    ],
    ids=["xml", "no-products", "no-price", "bad-price", "array"],
)
async def test_malformed(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBestBuy(lambda _r: reply))
    assert caught.value.message == "Best Buy sent product results I couldn't read."


# ---------------------------------------------------------------- helpers and wiring


def test_search_words() -> None:
    assert search_words('65" OLED TV (2024), w/ stand!') == [
        "65",
        "OLED",
        "TV",
        "2024",
        "w",
        "stand",
    ]
    assert len(search_words("a " * 20)) == 8


def test_schema_progress_and_metadata() -> None:
    tools = tools_for(FakeBestBuy())
    assert list(tools) == ["shopping_search"]
    assert not tools["shopping_search"].side_effect
    schema = function_tool(tools["shopping_search"].func).params_json_schema
    assert schema["properties"]["order"]["enum"] == ["best_selling", "lowest_price", "top_rated"]
    assert render_progress(tools["shopping_search"].progress, {"query": "TVs"}) == (
        "Searching Best Buy for TVs..."
    )
    assert CONNECTOR.requires_secrets == ("bestbuy",)
    assert "developer.bestbuy.com" in CONNECTOR.key_help
