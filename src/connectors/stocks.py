"""Stock quotes from Finnhub.

People say company names ("how's Apple doing?") more often than tickers, so a name is first
resolved with Finnhub's symbol search, preferring a company's primary US listing (a symbol
without an exchange suffix). ``/quote`` then gives the current price, the day's change and
range, and the previous close. Finnhub answers an unknown symbol with an all-zero quote rather
than an error: that is read as "not found" (after one try at the symbol search). The key goes
in the ``X-Finnhub-Token`` header so it never appears in a URL.
"""

from __future__ import annotations

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
    hide_secret,
    key_refused,
    request_json,
    require_secret,
)

NAME = "stocks"
TITLE = "Finnhub"
SERVICE = "Finnhub"
SECRET = "finnhub"
DEFAULT_URL = "https://finnhub.io/api/v1"
REQUEST_TIMEOUT = httpx.Timeout(10.0)
MAX_MATCHES = 5

_TICKER = re.compile(r"^[A-Z]{1,5}([.\-][A-Z]{1,3})?$")
_STOCK_TYPES = ("Common Stock", "ADR", "ETP", "REIT")


@dataclass(frozen=True)
class SymbolMatch:
    symbol: str
    description: str
    kind: str


@dataclass(frozen=True)
class Quote:
    symbol: str
    current: float
    change: float | None
    percent: float | None
    high: float | None
    low: float | None
    open: float | None
    previous_close: float | None
    timestamp: int


class SymbolNotFoundError(ConnectorError):
    def __init__(self, what: str) -> None:
        super().__init__(f"I couldn't find a stock called {what}.")


def looks_like_ticker(text: str) -> bool:
    """Whether the user gave a ticker ("AAPL", "BRK.B") rather than a name ("Apple")."""
    return bool(_TICKER.match(text))


def money(value: float, symbol: str) -> str:
    """A price as spoken: "$261.74" for US listings, "261.74" when the currency is unknown."""
    text = f"{value:,.2f}"
    return text if "." in symbol else f"${text}"


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent market data I couldn't read.", retryable=True)


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


