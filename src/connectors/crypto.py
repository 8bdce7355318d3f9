"""Cryptocurrency prices from CoinGecko's public API: no key needed.

CoinGecko identifies coins by ids ("bitcoin", "avalanche-2"), not by what people say ("BTC",
"avalanche"), so names are mapped to ids first: the best-known coins from a small built-in
table (which spares the tightly rate-limited public API a request), anything else through
``/search``, remembered for the session. ``/simple/price`` then prices several coins in one
request, with their 24-hour change. A free "demo" key, if the user stores one, is sent in
CoinGecko's documented ``x-cg-demo-api-key`` header for a higher rate limit.
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
    request_json,
)

NAME = "crypto"
TITLE = "CoinGecko"
SERVICE = "CoinGecko"
SECRET = "coingecko"  # optional demo key
DEFAULT_URL = "https://api.coingecko.com/api/v3"
REQUEST_TIMEOUT = httpx.Timeout(10.0)
MAX_COINS = 5
DEFAULT_CURRENCY = "usd"

# Spoken names and tickers of the largest coins, and their CoinGecko ids.
KNOWN_COINS: Mapping[str, tuple[str, str]] = {
    "bitcoin": ("bitcoin", "Bitcoin"),
    "btc": ("bitcoin", "Bitcoin"),
    "ethereum": ("ethereum", "Ethereum"),
    "ether": ("ethereum", "Ethereum"),
    "eth": ("ethereum", "Ethereum"),
    "tether": ("tether", "Tether"),
    "usdt": ("tether", "Tether"),
    "bnb": ("binancecoin", "BNB"),
    "binance coin": ("binancecoin", "BNB"),
    "solana": ("solana", "Solana"),
    "sol": ("solana", "Solana"),
    "xrp": ("ripple", "XRP"),
    "ripple": ("ripple", "XRP"),
    "usdc": ("usd-coin", "USDC"),
    "usd coin": ("usd-coin", "USDC"),
    "dogecoin": ("dogecoin", "Dogecoin"),
    "doge": ("dogecoin", "Dogecoin"),
    "cardano": ("cardano", "Cardano"),
    "ada": ("cardano", "Cardano"),
    "tron": ("tron", "TRON"),
    "trx": ("tron", "TRON"),
    "litecoin": ("litecoin", "Litecoin"),
    "ltc": ("litecoin", "Litecoin"),
    "polkadot": ("polkadot", "Polkadot"),
    "dot": ("polkadot", "Polkadot"),
    "chainlink": ("chainlink", "Chainlink"),
    "link": ("chainlink", "Chainlink"),
    "avalanche": ("avalanche-2", "Avalanche"),
    "avax": ("avalanche-2", "Avalanche"),
    "shiba inu": ("shiba-inu", "Shiba Inu"),
    "shib": ("shiba-inu", "Shiba Inu"),
    "monero": ("monero", "Monero"),
    "xmr": ("monero", "Monero"),
    "stellar": ("stellar", "Stellar"),
    "xlm": ("stellar", "Stellar"),
}
_CURRENCY_WORDS: Mapping[str, str] = {
    "dollar": "usd",
    "dollars": "usd",
    "us dollars": "usd",
    "euro": "eur",
    "euros": "eur",
    "pound": "gbp",
    "pounds": "gbp",
    "sterling": "gbp",
    "yen": "jpy",
    "swiss francs": "chf",
    "canadian dollars": "cad",
    "australian dollars": "aud",
}
_SYMBOLS: Mapping[str, str] = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}
_CURRENCY = re.compile(r"^[a-z]{3,5}$")
_SPLIT = re.compile(r"\s*(?:,|\band\b|&|\+)\s*", re.IGNORECASE)


@dataclass(frozen=True)
class Coin:
    id: str
    name: str


@dataclass(frozen=True)
class Price:
    coin: Coin
    price: float
    change_24h: float | None


class CoinNotFoundError(ConnectorError):
    def __init__(self, what: str) -> None:
        super().__init__(f"I couldn't find a cryptocurrency called {what}.")


def currency_code(text: str) -> str:
    """ "usd" from "USD", "dollars" or "US dollars"; ``ConnectorError`` for anything else."""
    words = " ".join(text.lower().split())
    code = _CURRENCY_WORDS.get(words, words)
    if not _CURRENCY.match(code):
        raise ConnectorError(f"{text} isn't a currency code I can ask CoinGecko about.")
    return code


def format_amount(value: float, currency: str) -> str:
    """ "$67,187.34", "€0.08123", "0.03456 BTC": cents for big prices, 4 figures for small."""
    digits = 2
    if 0 < abs(value) < 1:
        digits = min(12, 3 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{digits}f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent prices I couldn't read.", retryable=True)


class CoinGeckoClient:
    """``/search`` and ``/simple/price``; every failure is a ``ConnectorError``."""

    def __init__(
        self, http: httpx.AsyncClient, *, base_url: str = DEFAULT_URL, demo_key: str | None = None
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._demo_key = demo_key
        self._found: dict[str, Coin] = {}

    async def resolve(self, name: str) -> Coin:
        """The coin a spoken name or ticker means, via the built-in table or ``/search``."""
        key = " ".join(name.lower().split())
        if not key:
            raise ConnectorError("I need the name of a cryptocurrency.")
        if key in KNOWN_COINS:
            coin_id, label = KNOWN_COINS[key]
            return Coin(coin_id, label)
        if key in self._found:
            return self._found[key]
        payload = await self._get("search", {"query": key})
        try:
            candidates = [
                (
                    Coin(str(item["id"]), str(item["name"])),
                    str(item.get("symbol") or "").lower(),
                    item.get("market_cap_rank"),
                )
                for item in payload["coins"]
            ]
        except (KeyError, TypeError, AttributeError) as exc:
            raise _malformed() from exc
        if not candidates:
            raise CoinNotFoundError(name)
        exact = [c for c in candidates if key in (c[0].name.lower(), c[1], c[0].id)]
        pool = exact or candidates[:1]
        coin = min(pool, key=lambda c: c[2] if isinstance(c[2], int) else math.inf)[0]
        self._found[key] = coin
        return coin

    async def prices(self, coins: list[Coin], currency: str) -> list[Price]:
        ids = list(dict.fromkeys(coin.id for coin in coins))
        payload = await self._get(
            "simple/price",
            {"ids": ",".join(ids), "vs_currencies": currency, "include_24hr_change": "true"},
        )
        out = []
        for coin in coins:
            entry = payload.get(coin.id)
            if not isinstance(entry, dict):
                raise ConnectorError(f"{SERVICE} has no price for {coin.name}.")
            if currency not in entry:
                raise ConnectorError(f"{SERVICE} doesn't price coins in {currency.upper()}.")
            try:
                change = entry.get(f"{currency}_24h_change")
                out.append(
                    Price(
                        coin=coin,
                        price=float(entry[currency]),
                        change_24h=None if change is None else float(change),
                    )
                )
            except (TypeError, ValueError) as exc:
                raise _malformed() from exc
        return out

    async def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self._demo_key:
            headers["x-cg-demo-api-key"] = self._demo_key
        return await request_json(
            self._http,
            SERVICE,
            "GET",
            f"{self._base_url}/{path}",
            params=params,
            headers=headers,
            timeout=REQUEST_TIMEOUT,
            check=self._key_refusal,
            reason=_error_text,
            malformed=_malformed(),
        )

    def _key_refusal(self, response: httpx.Response) -> ConnectorError | None:
        """Only a demo key can be refused; without one a 401 or 403 is CoinGecko's own."""
        if response.status_code in (401, 403) and self._demo_key:
            return ConnectorError(
                f"{SERVICE} didn't accept your demo API key. "
                f"Check it with: python main.py connect {NAME}",
                status=response.status_code,
            )
        return None


