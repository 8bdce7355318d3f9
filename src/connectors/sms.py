"""Send a text message (SMS) through the user's own Twilio account, after they approve.

One call, ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP Basic auth
(account SID and auth token) and form fields To, From and Body. Twilio's error replies are
JSON with ``code``, ``message`` and ``more_info``; the common codes (bad number, unverified
number on a trial account, recipient opted out) become plain sentences, the rest are relayed
with Twilio's own message and code so the user can look them up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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

NAME = "sms"
TITLE = "Text messages (Twilio)"
SERVICE = "Twilio"
DEFAULT_BASE_URL = "https://api.twilio.com"
ACCOUNT_SID = "twilio.account_sid"
AUTH_TOKEN = "twilio.auth_token"  # the secret's name, not a secret
FROM_NUMBER = "twilio.from_number"
REQUEST_TIMEOUT = httpx.Timeout(20.0)
MAX_BODY_CHARS = 1600  # Twilio's documented limit for one message body

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_NUMBER_NOISE = re.compile(r"[\s().\-]")

# Twilio error codes that deserve their own sentence.
_CODES: Mapping[int, str] = {
    20003: (
        "Twilio didn't accept your account SID and auth token. "
        "Reconnect them: python main.py connect sms"
    ),
    21211: "Twilio says {to} isn't a valid phone number.",
    21614: "Twilio says {to} isn't a mobile number, so it can't receive texts.",
    21610: "{to} has opted out of your texts (they replied STOP), so Twilio won't send it.",
    21608: (
        "{to} isn't verified on your Twilio trial account. Verify it in the Twilio console, "
        "or upgrade the account, to text it."
    ),
    21606: "Your Twilio number {sender} can't send texts to that destination.",
    21212: "Your Twilio sending number {sender} isn't valid; check twilio.from_number.",
    21659: "Your Twilio sending number {sender} isn't valid; check twilio.from_number.",
    21408: "Your Twilio account isn't allowed to text that country yet (enable it in the console).",
}


def normalise_number(text: str) -> str:
    """ "+1 (555) 123-4567" -> "+15551234567"; "00" becomes "+". Not validated here."""
    number = _NUMBER_NOISE.sub("", text.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    return number


def _twilio_error(response: httpx.Response) -> tuple[int | None, str | None]:
    body = body_object(response)
    code = body.get("code")
    message = body.get("message")
    return (
        int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
        str(message).strip() if message else None,
    )


class TwilioClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str = DEFAULT_BASE_URL) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def send(
        self, account_sid: str, auth_token: str, sender: str, to: str, body: str
    ) -> dict[str, Any]:
        payload = await request_json(
            self._http,
            SERVICE,
            "POST",
            f"{self._base}/2010-04-01/Accounts/{account_sid}/Messages.json",
            data={"To": to, "From": sender, "Body": body},
            auth=(account_sid, auth_token),
            headers={"Accept": "application/json"},
            timeout=REQUEST_TIMEOUT,
            check=lambda response: _refusal(response, to=to, sender=sender),
            malformed=_malformed(),
        )
        if not payload.get("sid"):
            raise _malformed()
        return payload


def _malformed() -> ConnectorError:
    # The request may well have gone through: say so, so nobody sends it twice by accident.
    return ConnectorError(
        f"{SERVICE} answered in a way I couldn't read, so I can't tell whether the text was "
        "sent. Check the Twilio console before sending it again."
    )


def _refusal(response: httpx.Response, *, to: str, sender: str) -> ConnectorError | None:
    """Twilio's error codes as sentences; the generic ones where Twilio has nothing to add."""
    status = response.status_code
    if status < 400:
        return None
    code, message = _twilio_error(response)
    if code is not None and code in _CODES:
        return ConnectorError(_CODES[code].format(to=to, sender=sender), status=status)
    if status in (401, 403):
        return ConnectorError(_CODES[20003], status=status)
    if status == 429 or status >= 500 or not message:
        return None
    suffix = f" (error {code})" if code else ""
    return ConnectorError(
        f"{SERVICE} refused the text: {message.rstrip('.')}{suffix}.", status=status
    )


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = TwilioClient(ctx.http, ctx.endpoint("twilio", DEFAULT_BASE_URL))

    async def send_sms(to: str, message: str) -> str:
        """Send a text message (SMS) from the user's Twilio number.

        Args:
            to: The recipient's phone number in international form with the country code,
                e.g. "+15551234567".
            message: The text to send, exactly as it should arrive.
        """
        sid = require_secret(ctx, ACCOUNT_SID, TITLE, NAME)
        token = require_secret(ctx, AUTH_TOKEN, TITLE, NAME)
        sender = normalise_number(require_secret(ctx, FROM_NUMBER, TITLE, NAME))
        number = normalise_number(to)
        if not _E164.match(number):
            raise ConnectorError(
                f"I need {to} in international form: a plus sign, the country code and the "
                "number, like +15551234567."
            )
        body = message.strip()
        if not body:
            raise ConnectorError("The text is empty, so I didn't send anything.")
        if len(body) > MAX_BODY_CHARS:
            raise ConnectorError(f"That text is too long (over {MAX_BODY_CHARS} characters).")
        payload = await client.send(sid, token, sender, number, body)
        status = str(payload.get("status") or "queued")
        if status in ("failed", "undelivered"):
            reason = payload.get("error_message") or "no reason given"
            raise ConnectorError(f"{SERVICE} couldn't send the text to {number}: {reason}.")
        return f"Text to {number} handed to Twilio ({status})."

    return [
        ToolDef(
            send_sms,
            progress="Texting {to}...",
            side_effect=True,
            readback="Text {to}: {message}",
        )
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Texts someone: sends an SMS text message to a phone number from the user's own "
        "Twilio number."
    ),
    instructions=(
        "You send text messages. You need the recipient's phone number in international form "
        "(+ and country code); if the user gives a name, ask for the number, because you have "
        "no address book. Send exactly the words the user asked for. Hark reads the text back "
        "and asks the user first; if they decline, say nothing was sent. If a tool reports a "
        "problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Text +15551234567 'on my way, see you at six'.",
        "Send an SMS to +44 7700 900123 saying the meeting moved to 3pm.",
    ),
    requires_secrets=(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER),
    key_help=(
        "In the Twilio console (https://console.twilio.com) copy the Account SID and Auth Token "
        "and store them as twilio.account_sid and twilio.auth_token; store your Twilio phone "
        "number (like +15557654321) as twilio.from_number."
    ),
    followups=("Text {to} again",),
)