class FinnhubClient:
    """``/quote`` and ``/search``; every failure is a ``ConnectorError``."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str = DEFAULT_URL) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def quote(self, symbol: str, api_key: str) -> Quote | None:
        """The latest quote, or None when Finnhub knows no such symbol (an all-zero answer)."""
        payload = await self._get("quote", {"symbol": symbol}, api_key)
        try:
            current = float(payload["c"])
            timestamp = int(payload.get("t") or 0)
            if current == 0 and timestamp == 0:
                return None
            return Quote(
                symbol=symbol,
                current=current,
                change=_optional(payload.get("d")),
                percent=_optional(payload.get("dp")),
                high=_optional(payload.get("h")),
                low=_optional(payload.get("l")),
                open=_optional(payload.get("o")),
                previous_close=_optional(payload.get("pc")),
                timestamp=timestamp,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed() from exc

    async def search(self, query: str, api_key: str) -> list[SymbolMatch]:
        payload = await self._get("search", {"q": query}, api_key)
        try:
            return [
                SymbolMatch(
                    symbol=str(item["symbol"]),
                    description=str(item.get("description") or ""),
                    kind=str(item.get("type") or ""),
                )
                for item in payload["result"]
            ]
        except (KeyError, TypeError, AttributeError) as exc:
            raise _malformed() from exc

    async def _get(self, path: str, params: Mapping[str, str], api_key: str) -> dict[str, Any]:
        payload = await request_json(
            self._http,
            SERVICE,
            "GET",
            f"{self._base_url}/{path}",
            params=params,
            headers={"X-Finnhub-Token": api_key},
            timeout=REQUEST_TIMEOUT,
            check=_refusal,
            malformed=_malformed(),
        )
        if payload.get("error"):
            raise ConnectorError(f"{SERVICE} couldn't answer that: {_error_text(payload, api_key)}")
        return payload


def _error_text(payload: Mapping[str, Any], api_key: str) -> str:
    text = hide_secret(str(payload.get("error") or ""), api_key)
    return " ".join(text.split())[:200]


def _refusal(response: httpx.Response) -> ConnectorError | None:
    status = response.status_code
    if status == 401:
        return key_refused(SERVICE, NAME, status, advice="Check it with")
    if status == 403:
        return ConnectorError(
            f"Your {SERVICE} plan doesn't include that data (free keys cover US stocks only).",
            status=status,
        )
    if status == 429:
        return ConnectorError(
            f"{SERVICE}'s request limit for your key is reached; try again in a minute.",
            retryable=True,
            status=status,
        )
    return None


def best_match(query: str, matches: list[SymbolMatch]) -> SymbolMatch | None:
    """The match a listener most likely means: an exact ticker, else a primary US stock."""
    wanted = query.strip().upper()
    for match in matches:
        if match.symbol == wanted:
            return match
    stocks = [m for m in matches if m.kind in _STOCK_TYPES or not m.kind]
    primary = [m for m in stocks if "." not in m.symbol]
    for group in (primary, stocks, matches):
        if group:
            return group[0]
    return None


def format_quote(quote: Quote, name: str | None) -> str:
    label = f"{name} ({quote.symbol})" if name else quote.symbol
    text = f"{label} is at {money(quote.current, quote.symbol)}"
    if quote.change is not None and quote.percent is not None and quote.change != 0:
        direction = "up" if quote.change > 0 else "down"
        text += (
            f", {direction} {money(abs(quote.change), quote.symbol)} "
            f"({abs(quote.percent):.2f}%) today"
        )
    elif quote.change == 0:
        text += ", unchanged today"
    text += "."
    details = []
    if quote.low and quote.high:
        details.append(
            f"Day range {money(quote.low, quote.symbol)} to {money(quote.high, quote.symbol)}"
        )
    if quote.open:
        details.append(f"opened at {money(quote.open, quote.symbol)}")
    if quote.previous_close:
        details.append(f"previous close {money(quote.previous_close, quote.symbol)}")
    if details:
        text += " " + "; ".join(details) + "."
    return text


def _title_case(description: str) -> str:
    """ "APPLE INC" -> "Apple Inc": Finnhub's descriptions are upper case."""
    return description.title() if description.isupper() else description


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = FinnhubClient(ctx.http, base_url=ctx.endpoint("finnhub", DEFAULT_URL))

    async def resolve(company: str, key: str) -> SymbolMatch:
        match = best_match(company, await client.search(company, key))
        if match is None:
            raise SymbolNotFoundError(company)
        return match

    async def stock_quote(symbol: str) -> str:
        """Get a stock's current price, today's change, day range and previous close.

        Args:
            symbol: A ticker such as "AAPL" or "BRK.B", or a company name such as "Apple".
        """
        key = require_secret(ctx, SECRET, TITLE, NAME)
        asked = " ".join(symbol.split())
        if not asked:
            raise ConnectorError("I need a company name or a ticker symbol.")
        name: str | None = None
        quote: Quote | None = None
        if looks_like_ticker(asked):
            quote = await client.quote(asked, key)
        if quote is None:
            match = await resolve(asked, key)
            name = _title_case(match.description) or None
            quote = await client.quote(match.symbol, key)
        if quote is None:
            raise SymbolNotFoundError(asked)
        return format_quote(quote, name)

    async def stock_symbol_search(query: str) -> str:
        """Find the ticker symbols of companies and funds whose name matches a query.

        Args:
            query: A company or fund name, e.g. "Tesla" or "S&P 500 ETF".
        """
        key = require_secret(ctx, SECRET, TITLE, NAME)
        text = " ".join(query.split())
        if not text:
            raise ConnectorError("I need a company name to look up.")
        matches = (await client.search(text, key))[:MAX_MATCHES]
        if not matches:
            return f"{SERVICE} has no ticker symbols matching {text}."
        lines = [f"Ticker symbols matching “{text}”:"]
        for match in matches:
            line = f"- {match.symbol}: {_title_case(match.description)}"
            if match.kind:
                line += f" ({match.kind})"
            lines.append(line)
        return "\n".join(lines)

    return [
        ToolDef(func=stock_quote, progress="Getting the price of {symbol}..."),
        ToolDef(func=stock_symbol_search, progress="Looking up ticker symbols for {query}..."),
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Live stock market quotes: a company's or fund's current share price, today's change "
        "and range, and ticker symbol lookup. Read-only market data, no trading."
    ),
    instructions=(
        "You answer questions about share prices with your tools; never guess a price. Pass "
        "the ticker if the user said one, otherwise the company name. Lead with the price and "
        "today's move in one short spoken sentence (\"Apple is at 261 dollars 74, up 0.8% "
        "today\"); add the day's range only if asked. Don't give investment advice. If a tool "
        "reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What's Apple's stock price?",
        "How is Tesla doing today?",
        "What's the ticker for Coca-Cola?",
        "Quote MSFT.",
    ),
    requires_secrets=(SECRET,),
    followups=(
        "What was {symbol}'s range today?",
        "Quote the first match for {query}.",
    ),
    key_help=(
        "Finnhub API key: sign up free at https://finnhub.io/register; the key is on your "
        "dashboard at https://finnhub.io/dashboard."
    ),
)
