"""A brokerage account at Alpaca: balances, positions, quotes, and orders the user approves.

Paper trading is the default and the only mode unless ``settings.alpaca_live`` is exactly
True; every read-back and every answer names the mode ("paper trading", or "LIVE trading with
real money"), so the user always knows which account an order goes to. As a second guard, the
connector refuses to run when the trading endpoint points at Alpaca's live server while live
trading is off.

Orders and cancellations are side effects: they run only after the user hears the read-back
("Buy 10 shares of AAPL at market (paper trading)") and approves. Market and limit orders are
separate tools so that each read-back says exactly what will happen. Orders are day orders.
The keys travel in Alpaca's ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    http_error_message,
    require_secret,
)

NAME = "brokerage"
TITLE = "Alpaca"
SERVICE = "Alpaca"
KEY_ID_SECRET = "alpaca.key_id"
SECRET_KEY_SECRET = "alpaca.secret"
PAPER_URL = "https://paper-api.alpaca.markets"
LIVE_URL = "https://api.alpaca.markets"
DATA_URL = "https://data.alpaca.markets"
LIVE_HOST = "api.alpaca.markets"
REQUEST_TIMEOUT = httpx.Timeout(10.0)
PAPER = "paper trading"
LIVE = "LIVE trading with real money"
MAX_QUANTITY = 100_000
MAX_LISTED = 10

_SYMBOL = re.compile(r"^[A-Z]{1,5}([./][A-Z]{1,2})?$")
_FORBIDDEN_WORDS = ("forbidden", "not authorized", "unauthorized")


@dataclass(frozen=True)
class Keys:
    key_id: str
    secret: str

    def headers(self) -> dict[str, str]:
        return {"APCA-API-KEY-ID": self.key_id, "APCA-API-SECRET-KEY": self.secret}


def is_live(settings: Any) -> bool:
    """Live trading only when the setting is exactly True (not "yes", not 1)."""
    return getattr(settings, "alpaca_live", False) is True


def money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def shares(quantity: float) -> str:
    """ "10 shares", "1 share", "0.5 shares": quantities as said, without a trailing ".0"."""
    text = f"{quantity:f}".rstrip("0").rstrip(".")
    return f"{text} share" if text == "1" else f"{text} shares"


def decimal_text(value: float) -> str:
    """A plain decimal string for Alpaca's number-as-string fields ("10", "0.25", "187.5")."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def normalise_symbol(symbol: str) -> str:
    text = "".join(symbol.split()).upper()
    if not _SYMBOL.match(text):
        raise ConnectorError(
            f"{symbol.strip() or 'That'} doesn't look like a stock ticker; "
            "give the ticker, e.g. AAPL."
        )
    return text


def check_quantity(quantity: float) -> float:
    value = float(quantity)
    if not math.isfinite(value) or value <= 0:
        raise ConnectorError("The number of shares must be more than zero.")
    if value > MAX_QUANTITY:
        raise ConnectorError(f"I won't place an order for more than {MAX_QUANTITY:,} shares.")
    return value


def check_price(price: float) -> float:
    value = float(price)
    if not math.isfinite(value) or value <= 0:
        raise ConnectorError("The limit price must be more than zero.")
    return value


def _number(value: Any) -> float:
    return float(value)


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent an answer I couldn't read.", retryable=True)


def _key_rejected(status: int | None = None) -> ConnectorError:
    return ConnectorError(
        f"{SERVICE} didn't accept your API keys. Check them with: python main.py connect {NAME}",
        status=status,
    )


