"""Gmail against a fake speaking the Gmail API's documented JSON (users.messages, drafts)."""

from __future__ import annotations

import base64
import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorError, ToolDef
from src.connectors.gmail import CONNECTOR, SCOPES, message_text
from src.services.oauth import TokenSet
from src.services.secrets import SecretStore
from tests.fakes.google_apis import (
    CLIENT_ID,
    CLIENT_SECRET,
    NOW,
    REFRESH_TOKEN,
    FakeGoogle,
    connected_store,
    google_context,
    insufficient_scopes,
    rate_limited,
    tools,
)

BASE = "/gmail/v1/users/me"


def b64url(text: str, charset: str = "utf-8") -> str:
    return base64.urlsafe_b64encode(text.encode(charset)).decode().rstrip("=")


LIST = {
    "messages": [
        {"id": "18c1f2a3b4c5d6e7", "threadId": "18c1f2a3b4c5d6e7"},
        {"id": "18c1f00000000001", "threadId": "18c1effffffff000"},
    ],
    "nextPageToken": "09876543210987654321",
    "resultSizeEstimate": 2,
}


def metadata(message_id: str, sender: str, subject: str, snippet: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "threadId": message_id,
        "labelIds": ["UNREAD", "IMPORTANT", "CATEGORY_PERSONAL", "INBOX"],
        "snippet": snippet,
        "payload": {
            "partId": "",
            "mimeType": "multipart/alternative",
            "filename": "",
            "headers": [
                {"name": "From", "value": sender},
                {"name": "Subject", "value": subject},
                {"name": "Date", "value": "Thu, 19 Nov 2026 18:04:11 +0100"},
            ],
        },
        "sizeEstimate": 5123,
        "historyId": "4412398",
        "internalDate": "1795107851000",
    }


FULL = {
    "id": "18c1f2a3b4c5d6e7",
    "threadId": "18c1f2a3b4c5d6e7",
    "labelIds": ["UNREAD", "INBOX"],
    "snippet": "Are we still on for Friday?",
    "payload": {
        "partId": "",
        "mimeType": "multipart/mixed",
        "filename": "",
        "headers": [
            {"name": "Delivered-To", "value": "me@example.com"},
            {"name": "From", "value": "Ana López <ana@example.com>"},
            {"name": "To", "value": "me@example.com"},
            {"name": "Subject", "value": "Lunch Friday?"},
            {"name": "Date", "value": "Thu, 19 Nov 2026 18:04:11 +0100"},
            {"name": "Content-Type", "value": 'multipart/mixed; boundary="000000000000abc"'},
        ],
        "body": {"size": 0},
        "parts": [
            {
                "partId": "0",
                "mimeType": "multipart/alternative",
                "filename": "",
                "headers": [{"name": "Content-Type", "value": "multipart/alternative"}],
                "body": {"size": 0},
                "parts": [
                    {
                        "partId": "0.0",
                        "mimeType": "text/plain",
                        "filename": "",
                        "headers": [
                            {"name": "Content-Type", "value": 'text/plain; charset="UTF-8"'},
                        ],
                        "body": {
                            "size": 70,
                            "data": b64url(
                                "Are we still on for Friday?\r\nI'll book the café.\r\n"
                            ),
                        },
                    },
                    {
                        "partId": "0.1",
                        "mimeType": "text/html",
                        "filename": "",
                        "headers": [
                            {"name": "Content-Type", "value": 'text/html; charset="UTF-8"'}
                        ],
                        "body": {"size": 90, "data": b64url("<div>HTML version</div>")},
                    },
                ],
            },
            {
                "partId": "1",
                "mimeType": "application/pdf",
                "filename": "menu.pdf",
                "headers": [
                    {"name": "Content-Type", "value": 'application/pdf; name="menu.pdf"'},
                    {"name": "Content-Disposition", "value": 'attachment; filename="menu.pdf"'},
                ],
                "body": {"attachmentId": "ANGjdJ8-xyz", "size": 48213},
            },
        ],
    },
    "sizeEstimate": 67001,
    "historyId": "4412398",
    "internalDate": "1795107851000",
}


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return connected_store(tmp_path)


def gmail(fake: FakeGoogle, store: SecretStore | None, **kwargs: Any) -> dict[str, ToolDef]:
    return tools(CONNECTOR.build_tools, google_context(fake, store, **kwargs))


