"""Gmail: search and read messages, save drafts and send mail from the user's account.

Reading goes through the Gmail API's ``users.messages`` resources; a message's text is taken
from its ``text/plain`` MIME parts (base64url in the API), falling back to the HTML part
turned into text. Drafts and sent mail are built as RFC 5322 messages with the standard
library's ``email`` package and uploaded as ``raw``. Both writes are side effects: they wait
for the user's approval after a read-back of exactly what will be sent.

Scopes: ``gmail.readonly`` (search, read) and ``gmail.compose`` (drafts, send); nothing that
can delete or change labels.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import html
import re
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from selectolax.lexbor import LexborHTMLParser

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef
from src.connectors.google_api import KEY_HELP, GoogleApi, google_oauth, unreadable

SERVICE = "Gmail"
DEFAULT_BASE_URL = "https://gmail.googleapis.com/gmail/v1"
SCOPES = (
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.compose",
)
OAUTH = google_oauth(*SCOPES)
MAX_RESULTS = 10
MAX_BODY_CHARS = 6000
SUMMARY_HEADERS = ("From", "Subject", "Date")

_ID = re.compile(r"[A-Za-z0-9_-]{1,256}")


# ---------------------------------------------------------------- MIME payloads


def decode_base64url(data: str) -> bytes:
    """Gmail's ``body.data``: base64url, padding optional."""
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def header(part: Mapping[str, Any], name: str) -> str:
    """A header's value from a payload part (names are case-insensitive)."""
    for item in part.get("headers") or []:
        if isinstance(item, dict) and str(item.get("name", "")).lower() == name.lower():
            return str(item.get("value", ""))
    return ""


def _charset(part: Mapping[str, Any]) -> str:
    match = re.search(r'charset="?([\w.:-]+)"?', header(part, "Content-Type"), re.IGNORECASE)
    return match.group(1) if match else "utf-8"


def _part_text(part: Mapping[str, Any]) -> str:
    data = (part.get("body") or {}).get("data")
    if not isinstance(data, str) or not data:
        return ""
    raw = decode_base64url(data)
    try:
        text = raw.decode(_charset(part), errors="replace")
    except LookupError:
        text = raw.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")


