"""Google Drive against a fake speaking Drive v3's files.list / files.get / files.export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorError, ToolDef
from src.connectors.google_drive import CONNECTOR, MAX_TEXT_CHARS, quote_literal, search_query
from src.services.secrets import SecretStore
from tests.fakes.google_apis import (
    FakeGoogle,
    connected_store,
    google_context,
    insufficient_scopes,
    rate_limited,
    tools,
    user_rate_limited_403,
)

FILES = "/drive/v3/files"
DOC_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-doc"
SHEET_ID = "1ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210-sheet"
FILE_LIST = {
    "nextPageToken": "~!!~AI9FV7Q",
    "files": [
        {
            "id": DOC_ID,
            "name": "Project plan",
            "mimeType": "application/vnd.google-apps.document",
            "modifiedTime": "2026-11-03T10:15:42.120Z",
        },
        {
            "id": SHEET_ID,
            "name": "Budget 2026",
            "mimeType": "application/vnd.google-apps.spreadsheet",
            "modifiedTime": "2026-10-28T08:00:00.000Z",
        },
        {"id": "1pdf", "name": "Scan.pdf", "mimeType": "application/pdf"},
    ],
}


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return connected_store(tmp_path)


def drive(fake: FakeGoogle, store: SecretStore | None) -> dict[str, ToolDef]:
    return tools(CONNECTOR.build_tools, google_context(fake, store))


def meta(file_id: str, name: str, mime_type: str) -> dict[str, Any]:
    return {"id": file_id, "name": name, "mimeType": mime_type}


# ---------------------------------------------------------------- search


async def test_search_lists_files_with_kind_and_date(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", FILES, FILE_LIST)

    said = await drive(fake, store)["search_drive"].func(query="plan", max_results=3)

    assert said.splitlines() == [
        f"1. Project plan (Google Doc, modified Tuesday 3 November 2026) [id {DOC_ID}]",
        f"2. Budget 2026 (Google Sheet, modified Wednesday 28 October 2026) [id {SHEET_ID}]",
        "3. Scan.pdf (PDF) [id 1pdf]",
    ]
    request = fake.last(FILES)
    assert request.url.host == "www.googleapis.com"
    assert request.url.params["q"] == (
        "(name contains 'plan' or fullText contains 'plan') and trashed = false"
    )
    assert request.url.params["pageSize"] == "3"
    assert request.url.params["fields"] == "nextPageToken,files(id,name,mimeType,modifiedTime)"


@pytest.mark.parametrize(
    ("words", "literal"),
    [
        ("quinn's paper", r"'quinn\'s paper'"),
        ("back\\slash", r"'back\\slash'"),
        ("quinn's paper\\essay", r"'quinn\'s paper\\essay'"),
        ("x' or name contains '", r"'x\' or name contains \''"),
    ],
)
def test_quotes_and_backslashes_are_escaped(words: str, literal: str) -> None:
    assert quote_literal(words) == literal
    assert search_query(words).startswith(f"(name contains {literal} or fullText contains")


async def test_an_injection_attempt_stays_inside_the_literal(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", FILES, {"files": []})

    said = await drive(fake, store)["search_drive"].func(query="x' or trashed = true or name = '")

    assert said == "No files in your Drive mention x' or trashed = true or name = '."
    q = fake.last(FILES).url.params["q"]
    assert q == (
        r"(name contains 'x\' or trashed = true or name = \'' or "
        r"fullText contains 'x\' or trashed = true or name = \'') and trashed = false"
    )


async def test_an_empty_search_asks_what_to_look_for(store: SecretStore) -> None:
    fake = FakeGoogle()
    with pytest.raises(ConnectorError, match="What should I look for"):
        await drive(fake, store)["search_drive"].func(query="  ")
    assert fake.requests == []


# ---------------------------------------------------------------- reading


async def test_a_google_doc_is_exported_as_plain_text(store: SecretStore) -> None:
    fake = FakeGoogle()
    fake.on(
        "GET",
        f"{FILES}/{DOC_ID}",
        meta(DOC_ID, "Project plan", "application/vnd.google-apps.document"),
    )
    fake.on(
        "GET",
        f"{FILES}/{DOC_ID}/export",
        httpx.Response(
            200,
            content="\ufeffProject plan\r\n\r\nDeadline: 15 December.\r\n".encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        ),
    )

    said = await drive(fake, store)["read_drive_file"].func(file_id=DOC_ID)

    assert said == "“Project plan”:\nProject plan\n\nDeadline: 15 December."
    assert fake.last(f"{DOC_ID}/export").url.params["mimeType"] == "text/plain"
    assert fake.last(f"/{DOC_ID}").url.params["fields"] == "id,name,mimeType"


async def test_a_sheet_is_exported_as_csv(store: SecretStore) -> None:
    fake = FakeGoogle()
    fake.on(
        "GET",
        f"{FILES}/{SHEET_ID}",
        meta(SHEET_ID, "Budget", "application/vnd.google-apps.spreadsheet"),
    )
    fake.on(
        "GET",
        f"{FILES}/{SHEET_ID}/export",
        httpx.Response(200, text="Item,Cost\nRent,900\n", headers={"Content-Type": "text/csv"}),
    )
    said = await drive(fake, store)["read_drive_file"].func(file_id=SHEET_ID)
    assert said == "“Budget”:\nItem,Cost\nRent,900"
    assert fake.last("/export").url.params["mimeType"] == "text/csv"


async def test_a_text_file_is_downloaded(store: SecretStore) -> None:
    fake = FakeGoogle()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("alt") == "media":
            return httpx.Response(200, text="buy milk\n", headers={"Content-Type": "text/plain"})
        return httpx.Response(200, json=meta("txt1", "todo.txt", "text/plain"))

    fake.on("GET", f"{FILES}/txt1", answer)
    said = await drive(fake, store)["read_drive_file"].func(file_id="txt1")
    assert said == "“todo.txt”:\nbuy milk"


async def test_long_files_are_cut(store: SecretStore) -> None:
    fake = FakeGoogle()
    fake.on(
        "GET", f"{FILES}/{DOC_ID}", meta(DOC_ID, "Long", "application/vnd.google-apps.document")
    )
    fake.on("GET", f"{FILES}/{DOC_ID}/export", httpx.Response(200, text="word " * 5000))
    said = await drive(fake, store)["read_drive_file"].func(file_id=DOC_ID)
    assert said.endswith("(The rest of the file was cut off.)")
    assert len(said) < MAX_TEXT_CHARS + 100


async def test_other_kinds_are_declined_without_downloading(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", f"{FILES}/1pdf", meta("1pdf", "Scan.pdf", "application/pdf"))
    with pytest.raises(ConnectorError) as caught:
        await drive(fake, store)["read_drive_file"].func(file_id="1pdf")
    assert caught.value.message == (
        "I can read Google Docs, Sheets, Slides and text files, but “Scan.pdf” is a PDF."
    )
    assert len(fake.requests) == 1


@pytest.mark.parametrize("bad_id", ["../about", "a b", ""])
async def test_odd_file_ids_never_reach_drive(store: SecretStore, bad_id: str) -> None:
    fake = FakeGoogle()
    with pytest.raises(ConnectorError, match="search for the file first"):
        await drive(fake, store)["read_drive_file"].func(file_id=bad_id)
    assert fake.requests == []


def test_drive_is_read_only() -> None:
    by_name = drive(FakeGoogle(), None)
    assert not any(tool.side_effect for tool in by_name.values())
    assert CONNECTOR.oauth is not None
    assert CONNECTOR.oauth.scopes == ("https://www.googleapis.com/auth/drive.readonly",)


# ---------------------------------------------------------------- failures


async def test_a_401_is_retried_after_a_refresh(store: SecretStore) -> None:
    fake = FakeGoogle().on("GET", FILES, FILE_LIST)
    fake.revoke_first_token()
    said = await drive(fake, store)["search_drive"].func(query="plan")
    assert said.startswith("1. Project plan")
    assert len(fake.token_requests) == 1


@pytest.mark.parametrize(
    ("reply", "message", "retryable"),
    [
        (
            insufficient_scopes("drive.googleapis.com"),
            "Hark isn't allowed to use Google Drive with your Google account. Connect again and "
            "allow Google Drive access: python main.py connect google",
            False,
        ),
        (
            user_rate_limited_403(),
            "Google Drive is rate-limiting requests; try again in a minute.",
            True,
        ),
        (rate_limited(), "Google Drive is rate-limiting requests; try again in a minute.", True),
        (
            httpx.Response(500, json={"error": {"code": 500, "message": "Internal Error"}}),
            "Google Drive is having trouble right now (HTTP 500).",
            True,
        ),
        (
            httpx.Response(200, text="not json"),
            "Google Drive sent an answer I couldn't read.",
            True,
        ),
        (
            httpx.Response(200, json={"files": [{"name": "no id"}]}),
            "Google Drive sent an answer I couldn't read.",
            True,
        ),
        (
            httpx.Response(
                403,
                json={
                    "error": {
                        "code": 403,
                        "message": "Google Drive API has not been used in project 1234 before "
                        "or it is disabled.",
                        "errors": [{"reason": "accessNotConfigured", "domain": "usageLimits"}],
                        "status": "PERMISSION_DENIED",
                    }
                },
            ),
            "The Google Drive API is not enabled for your Google Cloud project; enable it in the "
            "Google Cloud console and try again.",
            False,
        ),
    ],
    ids=["scopes", "403-rate", "429", "500", "bad-json", "no-id", "disabled"],
)
async def test_failures_are_sentences(
    store: SecretStore, reply: httpx.Response, message: str, retryable: bool
) -> None:
    fake = FakeGoogle().on("GET", FILES, reply)
    with pytest.raises(ConnectorError) as caught:
        await drive(fake, store)["search_drive"].func(query="plan")
    assert caught.value.message == message
    assert caught.value.retryable is retryable


async def test_an_export_failure_is_a_sentence(store: SecretStore) -> None:
    fake = FakeGoogle()
    fake.on(
        "GET", f"{FILES}/{DOC_ID}", meta(DOC_ID, "Plan", "application/vnd.google-apps.document")
    )
    fake.on("GET", f"{FILES}/{DOC_ID}/export", httpx.Response(503, text="unavailable"))
    with pytest.raises(
        ConnectorError, match=r"Google Drive is having trouble right now \(HTTP 503\)"
    ):
        await drive(fake, store)["read_drive_file"].func(file_id=DOC_ID)


async def test_a_missing_file_is_not_found(store: SecretStore) -> None:
    with pytest.raises(ConnectorError, match="couldn't find that"):
        await drive(FakeGoogle(), store)["read_drive_file"].func(file_id=DOC_ID)
