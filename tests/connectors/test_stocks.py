"""The stocks connector against a fake Finnhub speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.stocks import CONNECTOR, SymbolMatch, best_match, looks_like_ticker

KEY = "c0ffee1234abcd"

AAPL_QUOTE = {
    "c": 261.74,
    "d": 2.15,
    "dp": 0.8282,
    "h": 263.31,
    "l": 258.1,
    "o": 259.0,
    "pc": 259.59,
    "t": 1763751600,
}
UNKNOWN_QUOTE = {"c": 0, "d": None, "dp": None, "h": 0, "l": 0, "o": 0, "pc": 0, "t": 0}
APPLE_SEARCH = {
    "count": 4,
    "result": [
        {
            "description": "APPLE INC",
            "displaySymbol": "AAPL.SW",
            "symbol": "AAPL.SW",
            "type": "Common Stock",
        },
        {
            "description": "APPLE INC",
            "displaySymbol": "AAPL",
            "symbol": "AAPL",
            "type": "Common Stock",
        },
        {
            "description": "APPLE HOSPITALITY REIT INC",
            "displaySymbol": "APLE",
            "symbol": "APLE",
            "type": "Common Stock",
        },
        {
            "description": "APPLE INC",
            "displaySymbol": "APC.DE",
            "symbol": "APC.DE",
            "type": "Common Stock",
        },
    ],
}

Handler = Callable[[httpx.Request], httpx.Response]


class FakeFinnhub:
    def __init__(
        self,
        quotes: dict[str, dict[str, Any]] | Handler | None = None,
        search: dict[str, Any] | Handler = APPLE_SEARCH,
    ) -> None:
        self.quotes = quotes if quotes is not None else {"AAPL": AAPL_QUOTE}
        self.search = search
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/quote"):
            if callable(self.quotes):
                return self.quotes(request)
            symbol = request.url.params["symbol"]
            return httpx.Response(200, json=self.quotes.get(symbol, UNKNOWN_QUOTE))
        if request.url.path.endswith("/search"):
            if callable(self.search):
                return self.search(request)
            return httpx.Response(200, json=self.search)
        return httpx.Response(404, json={"error": "Not found"})


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def tools_for(
    fake: FakeFinnhub, secrets: dict[str, str] | None = None, **ctx: Any
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    context = ConnectorContext(
        http=http, secrets=Secrets({"finnhub": KEY} if secrets is None else secrets), **ctx
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(context)}


async def quote(fake: FakeFinnhub, symbol: str = "AAPL") -> str:
    return await tools_for(fake)["stock_quote"].func(symbol=symbol)


# ---------------------------------------------------------------- happy paths


async def test_quote_by_ticker() -> None:
    fake = FakeFinnhub()

    said = await quote(fake)

    assert said == (
        "AAPL is at $261.74, up $2.15 (0.83%) today. "
        "Day range $258.10 to $263.31; opened at $259.00; previous close $259.59."
    )
    (request,) = fake.requests
    assert request.url.host == "finnhub.io"
    assert request.url.path == "/api/v1/quote"
    assert dict(request.url.params) == {"symbol": "AAPL"}
    assert request.headers["X-Finnhub-Token"] == KEY
    assert KEY not in str(request.url)


async def test_quote_by_company_name_prefers_the_primary_us_listing() -> None:
    fake = FakeFinnhub()

    said = await quote(fake, "Apple")

    assert said.startswith("Apple Inc (AAPL) is at $261.74, up $2.15")
    assert [r.url.path for r in fake.requests] == ["/api/v1/search", "/api/v1/quote"]
    assert dict(fake.requests[0].url.params) == {"q": "Apple"}


async def test_an_unknown_ticker_falls_back_to_the_name_search() -> None:
    fake = FakeFinnhub()

    said = await quote(fake, "APPLE")

    assert said.startswith("Apple Inc (AAPL) is at")
    assert [r.url.params.get("symbol") or r.url.params.get("q") for r in fake.requests] == [
        "APPLE",
        "APPLE",
        "AAPL",
    ]


async def test_falling_prices_and_foreign_listings_have_no_dollar_sign() -> None:
    falling = {**AAPL_QUOTE, "c": 220.5, "d": -3.25, "dp": -1.4523}
    fake = FakeFinnhub(quotes={"AAPL.SW": falling})

    said = await quote(fake, "AAPL.SW")

    assert said.startswith("AAPL.SW is at 220.50, down 3.25 (1.45%) today.")


async def test_nothing_found() -> None:
    fake = FakeFinnhub(search={"count": 0, "result": []})
    with pytest.raises(ConnectorError) as caught:
        await quote(fake, "Blorptech")
    assert caught.value.message == "I couldn't find a stock called Blorptech."


async def test_symbol_search_lists_matches() -> None:
    fake = FakeFinnhub()
    said = await tools_for(fake)["stock_symbol_search"].func(query="apple")
    assert said.splitlines()[:3] == [
        "Ticker symbols matching “apple”:",
        "- AAPL.SW: Apple Inc (Common Stock)",
        "- AAPL: Apple Inc (Common Stock)",
    ]


async def test_endpoint_override() -> None:
    fake = FakeFinnhub()
    await tools_for(fake, endpoints={"finnhub": "http://127.0.0.1:9/fh/"})["stock_quote"].func(
        symbol="AAPL"
    )
    assert str(fake.requests[0].url) == "http://127.0.0.1:9/fh/quote?symbol=AAPL"


# ---------------------------------------------------------------- keys and failures


@pytest.mark.parametrize("tool", ["stock_quote", "stock_symbol_search"])
async def test_missing_key(tool: str) -> None:
    fake = FakeFinnhub()
    tools = tools_for(fake, secrets={})
    with pytest.raises(ConnectorError) as caught:
        await tools[tool].func("AAPL")
    assert caught.value.message == "Connect Finnhub first: python main.py connect stocks"
    assert fake.requests == []


async def test_invalid_key() -> None:
    fake = FakeFinnhub(quotes=lambda _r: httpx.Response(401, json={"error": "Invalid API key"}))
    with pytest.raises(ConnectorError) as caught:
        await quote(fake)
    assert caught.value.message == (
        "Finnhub didn't accept your API key. Check it with: python main.py connect stocks"
    )


async def test_plan_without_access() -> None:
    reply = httpx.Response(403, json={"error": "You don't have access to this resource."})
    with pytest.raises(ConnectorError) as caught:
        await quote(FakeFinnhub(quotes=lambda _r: reply))
    assert caught.value.message == (
        "Your Finnhub plan doesn't include that data (free keys cover US stocks only)."
    )


async def test_rate_limit() -> None:
    reply = httpx.Response(
        429, json={"error": "API limit reached. Please try again later. Remaining Limit: 0"}
    )
    with pytest.raises(ConnectorError) as caught:
        await quote(FakeFinnhub(quotes=lambda _r: reply))
    assert caught.value.message == (
        "Finnhub's request limit for your key is reached; try again in a minute."
    )
    assert caught.value.retryable


async def test_error_in_a_200_reply() -> None:
    reply = httpx.Response(200, json={"error": f"Wrong symbol for token {KEY}"})
    with pytest.raises(ConnectorError) as caught:
        await quote(FakeFinnhub(quotes=lambda _r: reply))
    assert caught.value.message == "Finnhub couldn't answer that: Wrong symbol for token [key]"


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors(status: int) -> None:
    with pytest.raises(ConnectorError) as caught:
        await quote(FakeFinnhub(quotes=lambda _r: httpx.Response(status)))
    assert caught.value.message == f"Finnhub is having trouble right now (HTTP {status})."


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        await quote(FakeFinnhub(quotes=hang))
    assert caught.value.message == "Finnhub did not answer in time."


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json=[261.74]),
        httpx.Response(200, json={"d": 1.0}),
        httpx.Response(200, json={**AAPL_QUOTE, "c": "n/a"}),
    ],
    ids=["html", "array", "no-price", "bad-price"],
)
async def test_malformed_quote(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await quote(FakeFinnhub(quotes=lambda _r: reply))
    assert caught.value.message == "Finnhub sent market data I couldn't read."


async def test_malformed_search() -> None:
    fake = FakeFinnhub(search={"count": 1, "result": [{"description": "no symbol"}]})
    with pytest.raises(ConnectorError, match="couldn't read"):
        await quote(fake, "Apple")


# ---------------------------------------------------------------- helpers and wiring


def test_ticker_shapes_and_matching() -> None:
    assert looks_like_ticker("BRK.B") and looks_like_ticker("F")
    assert not looks_like_ticker("Apple") and not looks_like_ticker("TOOLONG")
    etf = SymbolMatch("SPY", "SPDR S&P 500 ETF TRUST", "ETP")
    warrant = SymbolMatch("XYZW", "XYZ WARRANT", "Warrant")
    assert best_match("spy", [warrant, etf]) == etf
    assert best_match("s&p", [warrant, etf]) == etf
    assert best_match("x", []) is None


def test_schemas_progress_and_metadata() -> None:
    tools = tools_for(FakeFinnhub())
    assert sorted(tools) == ["stock_quote", "stock_symbol_search"]
    assert function_tool(tools["stock_quote"].func).params_json_schema["required"] == ["symbol"]
    assert render_progress(tools["stock_quote"].progress, {"symbol": "AAPL"}) == (
        "Getting the price of AAPL..."
    )
    assert CONNECTOR.requires_secrets == ("finnhub",)
    assert "finnhub.io" in CONNECTOR.key_help
    assert not any(tool.side_effect for tool in tools.values())