def _walk(part: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = [part]
    for child in part.get("parts") or []:
        if isinstance(child, dict):
            found.extend(_walk(child))
    return found


def _is_attachment(part: Mapping[str, Any]) -> bool:
    disposition = header(part, "Content-Disposition").lower()
    return bool(part.get("filename")) or disposition.startswith("attachment")


def message_text(payload: Mapping[str, Any]) -> str:
    """The readable body: the ``text/plain`` parts, else the HTML parts as text."""
    parts = [p for p in _walk(payload) if not _is_attachment(p)]
    plain = [_part_text(p) for p in parts if str(p.get("mimeType", "")).startswith("text/plain")]
    text = "\n\n".join(t.strip() for t in plain if t.strip())
    if text:
        return text
    markup = [_part_text(p) for p in parts if str(p.get("mimeType", "")).startswith("text/html")]
    pieces = []
    for page in markup:
        tree = LexborHTMLParser(page)
        for node in tree.css("script, style, head"):
            node.decompose()
        body = tree.body or tree.root
        pieces.append(body.text(separator="\n") if body is not None else "")
    lines = (line.strip() for piece in pieces for line in piece.splitlines())
    return "\n".join(line for line in lines if line)


def attachment_names(payload: Mapping[str, Any]) -> list[str]:
    return [str(p["filename"]) for p in _walk(payload) if p.get("filename")]


# ---------------------------------------------------------------- outgoing mail


def check_recipients(to: str) -> str:
    """Validated "To" addresses, joined; ``ConnectorError`` for anything unsendable."""
    if "\n" in to or "\r" in to:
        raise ConnectorError("An email address can't contain a line break.")
    pairs = getaddresses([to])
    addresses = [(name, address) for name, address in pairs if address]
    if not addresses or any(
        "@" not in address or address.startswith("@") or address.endswith("@")
        for _, address in addresses
    ):
        raise ConnectorError(f"“{to}” doesn't look like an email address.")
    return to.strip()


def raw_message(to: str, subject: str, body: str) -> str:
    """An RFC 5322 message, base64url-encoded for the Gmail API's ``raw`` field."""
    if "\n" in subject or "\r" in subject:
        raise ConnectorError("A subject can't contain a line break.")
    message = EmailMessage()
    message["To"] = check_recipients(to)
    message["Subject"] = subject.strip()
    message.set_content(body)
    return base64.urlsafe_b64encode(message.as_bytes()).decode("ascii")


def _check_id(message_id: str) -> str:
    message_id = message_id.strip()
    if not _ID.fullmatch(message_id):
        raise ConnectorError("That isn't a Gmail message id; search for the message first.")
    return message_id


# ---------------------------------------------------------------- the client


class GmailClient:
    """The few ``users.*`` calls Hark makes, on behalf of the signed-in user (``me``)."""

    def __init__(self, api: GoogleApi, base_url: str) -> None:
        self._api = api
        self._base = f"{base_url.rstrip('/')}/users/me"

    async def search(self, query: str, limit: int) -> list[dict[str, Any]]:
        listing = await self._api.get_json(
            f"{self._base}/messages", {"q": query, "maxResults": limit}
        )
        refs = listing.get("messages") or []
        if not isinstance(refs, list):
            raise unreadable(SERVICE)
        ids = [_check_id(str(ref.get("id", ""))) for ref in refs[:limit] if isinstance(ref, dict)]
        params = {"format": "metadata", "metadataHeaders": list(SUMMARY_HEADERS)}
        return list(
            await asyncio.gather(
                *(self._api.get_json(f"{self._base}/messages/{i}", params) for i in ids)
            )
        )

    async def message(self, message_id: str) -> dict[str, Any]:
        return await self._api.get_json(
            f"{self._base}/messages/{_check_id(message_id)}", {"format": "full"}
        )

    async def create_draft(self, raw: str) -> dict[str, Any]:
        return await self._api.post_json(f"{self._base}/drafts", {"message": {"raw": raw}})

    async def send(self, raw: str) -> dict[str, Any]:
        return await self._api.post_json(f"{self._base}/messages/send", {"raw": raw})


def summary_line(index: int, message: Mapping[str, Any]) -> str:
    payload = message.get("payload") or {}
    sender = header(payload, "From") or "an unknown sender"
    subject = header(payload, "Subject") or "(no subject)"
    when = header(payload, "Date")
    snippet = html.unescape(str(message.get("snippet") or "")).strip()
    line = f"{index}. From {sender}: “{subject}”"
    if when:
        line += f" ({when})"
    if snippet:
        line += f" — {snippet}"
    return f"{line} [id {message.get('id', '?')}]"


def format_message(message: Mapping[str, Any]) -> str:
    payload = message.get("payload")
    if not isinstance(payload, dict):
        raise unreadable(SERVICE)
    lines = [
        f"{name}: {value}"
        for name in ("From", "To", "Cc", "Date", "Subject")
        if (value := header(payload, name))
    ]
    try:
        body = message_text(payload)
    except (binascii.Error, ValueError) as exc:
        raise unreadable(SERVICE) from exc
    if len(body) > MAX_BODY_CHARS:
        body = body[:MAX_BODY_CHARS].rstrip() + "\n(The rest of the message was cut off.)"
    attachments = attachment_names(payload)
    if attachments:
        lines.append("Attachments: " + ", ".join(attachments))
    return "\n".join(lines) + "\n\n" + (body or "(The message has no text.)")


def build_tools(ctx: ConnectorContext) -> Sequence[ToolDef]:
    api = GoogleApi(ctx, OAUTH, SERVICE)
    client = GmailClient(api, ctx.endpoint("gmail", DEFAULT_BASE_URL))

    async def search_email(query: str, max_results: int = 5) -> str:
        """Search the user's Gmail and list matching messages, newest first.

        Args:
            query: A Gmail search, e.g. "from:ana newer_than:7d" or "invoice is:unread".
            max_results: How many messages to list (1 to 10).
        """
        limit = max(1, min(MAX_RESULTS, int(max_results)))
        messages = await client.search(query, limit)
        if not messages:
            return f"No emails match {query}."
        lines = [summary_line(i, m) for i, m in enumerate(messages, start=1)]
        return "\n".join(lines)

    async def read_email(message_id: str) -> str:
        """Read one email: its sender, recipients, date, subject and text.

        Args:
            message_id: The message's id, from search_email.
        """
        return format_message(await client.message(message_id))

    async def create_draft(to: str, subject: str, body: str) -> str:
        """Save an email as a draft in Gmail without sending it.

        Args:
            to: The recipient's address (several separated by commas).
            subject: The subject line.
            body: The text of the email.
        """
        answer = await client.create_draft(raw_message(to, subject, body))
        if not answer.get("id"):
            raise ConnectorError("Gmail didn't confirm the draft; check your Drafts folder.")
        return f"Saved a draft to {to.strip()}, subject “{subject.strip()}”."

    async def send_email(to: str, subject: str, body: str) -> str:
        """Send an email from the user's Gmail account.

        Args:
            to: The recipient's address (several separated by commas).
            subject: The subject line.
            body: The text of the email.
        """
        try:
            answer = await client.send(raw_message(to, subject, body))
        except ConnectorError as exc:
            if "couldn't read" in exc.message:
                raise ConnectorError(
                    "Gmail's answer was unreadable, so the email may or may not have gone: "
                    "check your Sent folder before sending it again."
                ) from exc
            raise
        if not answer.get("id"):
            raise ConnectorError(
                "Gmail didn't confirm the email; check your Sent folder before sending it again."
            )
        return f"Sent to {to.strip()}, subject “{subject.strip()}”."

    return [
        ToolDef(search_email, progress="Searching your email for {query}..."),
        ToolDef(read_email, progress="Opening the email..."),
        ToolDef(
            create_draft,
            progress="Saving a draft to {to}...",
            side_effect=True,
            readback="Save a draft to {to}, subject '{subject}': {body}",
        ),
        ToolDef(
            send_email,
            progress="Sending the email to {to}...",
            side_effect=True,
            readback="Send to {to}, subject '{subject}': {body}",
        ),
    ]


CONNECTOR = Connector(
    name="gmail",
    title="Gmail",
    description="Searches and reads the user's Gmail, saves drafts and sends email.",
    instructions=(
        "You handle the user's Gmail. To find mail, call search_email with a Gmail search "
        "(from:, to:, subject:, newer_than:7d, is:unread); to read one, call read_email with "
        "an id from the results. Summarise mail in one or two spoken sentences: who, what, "
        "and anything they must act on; don't read ids aloud. To write, compose a short, "
        "plain email in the user's voice and call send_email, or create_draft if they want to "
        "review it; Hark reads it back and asks the user first. If they decline, say nothing "
        "was sent. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Do I have any unread email from Ana?",
        "Read me the latest email about the invoice.",
        "Email bob@example.com that I'll be ten minutes late.",
    ),
    followups=("Read me the first one", "Draft a reply to that email"),
    key_help=KEY_HELP,
    oauth=OAUTH,
)
