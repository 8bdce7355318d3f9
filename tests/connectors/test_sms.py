"""The SMS connector against a fake Twilio Messages API speaking its documented JSON."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.sms import CONNECTOR, normalise_number

HOST = "api.twilio.com"
SID = "AC00000000000000000000000000000001"
KEYS = {
    "twilio.account_sid": SID,
    "twilio.auth_token": "tw-token",
    "twilio.from_number": "+1 (555) 765-4321",
}


def created(to: str, body: str, status: str = "queued") -> dict[str, Any]:
    return {
        "account_sid": SID,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": "Sat, 21 Nov 2026 15:00:00 +0000",
        "date_sent": None,
        "date_updated": "Sat, 21 Nov 2026 15:00:00 +0000",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": "+15557654321",
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": "SM00000000000000000000000000000001",
        "status": status,
        "subresource_uris": {"media": f"/2010-04-01/Accounts/{SID}/Messages/SM1/Media.json"},
        "to": to,
        "uri": f"/2010-04-01/Accounts/{SID}/Messages/SM00000000000000000000000000000001.json",
    }


def twilio_error(status: int, code: int, message: str) -> Callable[[httpx.Request], httpx.Response]:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return lambda _r: httpx.Response(status, json=body)


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


class FakeTwilio:
    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answer is not None:
            return self.answer(request)
        form = parse_qs(request.content.decode())
        return httpx.Response(201, json=created(form["To"][0], form["Body"][0]))


def tools_for(fake: FakeTwilio, keys: dict[str, str] = KEYS, **kw: Any) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(http=http, secrets=Secrets(keys), **kw)
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


async def send(fake: FakeTwilio, to: str = "+1 555 123 4567", message: str = "On my way") -> str:
    return await tools_for(fake)["send_sms"].func(to=to, message=message)


async def test_a_text_is_sent_with_basic_auth_and_form_fields() -> None:
    fake = FakeTwilio()

    said = await send(fake)

    assert said == "Text to +15551234567 handed to Twilio (queued)."
    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.host == HOST
    assert request.url.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    expected = base64.b64encode(f"{SID}:tw-token".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "To": ["+15551234567"],
        "From": ["+15557654321"],
        "Body": ["On my way"],
    }


def test_side_effect_and_exact_readback() -> None:
    tool = tools_for(FakeTwilio())["send_sms"]
    assert tool.side_effect
    assert render_progress(tool.readback, {"to": "+15551234567", "message": "hi there"}) == (
        "Text +15551234567: hi there"
    )
    assert render_progress(tool.progress, {"to": "+15551234567"}) == "Texting +15551234567..."


@pytest.mark.parametrize(
    ("raw", "number"),
    [("+1 (555) 123-4567", "+15551234567"), ("0044 7700 900123", "+447700900123")],
)
def test_numbers_are_normalised(raw: str, number: str) -> None:
    assert normalise_number(raw) == number


@pytest.mark.parametrize(
    ("to", "message", "sentence"),
    [
        ("555-1234", "hi", "I need 555-1234 in international form"),
        ("+15551234567", "   ", "The text is empty, so I didn't send anything."),
        ("+15551234567", "x" * 1601, "That text is too long (over 1600 characters)."),
    ],
)
async def test_bad_input_sends_nothing(to: str, message: str, sentence: str) -> None:
    fake = FakeTwilio()

    with pytest.raises(ConnectorError) as caught:
        await send(fake, to, message)

    assert caught.value.message.startswith(sentence)
    assert fake.requests == []


@pytest.mark.parametrize(
    "missing", ["twilio.account_sid", "twilio.auth_token", "twilio.from_number"]
)
async def test_missing_secret(missing: str) -> None:
    fake = FakeTwilio()
    keys = {k: v for k, v in KEYS.items() if k != missing}

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake, keys)["send_sms"].func(to="+15551234567", message="hi")

    assert (
        caught.value.message == "Connect Text messages (Twilio) first: python main.py connect sms"
    )
    assert fake.requests == []


# ---------------------------------------------------------------- documented errors


async def test_bad_credentials() -> None:
    fake = FakeTwilio(twilio_error(401, 20003, "Authenticate"))

    with pytest.raises(ConnectorError) as caught:
        await send(fake)

    assert caught.value.message == (
        "Twilio didn't accept your account SID and auth token. "
        "Reconnect them: python main.py connect sms"
    )
    assert caught.value.status == 401


async def test_forbidden_without_a_code() -> None:
    fake = FakeTwilio(lambda _r: httpx.Response(403, text="Forbidden"))

    with pytest.raises(ConnectorError, match="didn't accept your account SID"):
        await send(fake)


@pytest.mark.parametrize(
    ("code", "message", "sentence"),
    [
        (
            21211,
            "The 'To' number +15551234567 is not a valid phone number.",
            "Twilio says +15551234567 isn't a valid phone number.",
        ),
        (
            21608,
            "The number +15551234567 is unverified. Trial accounts cannot send messages to "
            "unverified numbers; verify +15551234567 at twilio.com/user/account/phone-numbers/"
            "verified, or purchase a Twilio number to send messages to unverified numbers.",
            "+15551234567 isn't verified on your Twilio trial account.",
        ),
        (
            21610,
            "Attempt to send to unsubscribed recipient",
            "+15551234567 has opted out of your texts (they replied STOP)",
        ),
        (
            21212,
            "The 'From' number +15557654321 is not a valid phone number, shortcode, or "
            "alphanumeric sender ID.",
            "Your Twilio sending number +15557654321 isn't valid",
        ),
        (
            30007,
            "Message filtered as spam.",
            "Twilio refused the text: Message filtered as spam (error 30007).",
        ),
    ],
)
async def test_documented_error_codes(code: int, message: str, sentence: str) -> None:
    fake = FakeTwilio(twilio_error(400, code, message))

    with pytest.raises(ConnectorError) as caught:
        await send(fake)

    assert caught.value.message.startswith(sentence)
    assert caught.value.status == 400


async def test_rate_limit() -> None:
    fake = FakeTwilio(twilio_error(429, 20429, "Too Many Requests"))

    with pytest.raises(ConnectorError) as caught:
        await send(fake)

    assert caught.value.message == "Twilio is rate-limiting requests; try again in a minute."
    assert caught.value.retryable


async def test_server_error() -> None:
    fake = FakeTwilio(twilio_error(503, 20500, "Internal Server Error"))

    with pytest.raises(ConnectorError) as caught:
        await send(fake)

    assert caught.value.message == "Twilio is having trouble right now (HTTP 503)."


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ConnectorError, match=r"^Twilio did not answer in time\.$"):
        await send(FakeTwilio(hang))


@pytest.mark.parametrize(
    "reply",
    [httpx.Response(201, text="created"), httpx.Response(201, json={"status": "queued"})],
    ids=["text", "no-sid"],
)
async def test_malformed_reply_warns_against_resending(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await send(FakeTwilio(lambda _r: reply))

    assert caught.value.message == (
        "Twilio answered in a way I couldn't read, so I can't tell whether the text was sent. "
        "Check the Twilio console before sending it again."
    )
    assert not caught.value.retryable


async def test_an_immediately_failed_message() -> None:
    body = {**created("+15551234567", "hi", status="failed"), "error_message": "Unreachable"}
    fake = FakeTwilio(lambda _r: httpx.Response(201, json=body))

    with pytest.raises(ConnectorError) as caught:
        await send(fake)

    assert caught.value.message == "Twilio couldn't send the text to +15551234567: Unreachable."


async def test_endpoint_override() -> None:
    fake = FakeTwilio()
    tools = tools_for(fake, endpoints={"twilio": "http://127.0.0.1:4010"})

    await tools["send_sms"].func(to="+15551234567", message="hi")

    assert str(fake.requests[0].url) == (
        f"http://127.0.0.1:4010/2010-04-01/Accounts/{SID}/Messages.json"
    )


def test_metadata() -> None:
    assert CONNECTOR.requires_secrets == (
        "twilio.account_sid",
        "twilio.auth_token",
        "twilio.from_number",
    )
    assert "console.twilio.com" in CONNECTOR.key_help