def search_fake() -> FakeGoogle:
    fake = FakeGoogle().on("GET", f"{BASE}/messages", LIST)
    fake.on(
        "GET",
        f"{BASE}/messages/18c1f2a3b4c5d6e7",
        metadata(
            "18c1f2a3b4c5d6e7",
            "Ana López <ana@example.com>",
            "Lunch Friday?",
            "Are we still on for Friday? I&#39;ll book the caf&eacute;",
        ),
    )
    fake.on(
        "GET",
        f"{BASE}/messages/18c1f00000000001",
        metadata("18c1f00000000001", "billing@example.org", "Invoice 2291", "Your invoice"),
    )
    return fake


# ---------------------------------------------------------------- reading


async def test_search_lists_sender_subject_and_snippet(store: SecretStore) -> None:
    fake = search_fake()

    said = await gmail(fake, store)["search_email"].func(query="is:unread", max_results=5)

    assert said.splitlines() == [
        "1. From Ana López <ana@example.com>: “Lunch Friday?” (Thu, 19 Nov 2026 18:04:11 +0100)"
        " — Are we still on for Friday? I'll book the café [id 18c1f2a3b4c5d6e7]",
        "2. From billing@example.org: “Invoice 2291” (Thu, 19 Nov 2026 18:04:11 +0100)"
        " — Your invoice [id 18c1f00000000001]",
    ]
    listing = fake.last("/messages")
    assert listing.url.host == "gmail.googleapis.com"
    assert dict(listing.url.params) == {"q": "is:unread", "maxResults": "5"}
    detail = fake.last("/messages/18c1f2a3b4c5d6e7")
    assert detail.url.params["format"] == "metadata"
    assert detail.url.params.get_list("metadataHeaders") == ["From", "Subject", "Date"]
    assert detail.headers["Authorization"] == "Bearer ya29.first-access-token"


