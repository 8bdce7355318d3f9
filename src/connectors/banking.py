"""Bank balances and recent transactions through Plaid: read-only.

Plaid reaches the user's bank through an "Item" the user linked once; Hark holds that Item's
``access_token`` with the app's ``client_id`` and ``secret`` (all three in the keyring) and
calls two read-only endpoints, ``/accounts/balance/get`` and ``/transactions/get``. Nothing
here can move money, so no tool has side effects.

Plaid reports failures as a documented error object (``error_type``, ``error_code``,
``error_message``, ``display_message``); the code decides the advice the user hears, most
importantly ``ITEM_LOGIN_REQUIRED``: the bank wants the user to sign in again, so they must
reconnect the bank. The sandbox host is the default; ``settings.plaid_environment`` set to
"production" uses real banks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    request_json,
    require_secret,
)

NAME = "banking"
TITLE = "Plaid"
SERVICE = "Plaid"
CLIENT_ID_SECRET = "plaid.client_id"
SECRET_SECRET = "plaid.secret"
ACCESS_TOKEN_SECRET = "plaid.access_token"
HOSTS: Mapping[str, str] = {
    "sandbox": "https://sandbox.plaid.com",
    "production": "https://production.plaid.com",
}
REQUEST_TIMEOUT = httpx.Timeout(15.0)
MAX_DAYS = 730  # Plaid keeps up to 24 months of history
FETCH_COUNT = 250
MAX_LISTED = 8

_SYMBOLS: Mapping[str, str] = {"USD": "$", "EUR": "€", "GBP": "£", "CAD": "C$", "AUD": "A$"}
_OWED_TYPES = frozenset({"credit", "loan"})
_RECONNECT = f"reconnect your bank with: python main.py connect {NAME}"


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    mask: str
    kind: str
    available: float | None
    current: float | None
    limit: float | None
    currency: str

    @property
    def label(self) -> str:
        return f"{self.name} ending {self.mask}" if self.mask else self.name


@dataclass(frozen=True)
class Transaction:
    account_id: str
    amount: float
    day: date
    name: str
    pending: bool
    currency: str


@dataclass(frozen=True)
class TransactionPage:
    accounts: dict[str, Account]
    transactions: list[Transaction]
    total: int


@dataclass(frozen=True)
class Credentials:
    client_id: str
    secret: str
    access_token: str

    def body(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "secret": self.secret,
            "access_token": self.access_token,
        }

    def scrub(self, text: str) -> str:
        for value in (self.secret, self.access_token, self.client_id):
            if value:
                text = text.replace(value, "[hidden]")
        return text


def amount_text(value: float, currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    sign = "-" if value < 0 else ""
    number = f"{abs(value):,.2f}"
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"


def spoken_date(day: date) -> str:
    return f"{day.strftime('%B')} {day.day}"


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent bank data I couldn't read.", retryable=True)


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def _parse_account(item: Mapping[str, Any]) -> Account:
    balances = item["balances"]
    currency = balances.get("iso_currency_code") or balances.get("unofficial_currency_code")
    return Account(
        id=str(item["account_id"]),
        name=str(item.get("name") or item.get("official_name") or "Account"),
        mask=str(item.get("mask") or ""),
        kind=str(item.get("type") or ""),
        available=_optional(balances.get("available")),
        current=_optional(balances.get("current")),
        limit=_optional(balances.get("limit")),
        currency=str(currency or "USD"),
    )


def _parse_transaction(item: Mapping[str, Any]) -> Transaction:
    currency = item.get("iso_currency_code") or item.get("unofficial_currency_code") or "USD"
    return Transaction(
        account_id=str(item["account_id"]),
        amount=float(item["amount"]),
        day=date.fromisoformat(str(item["date"])),
        name=str(item.get("merchant_name") or item.get("name") or "Unknown"),
        pending=bool(item.get("pending")),
        currency=str(currency),
    )


class PlaidClient:
    """POSTs JSON to Plaid and maps its error object to sentences."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def balances(self, credentials: Credentials) -> list[Account]:
        payload = await self._post("/accounts/balance/get", credentials.body(), credentials)
        try:
            return [_parse_account(item) for item in payload["accounts"]]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc

    async def transactions(
        self, credentials: Credentials, *, start: date, end: date
    ) -> TransactionPage:
        body: dict[str, Any] = {
            **credentials.body(),
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "options": {"count": FETCH_COUNT, "offset": 0},
        }
        payload = await self._post("/transactions/get", body, credentials)
        try:
            accounts = {a.id: a for a in (_parse_account(i) for i in payload["accounts"])}
            transactions = [_parse_transaction(item) for item in payload["transactions"]]
            total = int(payload.get("total_transactions", len(transactions)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc
        return TransactionPage(accounts=accounts, transactions=transactions, total=total)

    async def _post(
        self, path: str, body: Mapping[str, Any], credentials: Credentials
    ) -> dict[str, Any]:
        return await request_json(
            self._http,
            SERVICE,
            "POST",
            f"{self._base_url}{path}",
            json=body,
            timeout=REQUEST_TIMEOUT,
            check=lambda response: _refusal(response, credentials),
            malformed=_malformed(),
        )


def _refusal(response: httpx.Response, credentials: Credentials) -> ConnectorError | None:
    """Plaid's error object decides the sentence; without one, a 401 or 403 means the keys."""
    if not response.is_error:
        return None
    body = body_object(response)
    if body.get("error_code"):
        return plaid_error(body, response.status_code, credentials)
    if response.status_code in (401, 403):
        return _keys_rejected(response.status_code)
    return None


def _keys_rejected(status: int | None) -> ConnectorError:
    return ConnectorError(
        f"{SERVICE} didn't accept your client ID or secret. "
        f"Check them with: python main.py connect {NAME}",
        status=status,
    )


def plaid_error(body: Mapping[str, Any], status: int, credentials: Credentials) -> ConnectorError:
    """Plaid's documented error object as the sentence (and advice) the user hears."""
    code = str(body.get("error_code") or "")
    kind = str(body.get("error_type") or "")
    if code == "ITEM_LOGIN_REQUIRED":
        return ConnectorError(f"Your bank needs you to sign in again: {_RECONNECT}", status=status)
    if code in ("INVALID_API_KEYS", "INVALID_CLIENT_ID", "INVALID_SECRET"):
        return _keys_rejected(status)
    if code in ("INVALID_ACCESS_TOKEN", "ITEM_NOT_FOUND"):
        return ConnectorError(
            f"{SERVICE} doesn't recognise your bank connection; {_RECONNECT}", status=status
        )
    if code == "PRODUCT_NOT_READY":
        return ConnectorError(
            "Your bank's transactions aren't ready at Plaid yet; try again in a few minutes.",
            retryable=True,
            status=status,
        )
    if kind == "INSTITUTION_ERROR":
        return ConnectorError(
            "Your bank isn't responding to Plaid right now; try again later.",
            retryable=True,
            status=status,
        )
    if kind == "RATE_LIMIT_EXCEEDED" or status == 429:
        return ConnectorError(
            f"{SERVICE} is rate-limiting requests; try again in a minute.",
            retryable=True,
            status=status,
        )
    if kind == "API_ERROR" or status >= 500:
        return ConnectorError(
            f"{SERVICE} is having trouble right now; try again later.",
            retryable=True,
            status=status,
        )
    message = body.get("display_message") or body.get("error_message") or code
    text = credentials.scrub(" ".join(str(message).split()))[:200].rstrip(".")
    return ConnectorError(f"{SERVICE} couldn't do that: {text}.", status=status)


def format_balances(accounts: list[Account]) -> str:
    if not accounts:
        return "Plaid shows no accounts for your bank connection."
    sentences = []
    for account in accounts:
        if account.kind in _OWED_TYPES:
            owed = account.current if account.current is not None else 0.0
            text = f"{account.label}: {amount_text(owed, account.currency)} owed"
            if account.limit:
                text += f", limit {amount_text(account.limit, account.currency)}"
        elif account.available is not None:
            text = f"{account.label}: {amount_text(account.available, account.currency)} available"
            if account.current is not None and account.current != account.available:
                text += f" ({amount_text(account.current, account.currency)} current balance)"
        elif account.current is not None:
            text = f"{account.label}: {amount_text(account.current, account.currency)}"
        else:
            text = f"{account.label}: balance not available"
        sentences.append(text + ".")
    return " ".join(sentences)


def _totals(transactions: list[Transaction]) -> tuple[dict[str, float], dict[str, float]]:
    spent: dict[str, float] = {}
    received: dict[str, float] = {}
    for item in transactions:
        bucket = spent if item.amount > 0 else received
        bucket[item.currency] = bucket.get(item.currency, 0.0) + abs(item.amount)
    return spent, received


def _sum_text(totals: dict[str, float]) -> str:
    return " and ".join(amount_text(value, currency) for currency, value in totals.items())


def format_transactions(
    page: TransactionPage, *, days: int, since: date, merchant: str = ""
) -> str:
    """A summary (spent, received) then the latest transactions, newest first."""
    wanted = merchant.lower()
    items = [t for t in page.transactions if not wanted or wanted in t.name.lower()]
    period = f"in the last {days} days (since {spoken_date(since)})"
    if not items:
        if merchant:
            return f"No transactions at {merchant} {period}."
        return f"No transactions {period}."
    spent, received = _totals(items)
    count = len(items)
    noun = "transaction" if count == 1 else "transactions"
    where = f" at {merchant}" if merchant else ""
    parts = []
    if spent:
        parts.append(f"spent {_sum_text(spent)}")
    if received:
        parts.append(f"received {_sum_text(received)}")
    summary = f"{count} {noun}{where} {period}: you {' and '.join(parts)}."
    if page.total > len(page.transactions) and not merchant:
        summary += f" (Showing the latest {len(page.transactions)} of {page.total}.)"
    lines = [summary]
    for item in sorted(items, key=lambda t: t.day, reverse=True)[:MAX_LISTED]:
        account = page.accounts.get(item.account_id)
        verb = "spent" if item.amount > 0 else "received"
        line = (
            f"- {spoken_date(item.day)}: {verb} {amount_text(abs(item.amount), item.currency)}"
            f" {'at' if item.amount > 0 else 'from'} {item.name}"
        )
        if account is not None:
            line += f" ({account.label})"
        if item.pending:
            line += ", pending"
        lines.append(line)
    if count > MAX_LISTED:
        lines.append(f"- and {count - MAX_LISTED} more")
    return "\n".join(lines)


def _today(settings: Any) -> Callable[[], date]:
    now = getattr(settings, "now", None)
    if callable(now):
        clock: Callable[[], datetime] = now
        return lambda: clock().date()
    return date.today


def _base_url(ctx: ConnectorContext) -> str:
    environment = str(getattr(ctx.settings, "plaid_environment", "sandbox") or "sandbox")
    default = HOSTS.get(environment.strip().lower())
    if default is None:
        raise ConnectorError(
            f"The plaid_environment setting is {environment!r}; it must be sandbox or production."
        )
    return ctx.endpoint("plaid", default)


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    today = _today(ctx.settings)

    def client_and_credentials() -> tuple[PlaidClient, Credentials]:
        credentials = Credentials(
            client_id=require_secret(ctx, CLIENT_ID_SECRET, TITLE, NAME),
            secret=require_secret(ctx, SECRET_SECRET, TITLE, NAME),
            access_token=require_secret(ctx, ACCESS_TOKEN_SECRET, TITLE, NAME),
        )
        return PlaidClient(ctx.http, base_url=_base_url(ctx)), credentials

    async def bank_balances() -> str:
        """Get the current balances of the user's linked bank and credit card accounts."""
        client, credentials = client_and_credentials()
        return format_balances(await client.balances(credentials))

    async def bank_transactions(days: int = 7, merchant: str = "") -> str:
        """Get the user's recent bank transactions: what was spent and received, newest first.

        Args:
            days: How many days back to look, counting today (1 to 730).
            merchant: Only transactions whose merchant or description contains this, e.g.
                "Starbucks"; empty for all.
        """
        client, credentials = client_and_credentials()
        span = max(1, min(MAX_DAYS, int(days)))
        end = today()
        start = end - timedelta(days=span - 1)
        page = await client.transactions(credentials, start=start, end=end)
        return format_transactions(
            page, days=span, since=start, merchant=" ".join(merchant.split())
        )

    return [
        ToolDef(func=bank_balances, progress="Checking your bank balances..."),
        ToolDef(func=bank_transactions, progress="Looking through your bank transactions..."),
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "The user's own bank and credit card accounts, read-only through Plaid: account "
        "balances, recent transactions, what they spend (on groceries, bills, at a shop) and "
        "money received. Cannot move money."
    ),
    instructions=(
        "You answer questions about the user's bank accounts with your tools; never guess a "
        "balance or a transaction. You can only read: if asked to pay or transfer, say you "
        "can't. Give the figure asked for first in one short spoken sentence (\"You have "
        "1,240 dollars available in checking\"), then offer detail. Amounts are private: don't "
        "repeat account numbers beyond the last four digits. If a tool says the bank needs "
        "reconnecting, tell the user exactly that."
    ),
    build_tools=build_tools,
    examples=(
        "What's my bank balance?",
        "How much do I owe on my credit card?",
        "What did I spend this week?",
        "How much did I spend at Starbucks this month?",
    ),
    requires_secrets=(CLIENT_ID_SECRET, SECRET_SECRET, ACCESS_TOKEN_SECRET),
    followups=(
        "How much did I spend at {merchant} in the last 90 days?",
        "What's my balance now?",
    ),
    key_help=(
        "Plaid: create an app at https://dashboard.plaid.com to get a client_id and a sandbox "
        "(or production) secret under Developers > Keys, link your bank with Plaid Link (or "
        "/sandbox/public_token/create in the sandbox) and exchange the public token for an "
        "access_token. Store them as plaid.client_id, plaid.secret and plaid.access_token."
    ),
)
