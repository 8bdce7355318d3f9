"""Google Drive: find files by name or content, and read Google Docs and text files.

Search uses Drive v3 ``files.list`` with a ``q`` expression built here; the user's words go
inside single-quoted string literals, so backslashes and quotes are escaped as the Drive
query grammar requires (backslash first, then the quote), never pasted in raw. Google Docs,
Sheets and Slides are read through ``files.export`` as plain text (CSV for a sheet); files that
are already text are downloaded with ``alt=media``. Everything is read-only.

Scope: ``drive.readonly``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef
from src.connectors.clock import spoken_date
from src.connectors.google_api import KEY_HELP, GoogleApi, google_oauth, unreadable

SERVICE = "Google Drive"
DEFAULT_BASE_URL = "https://www.googleapis.com/drive/v3"
SCOPES = ("https://www.googleapis.com/auth/drive.readonly",)
OAUTH = google_oauth(*SCOPES)
MAX_RESULTS = 10
MAX_TEXT_CHARS = 8000
LIST_FIELDS = "nextPageToken,files(id,name,mimeType,modifiedTime)"

# Google's own formats and what to export them as (files.export, 10 MB limit).
EXPORTS: Mapping[str, tuple[str, str]] = {
    "application/vnd.google-apps.document": ("text/plain", "Google Doc"),
    "application/vnd.google-apps.spreadsheet": ("text/csv", "Google Sheet"),
    "application/vnd.google-apps.presentation": ("text/plain", "Google Slides"),
}
KINDS: Mapping[str, str] = {
    "application/vnd.google-apps.folder": "folder",
    "application/pdf": "PDF",
    "text/plain": "text file",
    "text/markdown": "Markdown file",
    "text/csv": "CSV file",
}
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/x-yaml"})

_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def quote_literal(text: str) -> str:
    """``text`` as a Drive query string literal: backslashes, then single quotes, escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def search_query(words: str) -> str:
    """Files whose name or content contains the words, not in the trash."""
    literal = quote_literal(words.strip())
    return f"(name contains {literal} or fullText contains {literal}) and trashed = false"


def kind_of(mime_type: str) -> str:
    if mime_type in EXPORTS:
        return EXPORTS[mime_type][1]
    return KINDS.get(mime_type, mime_type.split("/")[-1] + " file" if mime_type else "file")


def is_text(mime_type: str) -> bool:
    return mime_type.startswith("text/") or mime_type in TEXT_TYPES


def describe_file(index: int, item: Mapping[str, Any]) -> str:
    line = f"{index}. {item['name']} ({kind_of(str(item.get('mimeType', '')))}"
    modified = item.get("modifiedTime")
    if isinstance(modified, str) and modified:
        line += f", modified {spoken_date(datetime.fromisoformat(modified).date(), year=True)}"
    return f"{line}) [id {item['id']}]"


def _check_id(file_id: str) -> str:
    file_id = file_id.strip()
    if not _ID.fullmatch(file_id):
        raise ConnectorError("That isn't a Google Drive file id; search for the file first.")
    return file_id


def build_tools(ctx: ConnectorContext) -> Sequence[ToolDef]:
    api = GoogleApi(ctx, OAUTH, SERVICE)
    files = f"{ctx.endpoint('google_drive', DEFAULT_BASE_URL)}/files"

    async def search_drive(query: str, max_results: int = 5) -> str:
        """Find files in the user's Google Drive whose name or text contains some words.

        Args:
            query: Words to look for, e.g. "budget 2026".
            max_results: How many files to list (1 to 10).
        """
        if not query.strip():
            raise ConnectorError("What should I look for in your Drive?")
        limit = max(1, min(MAX_RESULTS, int(max_results)))
        listing = await api.get_json(
            files, {"q": search_query(query), "pageSize": limit, "fields": LIST_FIELDS}
        )
        items = listing.get("files", [])
        if not isinstance(items, list):
            raise unreadable(SERVICE)
        if not items:
            return f"No files in your Drive mention {query.strip()}."
        try:
            lines = [describe_file(i, item) for i, item in enumerate(items[:limit], start=1)]
        except (KeyError, TypeError, ValueError) as exc:
            raise unreadable(SERVICE) from exc
        return "\n".join(lines)

    async def read_drive_file(file_id: str) -> str:
        """Read a Google Doc, Sheet or Slides deck, or a plain-text file, from Google Drive.

        Args:
            file_id: The file's id, from search_drive.
        """
        url = f"{files}/{_check_id(file_id)}"
        meta = await api.get_json(url, {"fields": "id,name,mimeType"})
        name, mime_type = str(meta.get("name") or "the file"), str(meta.get("mimeType") or "")
        if mime_type in EXPORTS:
            text = await api.get_text(f"{url}/export", {"mimeType": EXPORTS[mime_type][0]})
        elif is_text(mime_type):
            text = await api.get_text(url, {"alt": "media"})
        else:
            raise ConnectorError(
                f"I can read Google Docs, Sheets, Slides and text files, but “{name}” is a "
                f"{kind_of(mime_type)}."
            )
        text = text.replace("\r\n", "\n").strip()
        if not text:
            return f"“{name}” is empty."
        if len(text) > MAX_TEXT_CHARS:
            text = text[:MAX_TEXT_CHARS].rstrip() + "\n(The rest of the file was cut off.)"
        return f"“{name}”:\n{text}"

    return [
        ToolDef(search_drive, progress="Searching your Drive for {query}..."),
        ToolDef(read_drive_file, progress="Opening the file..."),
    ]


CONNECTOR = Connector(
    name="google_drive",
    title="Google Drive",
    description=(
        "Finds files and documents in the user's Google Drive by name or content, and reads "
        "Google Docs, Sheets and Slides."
    ),
    instructions=(
        "You find and read the user's Google Drive files. Call search_drive with a few "
        "distinctive words, then read_drive_file with the id of the best match. Answer the "
        "user's question from the file in one to three spoken sentences rather than reading "
        "it all out; never read ids aloud. If several files fit, name the top two or three and "
        "ask which. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Find my budget spreadsheet in Drive.",
        "What does the project plan doc say about the deadline?",
    ),
    followups=("Read me the first one", "Summarise that file"),
    key_help=KEY_HELP,
    oauth=OAUTH,
)
