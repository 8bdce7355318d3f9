"""The banking connector against a fake Plaid speaking its documented JSON and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors.banking import CONNECTOR, amount_text
from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress

CLIENT_ID = "5f1a2b3c4d5e6f7a8b9c0d1e"
SECRET = "sandbox-secret-0123456789"
TOKEN = "access-sandbox-de3ce8ef-33f8-452c-a685-8671031fc0f6"
SECRETS = {"plaid.client_id": CLIENT_ID, "plaid.secret": SECRET, "plaid.access_token": TOKEN}
NOW = datetime(2026, 11, 21, 12, 0)


def account(
    account_id: str,
    name: str,
    mask: str,
    kind: str,
    subtype: str,
    available: float | None,
    current: float | None,
    limit: float | None = None,
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "balances": {
            "available": available,
            "current": current,
            "iso_currency_code": "USD",
            "limit": limit,
            "unofficial_currency_code": None,
        },
        "mask": mask,
        "name": name,
        "official_name": f"{name} Official",
        "persistent_account_id": "8cfb8beb89b774ee43b090625f0d61d0814322b43bff984eaf60386e",
        "subtype": subtype,
        "type": kind,
    }


CHECKING = account(
    "BxBXxLj1m4HMXBm9WZZmCWVbPjX16EHwv99vp",
    "Plaid Checking",
    "0000",
    "depository",
    "checking",
    100.0,
    110.0,
)
CREDIT = account(
    "dVzbVMLjrxTnLjX4G66XUp5GLklm4oiZy88yK",
    "Plaid Credit Card",
    "3333",
    "credit",
    "credit card",
    None,
    410.0,
    2000.0,
)
ITEM = {
    "available_products": ["balance", "identity", "investments"],
    "billed_products": ["assets", "auth", "liabilities", "transactions"],
    "consent_expiration_time": None,
    "error": None,
    "institution_id": "ins_109508",
    "item_id": "Ed6bjNrDLJfGvZWwnkQlfxwoNz54B5C97ejBr",
    "update_type": "background",
    "webhook": "",
}


def transaction(
    tid: str,
    amount: float,
    day: str,
    name: str,
    merchant: str | None,
    *,
    account_id: str = CHECKING["account_id"],
    pending: bool = False,
) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "account_owner": None,
        "amount": amount,
        "iso_currency_code": "USD",
        "unofficial_currency_code": None,
        "category": ["Food and Drink", "Restaurants", "Coffee Shop"],
        "category_id": "13005043",
        "check_number": None,
        "counterparties": [],
        "date": day,
        "datetime": None,
        "authorized_date": day,
        "authorized_datetime": None,
        "location": {"city": None, "region": None, "country": None},
        "logo_url": None,
        "merchant_entity_id": None,
        "merchant_name": merchant,
        "name": name,
        "payment_channel": "in store",
        "pending": pending,
        "pending_transaction_id": None,
        "personal_finance_category": {
            "primary": "FOOD_AND_DRINK",
            "detailed": "FOOD_AND_DRINK_COFFEE",
            "confidence_level": "VERY_HIGH",
        },
        "transaction_id": tid,
        "transaction_code": None,
        "transaction_type": "place",
        "website": None,
    }


BALANCES = {"accounts": [CHECKING, CREDIT], "item": ITEM, "request_id": "qk5Bxes3gDfv4F2"}
TRANSACTIONS: dict[str, Any] = {
    "accounts": [CHECKING, CREDIT],
    "transactions": [
        transaction("t1", 4.33, "2026-11-20", "Starbucks 1234", "Starbucks", pending=True),
        transaction("t2", -500.0, "2026-11-19", "ACME PAYROLL", None),
        transaction(
            "t3",
            89.4,
            "2026-11-18",
            "UNITED AIRLINES",
            "United Airlines",
            account_id=CREDIT["account_id"],
        ),
        transaction("t4", 5.1, "2026-11-16", "STARBUCKS 5678", "Starbucks"),
    ],
    "total_transactions": 4,
    "item": ITEM,
    "request_id": "45QSn",
}


def plaid_error(
    status: int, error_type: str, code: str, message: str, display: str | None = None
) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "display_message": display,
            "documentation_url": f"https://plaid.com/docs/errors/#{code.lower()}",
            "error_code": code,
            "error_message": message,
            "error_type": error_type,
            "request_id": "HNTDNrA8F1shFEW",
            "causes": [],
            "status": status,
            "suggested_action": None,
        },
    )


Route = Callable[[httpx.Request], httpx.Response]


class FakePlaid:
    def __init__(self, routes: dict[str, Route | dict[str, Any]] | None = None) -> None:
        self.routes: dict[str, Route | dict[str, Any]] = {
            "/accounts/balance/get": BALANCES,
            "/transactions/get": TRANSACTIONS,
            **(routes or {}),
        }
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get(request.url.path.removeprefix("/plaid"))
        if answer is None:
            return plaid_error(404, "INVALID_REQUEST", "NOT_FOUND", "not found")
        if callable(answer):
            return answer(request)
        return httpx.Response(200, json=answer)

    def body(self, index: int = -1) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[index].content)
        return body


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def tools_for(
    fake: FakePlaid, settings: Any = None, secrets: dict[str, str] | None = None, **kw: Any
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(
        http=http,
        settings=settings if settings is not None else SimpleNamespace(now=lambda: NOW),
        secrets=Secrets(SECRETS if secrets is None else secrets),
        **kw,
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def balances(fake: FakePlaid, **kw: Any) -> str:
    return await tools_for(fake, **kw)["bank_balances"].func()


async def transactions(fake: FakePlaid, **kw: Any) -> str:
    return await tools_for(fake)["bank_transactions"].func(**kw)


# ---------------------------------------------------------------- happy paths


async def test_balances_posted_to_the_sandbox() -> None:
    fake = FakePlaid()

    said = await balances(fake)

    assert said == (
        "Plaid Checking ending 0000: $100.00 available ($110.00 current balance). "
        "Plaid Credit Card ending 3333: $410.00 owed, limit $2,000.00."
    )
    (request,) = fake.requests
    assert request.method == "POST"
    assert str(request.url) == "https://sandbox.plaid.com/accounts/balance/get"
    assert request.headers["Content-Type"] == "application/json"
    assert fake.body() == {"client_id": CLIENT_ID, "secret": SECRET, "access_token": TOKEN}


async def test_production_environment_and_endpoint_override() -> None:
    fake = FakePlaid()
    settings = SimpleNamespace(plaid_environment="production", now=lambda: NOW)
    await balances(fake, settings=settings)
    assert fake.requests[0].url.host == "production.plaid.com"

    fake = FakePlaid()
    await balances(fake, endpoints={"plaid": "http://127.0.0.1:9/plaid/"})
    assert str(fake.requests[0].url) == "http://127.0.0.1:9/plaid/accounts/balance/get"


async def test_unknown_environment_is_refused() -> None:
    fake = FakePlaid()
    with pytest.raises(ConnectorError) as caught:
        await balances(fake, settings=SimpleNamespace(plaid_environment="development"))
    assert caught.value.message == (
        "The plaid_environment setting is 'development'; it must be sandbox or production."
    )
    assert fake.requests == []


async def test_transactions_summary_and_list() -> None:
    fake = FakePlaid()

    said = await transactions(fake, days=7)

    assert said == (
        "4 transactions in the last 7 days (since November 15): you spent $98.83 and "
        "received $500.00.\n"
        "- November 20: spent $4.33 at Starbucks (Plaid Checking ending 0000), pending\n"
        "- November 19: received $500.00 from ACME PAYROLL (Plaid Checking ending 0000)\n"
        "- November 18: spent $89.40 at United Airlines (Plaid Credit Card ending 3333)\n"
        "- November 16: spent $5.10 at Starbucks (Plaid Checking ending 0000)"
    )
    assert str(fake.requests[0].url) == "https://sandbox.plaid.com/transactions/get"
    assert fake.body() == {
        "client_id": CLIENT_ID,
        "secret": SECRET,
        "access_token": TOKEN,
        "start_date": "2026-11-15",
        "end_date": "2026-11-21",
        "options": {"count": 250, "offset": 0},
    }


async def test_spending_at_one_merchant() -> None:
    said = await transactions(FakePlaid(), days=30, merchant="starbucks")
    assert said.splitlines()[0] == (
        "2 transactions at starbucks in the last 30 days (since October 23): you spent $9.43."
    )


async def test_nothing_found() -> None:
    fake = FakePlaid(
        {"/transactions/get": {**TRANSACTIONS, "transactions": [], "total_transactions": 0}}
    )
    assert (
        await transactions(fake, days=1)
        == "No transactions in the last 1 days (since November 21)."
    )
    assert await transactions(FakePlaid(), merchant="Zara") == (
        "No transactions at Zara in the last 7 days (since November 15)."
    )


async def test_days_are_clamped() -> None:
    fake = FakePlaid()
    await transactions(fake, days=5000)
    assert fake.body()["start_date"] == "2024-11-22"


async def test_more_transactions_than_fetched_are_mentioned() -> None:
    fake = FakePlaid({"/transactions/get": {**TRANSACTIONS, "total_transactions": 900}})
    said = await transactions(fake)
    assert "(Showing the latest 4 of 900.)" in said.splitlines()[0]


# ---------------------------------------------------------------- keys and errors


@pytest.mark.parametrize("missing", sorted(SECRETS))
async def test_missing_secret(missing: str) -> None:
    fake = FakePlaid()
    partial = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(ConnectorError) as caught:
        await balances(fake, secrets=partial)
    assert caught.value.message == "Connect Plaid first: python main.py connect banking"
    assert fake.requests == []


async def test_item_login_required_means_reconnect() -> None:
    reply = plaid_error(
        400,
        "ITEM_ERROR",
        "ITEM_LOGIN_REQUIRED",
        "the login details of this item have changed (credentials, MFA, or required user "
        "action) and a user login is required to update this information.",
    )
    with pytest.raises(ConnectorError) as caught:
        await balances(FakePlaid({"/accounts/balance/get": lambda _r: reply}))
    assert caught.value.message == (
        "Your bank needs you to sign in again: reconnect your bank with: "
        "python main.py connect banking"
    )
    assert not caught.value.retryable


@pytest.mark.parametrize(
    "reply",
    [
        plaid_error(
            400, "INVALID_INPUT", "INVALID_API_KEYS", "invalid client_id or secret provided"
        ),
        httpx.Response(401, text="Unauthorized"),
        httpx.Response(403, text="Forbidden"),
    ],
    ids=["invalid-keys", "401", "403"],
)
async def test_rejected_keys(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await balances(FakePlaid({"/accounts/balance/get": lambda _r: reply}))
    assert caught.value.message == (
        "Plaid didn't accept your client ID or secret. Check them with: "
        "python main.py connect banking"
    )


async def test_invalid_access_token() -> None:
    reply = plaid_error(
        400,
        "INVALID_INPUT",
        "INVALID_ACCESS_TOKEN",
        "provided access token is in an invalid format",
    )
    with pytest.raises(ConnectorError) as caught:
        await transactions(FakePlaid({"/transactions/get": lambda _r: reply}))
    assert caught.value.message == (
        "Plaid doesn't recognise your bank connection; reconnect your bank with: "
        "python main.py connect banking"
    )


async def test_product_not_ready() -> None:
    reply = plaid_error(
        400, "ITEM_ERROR", "PRODUCT_NOT_READY", "the requested product is not yet ready."
    )
    with pytest.raises(ConnectorError) as caught:
        await transactions(FakePlaid({"/transactions/get": lambda _r: reply}))
    assert caught.value.message == (
        "Your bank's transactions aren't ready at Plaid yet; try again in a few minutes."
    )
    assert caught.value.retryable


async def test_institution_down() -> None:
    reply = plaid_error(
        400,
        "INSTITUTION_ERROR",
        "INSTITUTION_NOT_RESPONDING",
        "this financial institution is not currently responding to requests.",
        "The financial institution is not responding. Please try again later.",
    )
    with pytest.raises(ConnectorError) as caught:
        await balances(FakePlaid({"/accounts/balance/get": lambda _r: reply}))
    assert caught.value.message == "Your bank isn't responding to Plaid right now; try again later."


async def test_rate_limit() -> None:
    reply = plaid_error(
        429,
        "RATE_LIMIT_EXCEEDED",
        "BALANCE_LIMIT",
        "rate limit exceeded for attempts to access balance for this item.",
    )
    with pytest.raises(ConnectorError) as caught:
        await balances(FakePlaid({"/accounts/balance/get": lambda _r: reply}))
    assert caught.value.message == "Plaid is rate-limiting requests; try again in a minute."
    assert caught.value.retryable and caught.value.status == 429


@pytest.mark.parametrize(
    "reply",
    [
        plaid_error(500, "API_ERROR", "INTERNAL_SERVER_ERROR", "an unexpected error occurred"),
        plaid_error(503, "API_ERROR", "PLANNED_MAINTENANCE", "the Plaid API is under maintenance"),
    ],
    ids=["internal", "maintenance"],
)
async def test_plaid_server_errors(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await balances(FakePlaid({"/accounts/balance/get": lambda _r: reply}))
    assert caught.value.message == "Plaid is having trouble right now; try again later."
    assert caught.value.retryable


async def test_html_5xx() -> None:
    reply = httpx.Response(502, text="<html>Bad gateway</html>")
    with pytest.raises(ConnectorError) as caught:
        await balances(FakePlaid({"/accounts/balance/get": lambda _r: reply}))
    assert caught.value.message == "Plaid is having trouble right now (HTTP 502)."


async def test_other_errors_prefer_the_display_message_and_hide_secrets() -> None:
    reply = plaid_error(
        400,
        "INVALID_REQUEST",
        "INVALID_FIELD",
        f"access_token {TOKEN} must be a properly formatted, non-empty string",
        None,
    )
    with pytest.raises(ConnectorError) as caught:
        await transactions(FakePlaid({"/transactions/get": lambda _r: reply}))
    assert caught.value.message == (
        "Plaid couldn't do that: access_token [hidden] must be a properly formatted, "
        "non-empty string."
    )
    assert TOKEN not in caught.value.message


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        await balances(FakePlaid({"/accounts/balance/get": hang}))
    assert caught.value.message == "Plaid did not answer in time."


@pytest.mark.parametrize(
    ("path", "answer"),
    [
        ("/accounts/balance/get", {"item": ITEM}),
        ("/accounts/balance/get", {"accounts": [{"account_id": "x"}]}),
        ("/transactions/get", {**TRANSACTIONS, "transactions": [{"amount": "lots"}]}),
        (
            "/transactions/get",
            {
                **TRANSACTIONS,
                "transactions": [{**TRANSACTIONS["transactions"][0], "date": "yesterday"}],
            },
        ),
    ],
    ids=["no-accounts", "account-without-balances", "bad-transaction", "bad-date"],
)
async def test_malformed(path: str, answer: dict[str, Any]) -> None:
    fake = FakePlaid({path: answer})
    tools = tools_for(fake)
    with pytest.raises(ConnectorError) as caught:
        if path == "/transactions/get":
            await tools["bank_transactions"].func()
        else:
            await tools["bank_balances"].func()
    assert caught.value.message == "Plaid sent bank data I couldn't read."


async def test_not_json() -> None:
    fake = FakePlaid({"/accounts/balance/get": lambda _r: httpx.Response(200, text="<html>")})
    with pytest.raises(ConnectorError, match="couldn't read"):
        await balances(fake)


# ---------------------------------------------------------------- helpers and wiring


def test_amounts() -> None:
    assert amount_text(1234.5, "USD") == "$1,234.50"
    assert amount_text(-3, "GBP") == "-£3.00"
    assert amount_text(10, "CHF") == "10.00 CHF"


def test_read_only_tools_schemas_and_metadata() -> None:
    tools = tools_for(FakePlaid())
    assert sorted(tools) == ["bank_balances", "bank_transactions"]
    assert not any(tool.side_effect for tool in tools.values())
    schema = function_tool(tools["bank_transactions"].func).params_json_schema
    assert sorted(schema["properties"]) == ["days", "merchant"]
    assert render_progress(tools["bank_balances"].progress, {}) == "Checking your bank balances..."
    assert CONNECTOR.requires_secrets == ("plaid.client_id", "plaid.secret", "plaid.access_token")
    assert "dashboard.plaid.com" in CONNECTOR.key_help
