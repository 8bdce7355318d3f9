"""The crypto connector against a fake CoinGecko speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.crypto import CONNECTOR, currency_code, format_amount, split_coins

PRICES = {
    "bitcoin": {
        "usd": 67187.3358,
        "usd_24h_change": 3.6372,
        "eur": 61880.12,
        "eur_24h_change": 3.1,
    },
    "ethereum": {"usd": 3461.2, "usd_24h_change": -1.204},
    "pepe": {"usd": 0.0000123456, "usd_24h_change": 0.001},
}
PEPE_SEARCH = {
    "coins": [
        {
            "id": "pepe",
            "name": "Pepe",
            "api_symbol": "pepe",
            "symbol": "PEPE",
            "market_cap_rank": 28,
            "thumb": "https://coin-images.coingecko.com/coins/images/29850/thumb/pepe.jpg",
            "large": "https://coin-images.coingecko.com/coins/images/29850/large/pepe.jpg",
        },
        {
            "id": "pepe-2",
            "name": "Pepe 2.0",
            "api_symbol": "pepe-2",
            "symbol": "PEPE2.0",
            "market_cap_rank": None,
            "thumb": "",
            "large": "",
        },
    ],
    "exchanges": [],
    "icos": [],
    "categories": [],
    "nfts": [],
}
RATE_LIMITED = {
    "status": {
        "error_code": 429,
        "error_message": "You've exceeded the Rate Limit. Please visit "
        "https://www.coingecko.com/en/api/pricing to subscribe to our API plans.",
    }
}

Handler = Callable[[httpx.Request], httpx.Response]


class FakeCoinGecko:
    def __init__(
        self, price: Handler | None = None, search: dict[str, Any] | Handler = PEPE_SEARCH
    ) -> None:
        self.price = price
        self.search = search
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/simple/price"):
            if self.price is not None:
                return self.price(request)
            ids = request.url.params["ids"].split(",")
            currency = request.url.params["vs_currencies"]
            body = {
                i: {k: v for k, v in PRICES[i].items() if k.startswith(currency)}
                for i in ids
                if i in PRICES
            }
            return httpx.Response(200, json=body)
        if request.url.path.endswith("/search"):
            if callable(self.search):
                return self.search(request)
            return httpx.Response(200, json=self.search)
        return httpx.Response(404, json={"error": "Incorrect path"})


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def tools_for(
    fake: FakeCoinGecko, settings: Any = None, secrets: dict[str, str] | None = None, **ctx: Any
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    context = ConnectorContext(http=http, settings=settings, secrets=Secrets(secrets or {}), **ctx)
    return {tool.name: tool for tool in CONNECTOR.build_tools(context)}


async def price(fake: FakeCoinGecko, coins: str = "bitcoin", **kw: Any) -> str:
    return await tools_for(fake)["crypto_price"].func(coins=coins, **kw)


# ---------------------------------------------------------------- happy paths


async def test_known_coins_need_no_search_and_share_one_request() -> None:
    fake = FakeCoinGecko()

    said = await price(fake, "BTC and ethereum")

    assert said == (
        "Bitcoin is at $67,187.34, up 3.64% in the last 24 hours. "
        "Ethereum is at $3,461.20, down 1.20% in the last 24 hours."
    )
    (request,) = fake.requests
    assert request.url.host == "api.coingecko.com"
    assert request.url.path == "/api/v3/simple/price"
    assert dict(request.url.params) == {
        "ids": "bitcoin,ethereum",
        "vs_currencies": "usd",
        "include_24hr_change": "true",
    }
    assert "x-cg-demo-api-key" not in request.headers


async def test_other_coins_are_found_by_search_and_remembered() -> None:
    fake = FakeCoinGecko()
    tools = tools_for(fake)

    said = await tools["crypto_price"].func(coins="pepe")
    await tools["crypto_price"].func(coins="Pepe")

    assert said == "Pepe is at $0.00001235, about the same as 24 hours ago."
    paths = [r.url.path.rsplit("/", 1)[-1] for r in fake.requests]
    assert paths == ["search", "price", "price"]
    assert dict(fake.requests[0].url.params) == {"query": "pepe"}


async def test_currency_by_word_or_setting() -> None:
    fake = FakeCoinGecko()
    said = await price(fake, "bitcoin", currency="euros")
    assert said == "Bitcoin is at €61,880.12, up 3.10% in the last 24 hours."

    fake = FakeCoinGecko()
    tools = tools_for(fake, settings=SimpleNamespace(currency="EUR"))
    await tools["crypto_price"].func(coins="btc")
    assert fake.requests[0].url.params["vs_currencies"] == "eur"


async def test_unknown_coin() -> None:
    fake = FakeCoinGecko(search={"coins": [], "exchanges": [], "icos": [], "categories": []})
    with pytest.raises(ConnectorError) as caught:
        await price(fake, "notacoin")
    assert caught.value.message == "I couldn't find a cryptocurrency called notacoin."


async def test_unsupported_currency() -> None:
    fake = FakeCoinGecko(price=lambda _r: httpx.Response(200, json={"bitcoin": {}}))
    with pytest.raises(ConnectorError) as caught:
        await price(fake, "bitcoin", currency="xyz")
    assert caught.value.message == "CoinGecko doesn't price coins in XYZ."


async def test_missing_coin_in_the_answer() -> None:
    fake = FakeCoinGecko(price=lambda _r: httpx.Response(200, json={}))
    with pytest.raises(ConnectorError) as caught:
        await price(fake, "solana")
    assert caught.value.message == "CoinGecko has no price for Solana."


async def test_too_many_coins_or_none() -> None:
    fake = FakeCoinGecko()
    with pytest.raises(ConnectorError, match="up to 5 coins"):
        await price(fake, "btc, eth, sol, xrp, ada, doge")
    with pytest.raises(ConnectorError, match="I need the name of a cryptocurrency"):
        await price(fake, " , ")
    assert fake.requests == []


async def test_demo_key_is_sent_in_the_documented_header() -> None:
    fake = FakeCoinGecko()
    tools = tools_for(fake, secrets={"coingecko": "CG-demo-key"})
    await tools["crypto_price"].func(coins="btc")
    assert fake.requests[0].headers["x-cg-demo-api-key"] == "CG-demo-key"
    assert "CG-demo-key" not in str(fake.requests[0].url)


async def test_endpoint_override() -> None:
    fake = FakeCoinGecko()
    tools = tools_for(fake, endpoints={"coingecko": "http://127.0.0.1:9/cg"})
    await tools["crypto_price"].func(coins="btc")
    assert str(fake.requests[0].url).startswith("http://127.0.0.1:9/cg/simple/price?")


# ---------------------------------------------------------------- failures


async def test_rate_limit() -> None:
    fake = FakeCoinGecko(price=lambda _r: httpx.Response(429, json=RATE_LIMITED))
    with pytest.raises(ConnectorError) as caught:
        await price(fake)
    assert caught.value.message == "CoinGecko is rate-limiting requests; try again in a minute."
    assert caught.value.retryable and caught.value.status == 429


async def test_rejected_demo_key() -> None:
    body = {"status": {"error_code": 10002, "error_message": "API Key Missing"}}
    fake = FakeCoinGecko(price=lambda _r: httpx.Response(401, json=body))
    tools = tools_for(fake, secrets={"coingecko": "CG-bad"})
    with pytest.raises(ConnectorError) as caught:
        await tools["crypto_price"].func(coins="btc")
    assert caught.value.message == (
        "CoinGecko didn't accept your demo API key. Check it with: python main.py connect crypto"
    )


async def test_refused_without_a_key() -> None:
    fake = FakeCoinGecko(price=lambda _r: httpx.Response(403, text="<html>blocked</html>"))
    with pytest.raises(ConnectorError) as caught:
        await price(fake)
    assert caught.value.message == "CoinGecko refused the request (not authorised)."


async def test_bad_request_message_is_relayed() -> None:
    body = {"error": "invalid vs_currency"}
    fake = FakeCoinGecko(price=lambda _r: httpx.Response(400, json=body))
    with pytest.raises(ConnectorError) as caught:
        await price(fake)
    assert caught.value.message == "CoinGecko couldn't answer that: invalid vs_currency"


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors(status: int) -> None:
    fake = FakeCoinGecko(search=lambda _r: httpx.Response(status))
    with pytest.raises(ConnectorError) as caught:
        await price(fake, "pepe")
    assert caught.value.message == f"CoinGecko is having trouble right now (HTTP {status})."


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        await price(FakeCoinGecko(price=hang))
    assert caught.value.message == "CoinGecko did not answer in time."


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<!doctype html>"),
        httpx.Response(200, json=[]),
        httpx.Response(200, json={"bitcoin": {"usd": "lots"}}),
    ],
    ids=["html", "array", "bad-number"],
)
async def test_malformed_prices(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await price(FakeCoinGecko(price=lambda _r: reply))
    assert caught.value.message == "CoinGecko sent prices I couldn't read."


async def test_malformed_search() -> None:
    fake = FakeCoinGecko(search={"coins": [{"symbol": "X"}]})
    with pytest.raises(ConnectorError, match="couldn't read"):
        await price(fake, "pepe")


# ---------------------------------------------------------------- helpers and wiring


def test_helpers() -> None:
    assert split_coins("BTC, eth & sol and xrp") == ["BTC", "eth", "sol", "xrp"]
    assert currency_code("Pounds") == "gbp"
    with pytest.raises(ConnectorError, match="isn't a currency code"):
        currency_code("monopoly money")
    assert format_amount(0.081234, "eur") == "€0.08123"
    assert format_amount(0.034567, "btc") == "0.03457 BTC"
    assert format_amount(1234.5, "chf") == "1,234.50 CHF"


def test_schema_progress_and_metadata() -> None:
    tools = tools_for(FakeCoinGecko())
    assert list(tools) == ["crypto_price"]
    schema = function_tool(tools["crypto_price"].func).params_json_schema
    assert sorted(schema["properties"]) == ["coins", "currency"]
    assert render_progress(tools["crypto_price"].progress, {"coins": "bitcoin"}) == (
        "Checking the price of bitcoin..."
    )
    assert CONNECTOR.requires_secrets == ()
    assert not tools["crypto_price"].side_effect