class AlpacaClient:
    """Trading API (account, positions, orders) and market data API (snapshots)."""

    def __init__(
        self, http: httpx.AsyncClient, *, trading_url: str = PAPER_URL, data_url: str = DATA_URL
    ) -> None:
        self._http = http
        self._trading_url = trading_url.rstrip("/")
        self._data_url = data_url.rstrip("/")

    async def account(self, keys: Keys) -> dict[str, Any]:
        return _object(await self._call("GET", f"{self._trading_url}/v2/account", keys))

    async def positions(self, keys: Keys) -> list[dict[str, Any]]:
        return _objects(await self._call("GET", f"{self._trading_url}/v2/positions", keys))

    async def open_orders(self, keys: Keys, symbol: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"status": "open", "limit": 100, "direction": "desc"}
        if symbol:
            params["symbols"] = symbol
        url = f"{self._trading_url}/v2/orders"
        return _objects(await self._call("GET", url, keys, params=params))

    async def submit_order(
        self,
        keys: Keys,
        *,
        symbol: str,
        quantity: float,
        side: str,
        limit_price: float | None = None,
    ) -> dict[str, Any]:
        body: dict[str, str] = {
            "symbol": symbol,
            "qty": decimal_text(quantity),
            "side": side,
            "type": "market" if limit_price is None else "limit",
            "time_in_force": "day",
        }
        if limit_price is not None:
            body["limit_price"] = decimal_text(limit_price)
        url = f"{self._trading_url}/v2/orders"
        return _object(await self._call("POST", url, keys, json=body, uncertain=True))

    async def cancel_order(self, keys: Keys, order_id: str) -> bool:
        """True when cancelled; False when the order can no longer be cancelled (404/422)."""
        url = f"{self._trading_url}/v2/orders/{order_id}"
        try:
            await self._call("DELETE", url, keys)
        except ConnectorError as exc:
            if exc.status in (404, 422):
                return False
            raise
        return True

    async def snapshot(self, keys: Keys, symbol: str) -> dict[str, Any] | None:
        """The latest trade, quote and daily bars; None if Alpaca has no data for the symbol."""
        url = f"{self._data_url}/v2/stocks/{symbol}/snapshot"
        try:
            return _object(await self._call("GET", url, keys))
        except ConnectorError as exc:
            if exc.status == 404:
                return None
            raise

    async def _call(
        self,
        method: str,
        url: str,
        keys: Keys,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Mapping[str, str] | None = None,
        uncertain: bool = False,
    ) -> Any:
        """One request; ``uncertain`` marks an order, which a lost answer may have placed."""
        try:
            response = await self._http.request(
                method,
                url,
                params=params,
                json=json,
                headers=keys.headers(),
                timeout=REQUEST_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            if uncertain and not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                raise ConnectorError(
                    f"{SERVICE} didn't confirm the order, so it may or may not have been placed. "
                    "Check your open orders before trying again."
                ) from exc
            raise http_error_message(SERVICE, exc) from exc
        if response.is_error:
            raise _status_error(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise _malformed() from exc


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise _malformed()
    return payload


def _objects(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise _malformed()
    return payload


def _status_error(response: httpx.Response) -> ConnectorError:
    """Alpaca's ``{"code": ..., "message": ...}`` error body as a sentence."""
    status = response.status_code
    message = " ".join(str(body_object(response).get("message") or "").split())[:200].rstrip(".")
    if status == 401 or (status == 403 and (not message or _is_auth(message))):
        return _key_rejected(status)
    if status == 429:
        return ConnectorError(
            f"{SERVICE} is rate-limiting requests; try again in a minute.",
            retryable=True,
            status=status,
        )
    if status in (403, 404, 422) and message:
        return ConnectorError(f"{SERVICE} refused: {message}.", status=status)
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        return http_error_message(SERVICE, exc)
    return _malformed()


def _is_auth(message: str) -> bool:
    lowered = message.lower()
    return any(word in lowered for word in _FORBIDDEN_WORDS)


def format_account(account: Mapping[str, Any], mode: str) -> str:
    try:
        equity = _number(account["equity"])
        buying_power = _number(account["buying_power"])
        cash = _number(account["cash"])
        last_equity = account.get("last_equity")
        change = None if last_equity in (None, "") else equity - _number(last_equity)
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed() from exc
    text = f"Your Alpaca account ({mode}): equity {money(equity)}"
    if change is not None and round(change, 2) != 0:
        text += f", {'up' if change > 0 else 'down'} {money(abs(change))} today"
    text += f"; buying power {money(buying_power)}; cash {money(cash)}."
    status = str(account.get("status") or "ACTIVE")
    if status != "ACTIVE":
        text += f" Account status: {status.lower().replace('_', ' ')}."
    if account.get("trading_blocked") or account.get("account_blocked"):
        text += " Trading is blocked on this account."
    return text


def format_positions(positions: list[dict[str, Any]], mode: str) -> str:
    if not positions:
        return f"You have no open positions ({mode})."
    parts = []
    try:
        for item in positions[:MAX_LISTED]:
            quantity = _number(item["qty"])
            value = _number(item["market_value"])
            gain = item.get("unrealized_pl")
            percent = item.get("unrealized_plpc")
            held = shares(abs(quantity))
            text = f"{'short ' if quantity < 0 else ''}{held} of {item['symbol']} "
            text += f"worth {money(abs(value))}"
            if gain not in (None, "") and percent not in (None, ""):
                amount = _number(gain)
                direction = "up" if amount >= 0 else "down"
                text += f", {direction} {money(abs(amount))} ({abs(_number(percent)) * 100:.2f}%)"
            parts.append(text)
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed() from exc
    count = len(positions)
    noun = "position" if count == 1 else "positions"
    text = f"You hold {count} {noun} ({mode}): " + "; ".join(parts)
    if count > MAX_LISTED:
        text += f"; and {count - MAX_LISTED} more"
    return text + "."


def describe_order(order: Mapping[str, Any]) -> str:
    """ "buy 10 shares of AAPL at market" / "sell 5 shares of TSLA, limit $250.00"."""
    try:
        side = str(order["side"])
        symbol = str(order["symbol"])
        quantity = order.get("qty")
        amount = shares(_number(quantity)) if quantity not in (None, "") else "shares"
        text = f"{side} {amount} of {symbol}"
        if order.get("type") == "limit" and order.get("limit_price") not in (None, ""):
            text += f", limit {money(_number(order['limit_price']))}"
        elif order.get("type") == "market":
            text += " at market"
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed() from exc
    return text


_NOT_PLACED = frozenset({"rejected", "canceled", "expired", "suspended"})


def format_order_result(order: Mapping[str, Any], mode: str) -> str:
    status = str(order.get("status") or "submitted").replace("_", " ")
    if status in _NOT_PLACED:
        return (
            f"{SERVICE} did not take the order ({mode}): {describe_order(order)}. Status: {status}."
        )
    text = f"Order placed ({mode}): {describe_order(order)}. Status: {status}."
    filled = order.get("filled_avg_price")
    if status == "filled" and filled not in (None, ""):
        try:
            text += f" Filled at {money(_number(filled))} a share."
        except (TypeError, ValueError) as exc:
            raise _malformed() from exc
    return text


def format_open_orders(orders: list[dict[str, Any]], mode: str) -> str:
    if not orders:
        return f"You have no open orders ({mode})."
    parts = [
        f"{describe_order(order)} ({str(order.get('status') or 'open').replace('_', ' ')})"
        for order in orders[:MAX_LISTED]
    ]
    text = f"Open orders ({mode}): " + "; ".join(parts)
    if len(orders) > MAX_LISTED:
        text += f"; and {len(orders) - MAX_LISTED} more"
    return text + "."


def format_snapshot(symbol: str, snapshot: Mapping[str, Any]) -> str:
    try:
        trade = snapshot.get("latestTrade") or {}
        if not trade.get("p"):
            return f"{SERVICE} has no recent trades for {symbol}."
        price = _number(trade["p"])
        text = f"{symbol} last traded at {money(price)}"
        previous = (snapshot.get("prevDailyBar") or {}).get("c")
        if previous:
            close = _number(previous)
            change = (price - close) / close * 100
            if round(change, 2) == 0:
                text += f", unchanged from the previous close of {money(close)}"
            else:
                direction = "up" if change > 0 else "down"
                text += (
                    f", {direction} {abs(change):.2f}% from the previous close of {money(close)}"
                )
        text += "."
        quote = snapshot.get("latestQuote") or {}
        if quote.get("bp") and quote.get("ap"):
            text += f" Bid {money(_number(quote['bp']))}, ask {money(_number(quote['ap']))}."
    except (TypeError, ValueError, AttributeError) as exc:
        raise _malformed() from exc
    return text


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    live = is_live(ctx.settings)
    mode = LIVE if live else PAPER
    trading_url = ctx.endpoint("alpaca", LIVE_URL if live else PAPER_URL)
    client = AlpacaClient(
        ctx.http, trading_url=trading_url, data_url=ctx.endpoint("alpaca_data", DATA_URL)
    )

    def keys() -> Keys:
        if not live and httpx.URL(trading_url).host == LIVE_HOST:
            raise ConnectorError(
                "Your Alpaca endpoint is the live trading server but live trading is off "
                "(alpaca_live); I won't use it."
            )
        return Keys(
            key_id=require_secret(ctx, KEY_ID_SECRET, TITLE, NAME),
            secret=require_secret(ctx, SECRET_KEY_SECRET, TITLE, NAME),
        )

    async def place(side: str, symbol: str, quantity: float, limit: float | None) -> str:
        credentials = keys()
        ticker = normalise_symbol(symbol)
        amount = check_quantity(quantity)
        price = None if limit is None else check_price(limit)
        order = await client.submit_order(
            credentials, symbol=ticker, quantity=amount, side=side, limit_price=price
        )
        return format_order_result(order, mode)

    async def brokerage_account() -> str:
        """Get the Alpaca brokerage account's equity, today's change, buying power and cash."""
        return format_account(await client.account(keys()), mode)

    async def brokerage_positions() -> str:
        """List the stocks held in the Alpaca account, with their value and gain or loss."""
        return format_positions(await client.positions(keys()), mode)

    async def brokerage_orders() -> str:
        """List the Alpaca account's open (not yet filled or cancelled) orders."""
        return format_open_orders(await client.open_orders(keys()), mode)

    async def brokerage_quote(symbol: str) -> str:
        """Get the latest trade price, change since the previous close, bid and ask from Alpaca.

        Args:
            symbol: The stock's ticker, e.g. "AAPL".
        """
        credentials = keys()
        ticker = normalise_symbol(symbol)
        snapshot = await client.snapshot(credentials, ticker)
        if snapshot is None:
            return f"{SERVICE} has no market data for {ticker}."
        return format_snapshot(ticker, snapshot)

    async def buy_stock(symbol: str, quantity: float) -> str:
        """Buy shares at the market price with a day order in the Alpaca account.

        Args:
            symbol: The stock's ticker, e.g. "AAPL".
            quantity: How many shares to buy (fractions allowed, e.g. 0.5).
        """
        return await place("buy", symbol, quantity, None)

    async def sell_stock(symbol: str, quantity: float) -> str:
        """Sell shares at the market price with a day order in the Alpaca account.

        Args:
            symbol: The stock's ticker, e.g. "AAPL".
            quantity: How many shares to sell (fractions allowed, e.g. 0.5).
        """
        return await place("sell", symbol, quantity, None)

    async def buy_stock_limit(symbol: str, quantity: float, limit_price: float) -> str:
        """Buy shares only at or below a limit price, with a day order in the Alpaca account.

        Args:
            symbol: The stock's ticker, e.g. "AAPL".
            quantity: How many shares to buy.
            limit_price: The highest price per share to pay, in dollars.
        """
        return await place("buy", symbol, quantity, limit_price)

    async def sell_stock_limit(symbol: str, quantity: float, limit_price: float) -> str:
        """Sell shares only at or above a limit price, with a day order in the Alpaca account.

        Args:
            symbol: The stock's ticker, e.g. "AAPL".
            quantity: How many shares to sell.
            limit_price: The lowest price per share to accept, in dollars.
        """
        return await place("sell", symbol, quantity, limit_price)

    async def cancel_stock_orders(symbol: str) -> str:
        """Cancel every open order for one stock in the Alpaca account.

        Args:
            symbol: The stock's ticker, e.g. "AAPL".
        """
        credentials = keys()
        ticker = normalise_symbol(symbol)
        orders = await client.open_orders(credentials, ticker)
        orders = [o for o in orders if str(o.get("symbol", ticker)) == ticker]
        if not orders:
            return f"You have no open orders for {ticker} ({mode})."
        cancelled = 0
        for order in orders:
            order_id = order.get("id")
            if not order_id:
                raise _malformed()
            if await client.cancel_order(credentials, str(order_id)):
                cancelled += 1
        total = len(orders)
        noun = "order" if total == 1 else "orders"
        if cancelled == total:
            return f"Cancelled {total} open {ticker} {noun} ({mode})."
        missed = total - cancelled
        return (
            f"Cancelled {cancelled} of {total} open {ticker} {noun} ({mode}); "
            f"{missed} could no longer be cancelled (probably already filled)."
        )

    return [
        ToolDef(func=brokerage_account, progress="Checking your Alpaca account..."),
        ToolDef(func=brokerage_positions, progress="Checking your positions..."),
        ToolDef(func=brokerage_orders, progress="Checking your open orders..."),
        ToolDef(func=brokerage_quote, progress="Getting a quote for {symbol}..."),
        ToolDef(
            func=buy_stock,
            progress="Placing a buy order for {symbol}...",
            side_effect=True,
            readback=f"Buy {{quantity}} shares of {{symbol}} at market ({mode})",
        ),
        ToolDef(
            func=sell_stock,
            progress="Placing a sell order for {symbol}...",
            side_effect=True,
            readback=f"Sell {{quantity}} shares of {{symbol}} at market ({mode})",
        ),
        ToolDef(
            func=buy_stock_limit,
            progress="Placing a limit buy order for {symbol}...",
            side_effect=True,
            readback=(
                f"Buy {{quantity}} shares of {{symbol}} at a limit of {{limit_price}} dollars "
                f"a share, good for today ({mode})"
            ),
        ),
        ToolDef(
            func=sell_stock_limit,
            progress="Placing a limit sell order for {symbol}...",
            side_effect=True,
            readback=(
                f"Sell {{quantity}} shares of {{symbol}} at a limit of {{limit_price}} dollars "
                f"a share, good for today ({mode})"
            ),
        ),
        ToolDef(
            func=cancel_stock_orders,
            progress="Cancelling your open orders for {symbol}...",
            side_effect=True,
            readback=f"Cancel all open orders for {{symbol}} ({mode})",
        ),
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "The user's Alpaca brokerage account (paper trading unless live is switched on): "
        "portfolio balance, buying power, positions held, open orders, and buying, selling "
        "or cancelling stock orders after the user approves."
    ),
    instructions=(
        "You manage the user's Alpaca brokerage account with your tools. Always say whether "
        "it is paper trading or live trading, exactly as the tools do. Orders need the ticker "
        "(if the user names a company, confirm the ticker first) and a number of shares; use "
        "a market order unless the user gives a price, then use the limit tool. Never place an "
        "order the user didn't clearly ask for, and never split or change what they asked. "
        "Hark reads each order back and waits for the user's approval; if they decline, say "
        "nothing was done. Don't give investment advice. Keep answers to one or two short "
        "spoken sentences. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What's my buying power?",
        "What stocks do I own?",
        "Buy 10 shares of Apple.",
        "Sell 5 shares of TSLA at 250 dollars.",
        "Cancel my open orders for NVDA.",
    ),
    requires_secrets=(KEY_ID_SECRET, SECRET_KEY_SECRET),
    followups=(
        "What are my positions now?",
        "Show my open orders.",
        "Get a quote for {symbol}.",
    ),
    key_help=(
        "Alpaca API keys: sign in at https://app.alpaca.markets, switch to the Paper Trading "
        "account, and generate an API key ID and secret key on the dashboard's API Keys panel "
        "(live-account keys only if you turn on alpaca_live). Store them as alpaca.key_id and "
        "alpaca.secret."
    ),
)