async def test_search_with_no_hits(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", f"{BASE}/messages", {"resultSizeEstimate": 0})
    said = await gmail(fake, store)["search_email"].func(query="from:nobody")
    assert said == "No emails match from:nobody."
    assert fake.paths() == [f"{BASE}/messages"]


async def test_read_decodes_the_plain_text_part(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", f"{BASE}/messages/18c1f2a3b4c5d6e7", FULL)

    said = await gmail(fake, store)["read_email"].func(message_id="18c1f2a3b4c5d6e7")

    assert said == (
        "From: Ana López <ana@example.com>\n"
        "To: me@example.com\n"
        "Date: Thu, 19 Nov 2026 18:04:11 +0100\n"
        "Subject: Lunch Friday?\n"
        "Attachments: menu.pdf\n\n"
        "Are we still on for Friday?\nI'll book the café."
    )
    assert fake.last("/messages/18c1f2a3b4c5d6e7").url.params["format"] == "full"


def test_html_only_messages_become_text_and_charsets_are_honoured() -> None:
    payload = {
        "mimeType": "multipart/alternative",
        "parts": [
            {
                "mimeType": "text/html",
                "headers": [{"name": "Content-Type", "value": "text/html; charset=ISO-8859-1"}],
                "body": {
                    "data": b64url(
                        "<html><head><style>p{}</style></head><body><p>Réunion à 10h</p>"
                        "<p>Salle 4</p><script>x()</script></body></html>",
                        "iso-8859-1",
                    )
                },
            }
        ],
    }
    assert message_text(payload) == "Réunion à 10h\nSalle 4"


@pytest.mark.parametrize("bad_id", ["../drafts", "18c1f2a3 b4", ""])
async def test_odd_message_ids_never_reach_gmail(store: SecretStore, bad_id: str) -> None:
    fake = FakeGoogle()
    with pytest.raises(ConnectorError, match="search for the message first"):
        await gmail(fake, store)["read_email"].func(message_id=bad_id)
    assert fake.requests == []


# ---------------------------------------------------------------- writing


def sent_message(request: httpx.Request, *path: str) -> EmailMessage:
    body: Any = json.loads(request.content)
    for key in path:
        body = body[key]
    raw = base64.urlsafe_b64decode(body["raw"] + "=" * (-len(body["raw"]) % 4))
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_send_uploads_an_rfc5322_message(store: SecretStore) -> None:
    fake = FakeGoogle().on(
        "POST",
        f"{BASE}/messages/send",
        {"id": "18c20000000000aa", "threadId": "18c20000000000aa", "labelIds": ["SENT"]},
    )

    said = await gmail(fake, store)["send_email"].func(
        to="bob@example.com", subject="Running late", body="Ten minutes, sorry! — A."
    )

    assert said == "Sent to bob@example.com, subject “Running late”."
    message = sent_message(fake.last("/messages/send"))
    assert message["To"] == "bob@example.com"
    assert message["Subject"] == "Running late"
    body = message.get_body(("plain",))
    assert body is not None and body.get_content().strip() == "Ten minutes, sorry! — A."


async def test_draft_is_created_with_the_message(store: SecretStore) -> None:
    fake = FakeGoogle().on(
        "POST",
        f"{BASE}/drafts",
        {
            "id": "r-5212783839012345678",
            "message": {
                "id": "18c2000000000bbb",
                "threadId": "18c2000000000bbb",
                "labelIds": ["DRAFT"],
            },
        },
    )

    said = await gmail(fake, store)["create_draft"].func(
        to="Ana López <ana@example.com>", subject="Café ☕", body="Friday works."
    )

    assert said == "Saved a draft to Ana López <ana@example.com>, subject “Café ☕”."
    message = sent_message(fake.last("/drafts"), "message")
    assert message["Subject"] == "Café ☕"
    assert "ana@example.com" in message["To"]


@pytest.mark.parametrize(
    ("to", "subject", "words"),
    [
        ("not an address", "Hi", "doesn't look like an email address"),
        ("bob@example.com\nBcc: eve@example.com", "Hi", "line break"),
        ("bob@example.com", "Hi\r\nBcc: eve@example.com", "line break"),
    ],
)
async def test_unsendable_mail_is_refused_before_any_request(
    store: SecretStore, to: str, subject: str, words: str
) -> None:
    fake = FakeGoogle()
    with pytest.raises(ConnectorError, match=words):
        await gmail(fake, store)["send_email"].func(to=to, subject=subject, body="x")
    assert fake.requests == []


async def test_an_unreadable_send_answer_warns_against_sending_twice(store: SecretStore) -> None:
    fake = FakeGoogle().on("POST", f"{BASE}/messages/send", httpx.Response(200, text="<html>"))
    with pytest.raises(ConnectorError, match="check your Sent folder before sending it again"):
        await gmail(fake, store)["send_email"].func(to="bob@example.com", subject="s", body="b")


def test_sending_and_drafting_need_approval_with_a_readback() -> None:
    by_name = {t.name: t for t in CONNECTOR.build_tools(google_context(FakeGoogle(), None))}
    assert by_name["send_email"].side_effect
    assert by_name["send_email"].readback == "Send to {to}, subject '{subject}': {body}"
    assert by_name["create_draft"].side_effect and by_name["create_draft"].readback
    assert not by_name["search_email"].side_effect and not by_name["read_email"].side_effect
    assert CONNECTOR.oauth is not None
    assert CONNECTOR.oauth.provider == "google"
    assert CONNECTOR.oauth.scopes == SCOPES


# ---------------------------------------------------------------- tokens


async def test_a_401_renews_the_token_once_and_stores_it(store: SecretStore) -> None:
    fake = search_fake()
    fake.revoke_first_token()

    said = await gmail(fake, store)["search_email"].func(query="lunch", max_results=1)

    assert said.startswith("1. From Ana López")
    assert [f["grant_type"] for f in fake.token_requests] == ["refresh_token"]
    assert fake.token_requests[0]["client_id"] == CLIENT_ID
    assert fake.token_requests[0]["client_secret"] == CLIENT_SECRET
    stored = TokenSet.from_json(store.get("oauth.google") or "")
    assert stored.access_token == "ya29.renewed-1"
    assert stored.refresh_token == REFRESH_TOKEN
    assert stored.expires_at == NOW.timestamp() + 3599
    auth = [r.headers["Authorization"] for r in fake.requests]
    assert auth[0] == "Bearer ya29.first-access-token"
    assert set(auth[1:]) == {"Bearer ya29.renewed-1"}


async def test_a_token_about_to_expire_is_renewed_before_the_call(tmp_path: Path) -> None:
    fake = search_fake()
    store = connected_store(tmp_path, expires_in=30)

    await gmail(fake, store)["search_email"].func(query="lunch", max_results=1)

    assert len(fake.token_requests) == 1
    assert all(r.headers["Authorization"] == "Bearer ya29.renewed-1" for r in fake.requests)


async def test_the_token_endpoint_can_be_overridden(tmp_path: Path) -> None:
    fake = search_fake()
    store = connected_store(tmp_path, expires_in=0)
    seen: list[str] = []

    def recording(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            seen.append(str(request.url))
        return fake(request)

    ctx = google_context(fake, store, endpoints={"google_token": "http://127.0.0.1:9/o/token"})
    ctx.http = httpx.AsyncClient(transport=httpx.MockTransport(recording))
    await tools(CONNECTOR.build_tools, ctx)["search_email"].func(query="x", max_results=1)
    assert seen == ["http://127.0.0.1:9/o/token"]


async def test_a_revoked_grant_asks_to_reconnect(store: SecretStore) -> None:
    fake = search_fake()
    fake.revoke_first_token()
    fake.refresh_answer = httpx.Response(
        400,
        json={"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    )
    with pytest.raises(ConnectorError) as caught:
        await gmail(fake, store)["search_email"].func(query="x")
    assert caught.value.message == (
        "Your Google sign-in has expired or was revoked; connect again: "
        "python main.py connect google"
    )


async def test_not_connected_says_how_to_connect(tmp_path: Path) -> None:
    fake = FakeGoogle()
    with pytest.raises(ConnectorError) as caught:
        await gmail(fake, None)["search_email"].func(query="x")
    assert caught.value.message == "Connect Google first: python main.py connect google"
    assert fake.requests == []


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize(
    ("reply", "message", "retryable"),
    [
        (
            insufficient_scopes("gmail.googleapis.com"),
            "Hark isn't allowed to use Gmail with your Google account. Connect again and allow "
            "Gmail access: python main.py connect google",
            False,
        ),
        (rate_limited(), "Gmail is rate-limiting requests; try again in a minute.", True),
        (
            httpx.Response(500, json={"error": {"code": 500, "message": "Backend Error"}}),
            "Gmail is having trouble right now (HTTP 500).",
            True,
        ),
        (
            httpx.Response(503, text="Service Unavailable"),
            "Gmail is having trouble right now (HTTP 503).",
            True,
        ),
        (
            httpx.Response(200, text="<html>oops</html>"),
            "Gmail sent an answer I couldn't read.",
            True,
        ),
        (httpx.Response(200, json=["a", "list"]), "Gmail sent an answer I couldn't read.", True),
        (
            httpx.Response(
                400,
                json={
                    "error": {"code": 400, "message": "Invalid query", "status": "INVALID_ARGUMENT"}
                },
            ),
            "Gmail rejected the request: Invalid query.",
            False,
        ),
    ],
    ids=["scopes", "429", "500", "503", "html", "array", "400"],
)
async def test_failures_are_sentences(
    store: SecretStore, reply: httpx.Response, message: str, retryable: bool
) -> None:
    fake = FakeGoogle().on("GET", f"{BASE}/messages", reply)
    with pytest.raises(ConnectorError) as caught:
        await gmail(fake, store)["search_email"].func(query="x")
    assert caught.value.message == message
    assert caught.value.retryable is retryable


async def test_a_deleted_message_is_not_found(store: SecretStore) -> None:
    with pytest.raises(ConnectorError, match="couldn't find that"):
        await gmail(FakeGoogle(), store)["read_email"].func(message_id="18c1f2a3b4c5d6e7")


async def test_a_timeout_is_a_sentence(store: SecretStore) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    fake = FakeGoogle().on("GET", f"{BASE}/messages", hang)
    with pytest.raises(ConnectorError, match=r"^Gmail did not answer in time\.$"):
        await gmail(fake, store)["search_email"].func(query="x")


async def test_a_message_without_payload_is_unreadable(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", f"{BASE}/messages/abc", {"id": "abc"})
    with pytest.raises(ConnectorError, match="couldn't read"):
        await gmail(fake, store)["read_email"].func(message_id="abc")