def _error_text(response: httpx.Response) -> str | None:
    """The message of CoinGecko's ``{"status": {"error_message": ...}}`` or ``{"error": ...}``."""
    body = body_object(response)
    status = body.get("status")
    text = status.get("error_message") if isinstance(status, dict) else body.get("error")
    return " ".join(str(text).split())[:200] if text else None


def format_prices(prices: list[Price], currency: str) -> str:
    sentences = []
    for item in prices:
        text = f"{item.coin.name} is at {format_amount(item.price, currency)}"
        if item.change_24h is not None:
            if round(item.change_24h, 2) == 0:
                text += ", about the same as 24 hours ago"
            else:
                direction = "up" if item.change_24h > 0 else "down"
                text += f", {direction} {abs(item.change_24h):.2f}% in the last 24 hours"
        sentences.append(text + ".")
    return " ".join(sentences)


def split_coins(text: str) -> list[str]:
    return [part for part in _SPLIT.split(text.strip()) if part]


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    demo_key = ctx.secrets.get(SECRET) if ctx.secrets is not None else None
    client = CoinGeckoClient(
        ctx.http, base_url=ctx.endpoint("coingecko", DEFAULT_URL), demo_key=demo_key or None
    )

    async def crypto_price(coins: str, currency: str = "") -> str:
        """Get the current price of one or more cryptocurrencies and their 24-hour change.

        Args:
            coins: One coin or several separated by commas, by name or ticker, e.g.
                "bitcoin" or "ETH, solana".
            currency: The currency to price in, e.g. "usd", "eur", "gbp" or "btc"; empty for
                the user's usual currency.
        """
        names = split_coins(coins)
        if not names:
            raise ConnectorError("I need the name of a cryptocurrency.")
        if len(names) > MAX_COINS:
            raise ConnectorError(f"I can price up to {MAX_COINS} coins at a time.")
        setting = getattr(ctx.settings, "currency", None) or DEFAULT_CURRENCY
        code = currency_code(currency if currency.strip() else str(setting))
        resolved = [await client.resolve(name) for name in names]
        return format_prices(await client.prices(resolved, code), code)

    return [ToolDef(func=crypto_price, progress="Checking the price of {coins}...")]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Live cryptocurrency prices: what a coin such as Bitcoin, Ethereum, Solana, Dogecoin "
        "or XRP is worth now in any currency, and whether it is up or down today (24 hours)."
    ),
    instructions=(
        "You answer questions about cryptocurrency prices with your tool; never guess a price. "
        "Ask for several coins in one call. Say each price in one short spoken sentence with "
        'its 24-hour move, rounded sensibly ("about 67 thousand dollars"). Don\'t give '
        "investment advice. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What's the price of Bitcoin?",
        "How much is Ethereum in euros?",
        "How are Solana and Dogecoin doing today?",
    ),
    followups=(
        "What about {coins} in euros?",
        "Compare {coins} with Bitcoin.",
    ),
    key_help=(
        "Optional: a free CoinGecko demo API key raises the rate limit. Create one at "
        "https://www.coingecko.com/en/developers/dashboard and store it as 'coingecko'."
    ),
)
