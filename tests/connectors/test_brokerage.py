"""The brokerage connector against a fake Alpaca speaking its documented JSON.

What matters most here: paper trading unless ``alpaca_live`` is exactly True, the mode said in
every read-back and answer, and no order reaching Alpaca without the user's approval.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.brokerage import CONNECTOR, decimal_text, shares
from src.connectors.orchestrator import DECLINED, Orchestrator

KEY_ID = "PKTEST123"
SECRET = "secret-abc-987"
SECRETS = {"alpaca.key_id": KEY_ID, "alpaca.secret": SECRET}

ACCOUNT = {
    "id": "904837e3-3b76-47ec-b432-046db621571b",
    "account_number": "PA3J8LJ0N9BT",
    "status": "ACTIVE",
    "crypto_status": "ACTIVE",
    "currency": "USD",
    "buying_power": "262113.632",
    "regt_buying_power": "262113.632",
    "daytrading_buying_power": "0",
    "non_marginable_buying_power": "131056.81",
    "cash": "-23140.2",
    "accrued_fees": "0",
    "portfolio_value": "103820.56",
    "pattern_day_trader": False,
    "trading_blocked": False,
    "transfers_blocked": False,
    "account_blocked": False,
    "created_at": "2025-06-01T12:00:00Z",
    "trade_suspended_by_user": False,
    "multiplier": "2",
    "shorting_enabled": True,
    "equity": "103820.56",
    "last_equity": "103529.24",
    "long_market_value": "126960.76",
    "short_market_value": "0",
    "initial_margin": "63480.38",
    "maintenance_margin": "38088.228",
    "sma": "0",
    "daytrade_count": 0,
}


def position(symbol: str, qty: str, value: str, pl: str, plpc: str) -> dict[str, Any]:
    return {
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "asset_marginable": True,
        "avg_entry_price": "100.0",
        "qty": qty,
        "qty_available": qty,
        "side": "long" if not qty.startswith("-") else "short",
        "market_value": value,
        "cost_basis": "500.0",
        "unrealized_pl": pl,
        "unrealized_plpc": plpc,
        "unrealized_intraday_pl": "10.0",
        "unrealized_intraday_plpc": "0.0084",
        "current_price": "120.0",
        "lastday_price": "119.0",
        "change_today": "0.0084",
    }


def order(
    symbol: str = "AAPL",
    qty: str = "10",
    side: str = "buy",
    kind: str = "market",
    limit: str | None = None,
    status: str = "accepted",
    order_id: str = "61e69015-8549-4bfd-b9c3-01e75843f47d",
) -> dict[str, Any]:
    return {
        "id": order_id,
        "client_order_id": "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
        "created_at": "2026-11-21T15:00:00.5Z",
        "updated_at": "2026-11-21T15:00:00.5Z",
        "submitted_at": "2026-11-21T15:00:00.5Z",
        "filled_at": None,
        "expired_at": None,
        "canceled_at": None,
        "failed_at": None,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": symbol,
        "asset_class": "us_equity",
        "notional": None,
        "qty": qty,
        "filled_qty": "0",
        "filled_avg_price": None,
        "order_class": "",
        "order_type": kind,
        "type": kind,
        "side": side,
        "time_in_force": "day",
        "limit_price": limit,
        "stop_price": None,
        "status": status,
        "extended_hours": False,
        "legs": None,
    }


SNAPSHOT = {
    "symbol": "AAPL",
    "latestTrade": {
        "t": "2026-11-21T20:59:59.9Z",
        "x": "V",
        "p": 261.74,
        "s": 100,
        "c": ["@"],
        "i": 52983525037,
        "z": "C",
    },
    "latestQuote": {
        "t": "2026-11-21T20:59:59.9Z",
        "ax": "V",
        "ap": 261.78,
        "as": 2,
        "bx": "V",
        "bp": 261.7,
        "bs": 3,
        "c": ["R"],
        "z": "C",
    },
    "minuteBar": {"t": "2026-11-21T20:59:00Z", "o": 261.6, "h": 261.8, "l": 261.5, "c": 261.74},
    "dailyBar": {"t": "2026-11-21T05:00:00Z", "o": 259.0, "h": 263.31, "l": 258.1, "c": 261.74},
    "prevDailyBar": {"t": "2026-11-20T05:00:00Z", "o": 257.0, "h": 260.0, "l": 256.5, "c": 259.59},
}

Route = Callable[[httpx.Request], httpx.Response]


class FakeAlpaca:
    """Routes by method and path; anything unscripted answers 404 like Alpaca."""

    def __init__(self, routes: dict[str, Route | Any] | None = None) -> None:
        self.routes: dict[str, Route | Any] = {
            "GET /v2/account": ACCOUNT,
            "GET /v2/positions": [position("AAPL", "5", "600.0", "100.0", "0.20")],
            "GET /v2/orders": [],
            "POST /v2/orders": lambda r: httpx.Response(
                200, json=order(**_order_args(json.loads(r.content)))
            ),
            "GET /v2/stocks/AAPL/snapshot": SNAPSHOT,
            **(routes or {}),
        }
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/paper").removeprefix("/data")
        key = f"{request.method} {path}"
        if key not in self.routes and request.method == "DELETE":
            return httpx.Response(204)
        answer = self.routes.get(key)
        if answer is None:
            return httpx.Response(404, json={"code": 40410000, "message": "not found"})
        if callable(answer):
            return answer(request)
        return httpx.Response(200, json=answer)

    def sent(self, key: str) -> list[httpx.Request]:
        return [r for r in self.requests if f"{r.method} {r.url.path}" == key]


def _order_args(body: dict[str, str]) -> dict[str, Any]:
    return {
        "symbol": body["symbol"],
        "qty": body["qty"],
        "side": body["side"],
        "kind": body["type"],
        "limit": body.get("limit_price"),
    }


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def context(
    fake: FakeAlpaca, settings: Any = None, secrets: dict[str, str] | None = None, **kw: Any
) -> ConnectorContext:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    return ConnectorContext(
        http=http,
        settings=settings,
        secrets=Secrets(SECRETS if secrets is None else secrets),
        **kw,
    )


def tools_for(fake: FakeAlpaca, settings: Any = None, **kw: Any) -> dict[str, ToolDef]:
    return {tool.name: tool for tool in CONNECTOR.build_tools(context(fake, settings, **kw))}


LIVE = SimpleNamespace(alpaca_live=True)


# ---------------------------------------------------------------- reading the account


async def test_account_on_paper_by_default() -> None:
    fake = FakeAlpaca()

    said = await tools_for(fake)["brokerage_account"].func()

    assert said == (
        "Your Alpaca account (paper trading): equity $103,820.56, up $291.32 today; "
        "buying power $262,113.63; cash -$23,140.20."
    )
    (request,) = fake.requests
    assert str(request.url) == "https://paper-api.alpaca.markets/v2/account"
    assert request.headers["APCA-API-KEY-ID"] == KEY_ID
    assert request.headers["APCA-API-SECRET-KEY"] == SECRET


async def test_blocked_account_is_mentioned() -> None:
    fake = FakeAlpaca(
        {"GET /v2/account": {**ACCOUNT, "status": "ACCOUNT_UPDATED", "trading_blocked": True}}
    )
    said = await tools_for(fake)["brokerage_account"].func()
    assert said.endswith("Account status: account updated. Trading is blocked on this account.")


async def test_positions() -> None:
    fake = FakeAlpaca(
        {
            "GET /v2/positions": [
                position("AAPL", "5", "600.0", "100.0", "0.20"),
                position("TSLA", "-3", "-750.0", "-30.0", "-0.0416"),
            ]
        }
    )
    said = await tools_for(fake)["brokerage_positions"].func()
    assert said == (
        "You hold 2 positions (paper trading): 5 shares of AAPL worth $600.00, up $100.00 "
        "(20.00%); short 3 shares of TSLA worth $750.00, down $30.00 (4.16%)."
    )


async def test_no_positions_and_no_orders() -> None:
    fake = FakeAlpaca({"GET /v2/positions": []})
    tools = tools_for(fake)
    assert await tools["brokerage_positions"].func() == (
        "You have no open positions (paper trading)."
    )
    assert await tools["brokerage_orders"].func() == "You have no open orders (paper trading)."
    assert dict(fake.sent("GET /v2/orders")[0].url.params) == {
        "status": "open",
        "limit": "100",
        "direction": "desc",
    }


async def test_open_orders() -> None:
    fake = FakeAlpaca(
        {
            "GET /v2/orders": [
                order(),
                order("TSLA", "5", "sell", "limit", "250", "new", "f00"),
            ]
        }
    )
    said = await tools_for(fake)["brokerage_orders"].func()
    assert said == (
        "Open orders (paper trading): buy 10 shares of AAPL at market (accepted); "
        "sell 5 shares of TSLA, limit $250.00 (new)."
    )


async def test_quote_from_the_data_api() -> None:
    fake = FakeAlpaca()

    said = await tools_for(fake)["brokerage_quote"].func(symbol="aapl")

    assert said == (
        "AAPL last traded at $261.74, up 0.83% from the previous close of $259.59. "
        "Bid $261.70, ask $261.78."
    )
    assert str(fake.requests[0].url) == "https://data.alpaca.markets/v2/stocks/AAPL/snapshot"
    assert fake.requests[0].headers["APCA-API-KEY-ID"] == KEY_ID


async def test_quote_for_an_unknown_symbol() -> None:
    fake = FakeAlpaca()
    said = await tools_for(fake)["brokerage_quote"].func(symbol="ZZZZ")
    assert said == "Alpaca has no market data for ZZZZ."


# ---------------------------------------------------------------- paper and live


async def test_live_only_when_the_setting_is_exactly_true() -> None:
    for setting in ("yes", 1, "true"):
        fake = FakeAlpaca()
        tools = tools_for(fake, SimpleNamespace(alpaca_live=setting))
        assert "(paper trading)" in tools["buy_stock"].readback
        await tools["brokerage_account"].func()
        assert fake.requests[0].url.host == "paper-api.alpaca.markets"

    fake = FakeAlpaca()
    tools = tools_for(fake, LIVE)
    said = await tools["brokerage_account"].func()
    assert fake.requests[0].url.host == "api.alpaca.markets"
    assert said.startswith("Your Alpaca account (LIVE trading with real money):")


def test_every_readback_names_the_mode() -> None:
    for settings, mode in ((None, "(paper trading)"), (LIVE, "(LIVE trading with real money)")):
        tools = tools_for(FakeAlpaca(), settings)
        side_effects = [t for t in tools.values() if t.side_effect]
        assert sorted(t.name for t in side_effects) == [
            "buy_stock",
            "buy_stock_limit",
            "cancel_stock_orders",
            "sell_stock",
            "sell_stock_limit",
        ]
        for tool in side_effects:
            assert tool.readback.endswith(mode), tool.name


def test_readbacks_say_exactly_what_will_happen() -> None:
    tools = tools_for(FakeAlpaca())
    args = {"symbol": "AAPL", "quantity": 10, "limit_price": 187.5}
    assert render_progress(tools["buy_stock"].readback, args) == (
        "Buy 10 shares of AAPL at market (paper trading)"
    )
    assert render_progress(tools["sell_stock_limit"].readback, args) == (
        "Sell 10 shares of AAPL at a limit of 187.5 dollars a share, good for today (paper trading)"
    )
    assert render_progress(tools["cancel_stock_orders"].readback, args) == (
        "Cancel all open orders for AAPL (paper trading)"
    )
    live = tools_for(FakeAlpaca(), LIVE)
    assert render_progress(live["buy_stock"].readback, args) == (
        "Buy 10 shares of AAPL at market (LIVE trading with real money)"
    )


async def test_paper_mode_refuses_a_live_endpoint() -> None:
    fake = FakeAlpaca()
    tools = tools_for(fake, endpoints={"alpaca": "https://api.alpaca.markets/"})
    with pytest.raises(ConnectorError) as caught:
        await tools["buy_stock"].func(symbol="AAPL", quantity=1)
    assert caught.value.message == (
        "Your Alpaca endpoint is the live trading server but live trading is off "
        "(alpaca_live); I won't use it."
    )
    assert fake.requests == []


async def test_endpoints_are_overridable() -> None:
    fake = FakeAlpaca()
    tools = tools_for(
        fake,
        endpoints={"alpaca": "http://127.0.0.1:9/paper", "alpaca_data": "http://127.0.0.1:9/data"},
    )
    await tools["brokerage_account"].func()
    await tools["brokerage_quote"].func(symbol="AAPL")
    assert [str(r.url) for r in fake.requests] == [
        "http://127.0.0.1:9/paper/v2/account",
        "http://127.0.0.1:9/data/v2/stocks/AAPL/snapshot",
    ]


# ---------------------------------------------------------------- orders


async def test_market_buy_sends_a_day_order() -> None:
    fake = FakeAlpaca()

    said = await tools_for(fake)["buy_stock"].func(symbol=" aapl ", quantity=10)

    assert said == (
        "Order placed (paper trading): buy 10 shares of AAPL at market. Status: accepted."
    )
    (request,) = fake.sent("POST /v2/orders")
    assert json.loads(request.content) == {
        "symbol": "AAPL",
        "qty": "10",
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
    }


async def test_limit_sell_with_a_fractional_quantity() -> None:
    fake = FakeAlpaca()

    said = await tools_for(fake, LIVE)["sell_stock_limit"].func(
        symbol="TSLA", quantity=0.5, limit_price=250
    )

    assert said == (
        "Order placed (LIVE trading with real money): sell 0.5 shares of TSLA, limit $250.00. "
        "Status: accepted."
    )
    body = json.loads(fake.sent("POST /v2/orders")[0].content)
    assert body == {
        "symbol": "TSLA",
        "qty": "0.5",
        "side": "sell",
        "type": "limit",
        "time_in_force": "day",
        "limit_price": "250",
    }
    assert fake.requests[0].url.host == "api.alpaca.markets"


async def test_a_rejected_order_is_not_called_placed() -> None:
    fake = FakeAlpaca({"POST /v2/orders": order(status="rejected")})
    said = await tools_for(fake)["buy_stock"].func(symbol="AAPL", quantity=10)
    assert said == (
        "Alpaca did not take the order (paper trading): buy 10 shares of AAPL at market. "
        "Status: rejected."
    )


async def test_a_filled_order_says_its_price() -> None:
    filled = {**order(status="filled"), "filled_avg_price": "261.7412", "filled_qty": "10"}
    fake = FakeAlpaca({"POST /v2/orders": filled})
    said = await tools_for(fake)["buy_stock"].func(symbol="AAPL", quantity=10)
    assert said.endswith("Status: filled. Filled at $261.74 a share.")


@pytest.mark.parametrize(
    ("symbol", "quantity", "price", "message"),
    [
        ("AAPL", 0, None, "The number of shares must be more than zero."),
        ("AAPL", float("nan"), None, "The number of shares must be more than zero."),
        ("AAPL", 1e9, None, "I won't place an order for more than 100,000 shares."),
        (
            "Apple Inc",
            1,
            None,
            "Apple Inc doesn't look like a stock ticker; give the ticker, e.g. AAPL.",
        ),
        ("AAPL", 1, -5.0, "The limit price must be more than zero."),
    ],
)
async def test_bad_orders_never_reach_alpaca(
    symbol: str, quantity: float, price: float | None, message: str
) -> None:
    fake = FakeAlpaca()
    tools = tools_for(fake)
    with pytest.raises(ConnectorError) as caught:
        if price is None:
            await tools["buy_stock"].func(symbol=symbol, quantity=quantity)
        else:
            await tools["buy_stock_limit"].func(symbol=symbol, quantity=quantity, limit_price=price)
    assert caught.value.message == message
    assert fake.sent("POST /v2/orders") == []


async def test_insufficient_buying_power_is_relayed() -> None:
    body = {
        "buying_power": "176.28",
        "code": 40310000,
        "cost_basis": "2617.4",
        "message": "insufficient buying power",
    }
    fake = FakeAlpaca({"POST /v2/orders": lambda _r: httpx.Response(403, json=body)})
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["buy_stock"].func(symbol="AAPL", quantity=10)
    assert caught.value.message == "Alpaca refused: insufficient buying power."


async def test_unprocessable_order_is_relayed() -> None:
    body = {"code": 42210000, "message": "qty must be > 0"}
    fake = FakeAlpaca({"POST /v2/orders": lambda _r: httpx.Response(422, json=body)})
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["sell_stock"].func(symbol="AAPL", quantity=1)
    assert caught.value.message == "Alpaca refused: qty must be > 0."


async def test_a_lost_order_answer_is_not_called_a_failure() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake = FakeAlpaca({"POST /v2/orders": hang})
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["buy_stock"].func(symbol="AAPL", quantity=1)
    assert caught.value.message == (
        "Alpaca didn't confirm the order, so it may or may not have been placed. "
        "Check your open orders before trying again."
    )
    assert not caught.value.retryable


async def test_cancel_all_open_orders_for_a_symbol() -> None:
    fake = FakeAlpaca(
        {
            "GET /v2/orders": [order(order_id="a1"), order(order_id="b2")],
            "DELETE /v2/orders/b2": lambda _r: httpx.Response(
                422, json={"code": 42210000, "message": "order is not cancelable"}
            ),
        }
    )

    said = await tools_for(fake)["cancel_stock_orders"].func(symbol="aapl")

    assert said == (
        "Cancelled 1 of 2 open AAPL orders (paper trading); "
        "1 could no longer be cancelled (probably already filled)."
    )
    assert fake.sent("GET /v2/orders")[0].url.params["symbols"] == "AAPL"
    assert [r.url.path for r in fake.requests if r.method == "DELETE"] == [
        "/v2/orders/a1",
        "/v2/orders/b2",
    ]


async def test_cancel_everything_or_nothing() -> None:
    fake = FakeAlpaca({"GET /v2/orders": [order(order_id="a1")]})
    assert await tools_for(fake)["cancel_stock_orders"].func(symbol="AAPL") == (
        "Cancelled 1 open AAPL order (paper trading)."
    )
    fake = FakeAlpaca()
    assert await tools_for(fake)["cancel_stock_orders"].func(symbol="AAPL") == (
        "You have no open orders for AAPL (paper trading)."
    )
    assert [r.method for r in fake.requests] == ["GET"]


# ---------------------------------------------------------------- approvals


class Approver:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.readbacks: list[str] = []

    async def request(self, tool: str, agent: str, readback: str, arguments: str) -> bool:
        self.readbacks.append(readback)
        return self.answer


@pytest.mark.parametrize("approve", [True, False])
async def test_an_order_waits_for_the_users_answer(approve: bool) -> None:
    fake = FakeAlpaca()
    approver = Approver(approve)
    orchestrator = Orchestrator([CONNECTOR], context(fake), approver=approver)

    ok, said = await orchestrator.run_tool(
        "buy_stock", json.dumps({"symbol": "AAPL", "quantity": 10})
    )

    assert ok
    assert approver.readbacks == ["Buy 10 shares of AAPL at market (paper trading)"]
    if approve:
        assert said.startswith("Order placed (paper trading): buy 10 shares of AAPL")
        assert len(fake.sent("POST /v2/orders")) == 1
    else:
        assert said == DECLINED
        assert fake.requests == []


# ---------------------------------------------------------------- keys and failures


@pytest.mark.parametrize(
    "secrets",
    [{}, {"alpaca.key_id": KEY_ID}, {"alpaca.secret": SECRET}],
    ids=["none", "id", "secret"],
)
async def test_missing_keys(secrets: dict[str, str]) -> None:
    fake = FakeAlpaca()
    tools = tools_for(fake, secrets=secrets)
    with pytest.raises(ConnectorError) as caught:
        await tools["brokerage_account"].func()
    assert caught.value.message == "Connect Alpaca first: python main.py connect brokerage"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"code": 40110000, "message": "request is not authorized"}),
        (403, {"message": "forbidden."}),
        (403, None),
    ],
    ids=["401", "403-forbidden", "403-empty"],
)
async def test_rejected_keys(status: int, body: dict[str, Any] | None) -> None:
    reply = httpx.Response(status, json=body) if body else httpx.Response(status)
    fake = FakeAlpaca({"GET /v2/account": lambda _r: reply})
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["brokerage_account"].func()
    assert caught.value.message == (
        "Alpaca didn't accept your API keys. Check them with: python main.py connect brokerage"
    )


async def test_rate_limit() -> None:
    fake = FakeAlpaca(
        {"GET /v2/positions": lambda _r: httpx.Response(429, text="too many requests")}
    )
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["brokerage_positions"].func()
    assert caught.value.message == "Alpaca is rate-limiting requests; try again in a minute."
    assert caught.value.retryable


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors(status: int) -> None:
    fake = FakeAlpaca({"GET /v2/account": lambda _r: httpx.Response(status)})
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["brokerage_account"].func()
    assert caught.value.message == f"Alpaca is having trouble right now (HTTP {status})."


async def test_timeout_on_a_read() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake = FakeAlpaca({"GET /v2/stocks/AAPL/snapshot": hang})
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["brokerage_quote"].func(symbol="AAPL")
    assert caught.value.message == "Alpaca did not answer in time."
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("route", "tool", "answer"),
    [
        ("GET /v2/account", "brokerage_account", {**ACCOUNT, "equity": None}),
        ("GET /v2/account", "brokerage_account", ["not", "an", "object"]),
        ("GET /v2/positions", "brokerage_positions", {"AAPL": 5}),
        ("GET /v2/positions", "brokerage_positions", [{"symbol": "AAPL"}]),
        ("GET /v2/orders", "brokerage_orders", [{"symbol": "AAPL"}]),
        ("GET /v2/stocks/AAPL/snapshot", "brokerage_quote", {"latestTrade": {"p": "x"}}),
    ],
    ids=["account-field", "account-array", "positions-object", "position-fields", "order", "quote"],
)
async def test_malformed(route: str, tool: str, answer: Any) -> None:
    fake = FakeAlpaca({route: answer})
    tools = tools_for(fake)
    with pytest.raises(ConnectorError) as caught:
        if tool == "brokerage_quote":
            await tools[tool].func(symbol="AAPL")
        else:
            await tools[tool].func()
    assert caught.value.message == "Alpaca sent an answer I couldn't read."


async def test_html_answer() -> None:
    fake = FakeAlpaca({"GET /v2/account": lambda _r: httpx.Response(200, text="<html>")})
    with pytest.raises(ConnectorError, match="couldn't read"):
        await tools_for(fake)["brokerage_account"].func()


# ---------------------------------------------------------------- helpers and wiring


def test_number_formatting() -> None:
    assert shares(1) == "1 share"
    assert shares(2.5) == "2.5 shares"
    assert decimal_text(10.0) == "10"
    assert decimal_text(187.125) == "187.125"


def test_schemas_and_metadata() -> None:
    tools = tools_for(FakeAlpaca())
    schema = function_tool(tools["buy_stock_limit"].func).params_json_schema
    assert sorted(schema["required"]) == ["limit_price", "quantity", "symbol"]
    assert schema["properties"]["quantity"]["type"] == "number"
    assert CONNECTOR.requires_secrets == ("alpaca.key_id", "alpaca.secret")
    assert "app.alpaca.markets" in CONNECTOR.key_help
    assert render_progress(tools["brokerage_quote"].progress, {"symbol": "AAPL"}) == (
        "Getting a quote for AAPL..."
    )
