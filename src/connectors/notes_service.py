"""Notes in the user's Notion workspace: search pages, read one aloud, append a note to one.

Notion's REST API (https://developers.notion.com) with an internal-integration token and the
``Notion-Version`` header that pins the response shapes this module was written against. An
integration sees only the pages a user has shared with it, so "not found" answers say how to
share a page. People name pages by title; ``POST /v1/search`` turns a title into a page id
(an exact title match wins, several loose matches are read back as a question). Page text is
the page's blocks flattened to lines; appending adds one paragraph block per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    rate_limited,
    request_json,
    require_secret,
)
from src.connectors.clock import spoken_date

NAME = "notion"
TITLE = "Notion"
SERVICE = "Notion"
DEFAULT_BASE_URL = "https://api.notion.com/v1"
NOTION_VERSION = "2022-06-28"
TOKEN = "notion.token"
REQUEST_TIMEOUT = httpx.Timeout(15.0)
SEARCH_RESULTS = 10
PAGES_SPOKEN = 5
MAX_BLOCK_PAGES = 3  # 300 blocks is more than anyone wants read aloud
MAX_READ_CHARS = 4000
MAX_NOTE_CHARS = 10_000
RICH_TEXT_CHARS = 2000  # Notion's documented limit for one text object
MAX_CHILDREN = 100  # Notion's documented limit per append request

_ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_URL_ID = re.compile(r"([0-9a-f]{32})$")
_SHARE_HINT = (
    "If it exists, share it with your Hark integration in Notion "
    "(the page's ••• menu, then Connections)."
)

# Block types whose text sits in ``rich_text``, with how each line starts.
_TEXT_BLOCKS: Mapping[str, str] = {
    "paragraph": "",
    "heading_1": "# ",
    "heading_2": "## ",
    "heading_3": "### ",
    "bulleted_list_item": "- ",
    "numbered_list_item": "1. ",
    "quote": "> ",
    "callout": "",
    "toggle": "",
    "code": "",
}


@dataclass(frozen=True)
class PageRef:
    id: str
    title: str
    last_edited: datetime | None


def page_title(page: Mapping[str, Any]) -> str:
    """The text of a page's title property (whatever the property is called)."""
    for prop in (page.get("properties") or {}).values():
        if isinstance(prop, Mapping) and prop.get("type") == "title":
            return plain_text(prop.get("title") or []).strip() or "Untitled"
    return "Untitled"


def plain_text(rich_text: Sequence[Mapping[str, Any]]) -> str:
    return "".join(str(part.get("plain_text") or "") for part in rich_text)


def block_line(block: Mapping[str, Any]) -> str | None:
    """One block as a line of text, or None for blocks with nothing to say (dividers)."""
    kind = str(block["type"])
    data = block.get(kind) or {}
    if kind in _TEXT_BLOCKS:
        return _TEXT_BLOCKS[kind] + plain_text(data.get("rich_text") or [])
    if kind == "to_do":
        box = "[x] " if data.get("checked") else "[ ] "
        return box + plain_text(data.get("rich_text") or [])
    if kind == "child_page":
        return f"(subpage: {data.get('title') or 'Untitled'})"
    if kind == "child_database":
        return f"(database: {data.get('title') or 'Untitled'})"
    if kind in ("image", "file", "pdf", "video", "audio", "bookmark", "embed"):
        return f"({kind.replace('_', ' ')})"
    return None


def paragraph_blocks(text: str) -> list[dict[str, Any]]:
    """One paragraph block per non-empty line, each split into Notion-sized text objects."""
    blocks = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = [line[i : i + RICH_TEXT_CHARS] for i in range(0, len(line), RICH_TEXT_CHARS)]
        blocks.append(
            {
                "object": "block",
                "type": "paragraph",
                "paragraph": {
                    "rich_text": [{"type": "text", "text": {"content": p}} for p in parts]
                },
            }
        )
    return blocks


def page_id_in(text: str) -> str | None:
    """A page id given as such, or at the end of a Notion link ("…/Groceries-<32 hex>?pvs=4")."""
    lowered = text.strip().lower()
    if _ID.fullmatch(lowered):
        return lowered.replace("-", "")
    if "notion.so/" in lowered or "notion.site/" in lowered:
        tail = lowered.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        match = _URL_ID.search(tail.replace("-", ""))
        return match.group(1) if match else None
    return None


def _page_ref(page: Mapping[str, Any]) -> PageRef:
    edited = page.get("last_edited_time")
    return PageRef(
        id=str(page["id"]),
        title=page_title(page),
        last_edited=datetime.fromisoformat(str(edited).replace("Z", "+00:00")) if edited else None,
    )


class NotionClient:
    def __init__(
        self, http: httpx.AsyncClient, token: Callable[[], str], base_url: str = DEFAULT_BASE_URL
    ) -> None:
        self._http = http
        self._token = token
        self._base = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Notion-Version": NOTION_VERSION,
            "Accept": "application/json",
        }
        return await request_json(
            self._http,
            SERVICE,
            method,
            f"{self._base}{path}",
            json=json,
            params=params,
            headers=headers,
            timeout=REQUEST_TIMEOUT,
            check=_refusal,
            reason=lambda response: str(body_object(response).get("message") or "").strip(),
            reason_statuses=(400,),
            refusal="{service} refused that: {reason}",
            malformed=_malformed(),
        )

    async def search_pages(self, query: str) -> list[PageRef]:
        payload = await self.request(
            "POST",
            "/search",
            json={
                "query": query,
                "filter": {"property": "object", "value": "page"},
                "sort": {"direction": "descending", "timestamp": "last_edited_time"},
                "page_size": SEARCH_RESULTS,
            },
        )
        try:
            return [_page_ref(p) for p in payload["results"] if p.get("object") == "page"]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc

    async def find_page(self, name: str) -> PageRef:
        """A page by id, URL or title (see the module docstring for how titles resolve)."""
        wanted = name.strip()
        if not wanted:
            raise ConnectorError("Which Notion page?")
        direct = page_id_in(wanted)
        if direct:
            return PageRef(id=direct, title=wanted, last_edited=None)
        pages = await self.search_pages(wanted)
        exact = [p for p in pages if p.title.casefold() == wanted.casefold()]
        if exact:
            return exact[0]
        if len(pages) == 1:
            return pages[0]
        if not pages:
            raise ConnectorError(f"I couldn't find a Notion page called “{wanted}”. {_SHARE_HINT}")
        names = ", ".join(f"“{p.title}”" for p in pages[:PAGES_SPOKEN])
        raise ConnectorError(f"Several Notion pages match “{wanted}”: {names}. Which one?")

    async def page_lines(self, page_id: str) -> tuple[list[str], bool]:
        """The page's top-level blocks as lines, and whether there was more than was read."""
        lines: list[str] = []
        cursor = ""
        for _ in range(MAX_BLOCK_PAGES):
            params: dict[str, str | int] = {"page_size": 100}
            if cursor:
                params["start_cursor"] = cursor
            payload = await self.request("GET", f"/blocks/{page_id}/children", params=params)
            try:
                for block in payload["results"]:
                    line = block_line(block)
                    if line is not None and line.strip():
                        lines.append(line)
                more = bool(payload.get("has_more"))
                cursor = str(payload.get("next_cursor") or "")
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise _malformed() from exc
            if not more or not cursor:
                return lines, False
        return lines, True

    async def append(self, page_id: str, blocks: list[dict[str, Any]]) -> None:
        for start in range(0, len(blocks), MAX_CHILDREN):
            await self.request(
                "PATCH",
                f"/blocks/{page_id}/children",
                json={"children": blocks[start : start + MAX_CHILDREN]},
            )


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent an answer I couldn't read.", retryable=True)


def _refusal(response: httpx.Response) -> ConnectorError | None:
    """Notion errors, {"object": "error", "status", "code", "message"}, by code or status.

    A body that is not JSON (an HTML error page from a proxy) leaves the status to decide.
    """
    status = response.status_code
    if status < 400:
        return None
    code = str(body_object(response).get("code") or "")
    if code == "unauthorized" or status == 401:
        return ConnectorError(
            f"{SERVICE} didn't accept your token. Reconnect it: python main.py connect {NAME}",
            status=status,
        )
    if code in ("restricted_resource", "object_not_found") or status in (403, 404):
        return ConnectorError(f"Hark can't see that Notion page. {_SHARE_HINT}", status=status)
    if code == "rate_limited" or status == 429:
        return rate_limited(SERVICE, response)
    if code == "conflict_error" or status == 409:
        return ConnectorError(
            f"{SERVICE} saw a conflicting edit; try again.", retryable=True, status=status
        )
    return None


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = NotionClient(
        ctx.http,
        lambda: require_secret(ctx, TOKEN, TITLE, NAME),
        ctx.endpoint("notion", DEFAULT_BASE_URL),
    )

    async def search_notion_pages(query: str) -> str:
        """Find pages in the user's Notion workspace by title words, most recently edited first.

        Args:
            query: Words from the page title, e.g. "groceries"; empty lists recent pages.
        """
        pages = await client.search_pages(query.strip())
        if not pages:
            what = f" matching “{query.strip()}”" if query.strip() else ""
            return f"I found no Notion pages{what}. {_SHARE_HINT}"
        shown = pages[:PAGES_SPOKEN]
        parts = []
        for page in shown:
            edited = f" (edited {spoken_date(page.last_edited.date())})" if page.last_edited else ""
            parts.append(f"“{page.title}”{edited}")
        more = f", and {len(pages) - len(shown)} more" if len(pages) > len(shown) else ""
        return "Notion pages: " + "; ".join(parts) + more + "."

    async def read_notion_page(page: str) -> str:
        """Read the text of a Notion page.

        Args:
            page: The page's title (or a distinctive part of it), or its Notion link.
        """
        ref = await client.find_page(page)
        lines, more = await client.page_lines(ref.id)
        if not lines:
            return f"“{ref.title}” is empty."
        text = "\n".join(lines)
        if len(text) > MAX_READ_CHARS:
            text, more = text[:MAX_READ_CHARS].rsplit("\n", 1)[0], True
        tail = "\n(The page goes on; ask for a part of it.)" if more else ""
        return f"“{ref.title}”:\n{text}{tail}"

    async def append_to_notion_page(page: str, text: str) -> str:
        """Add a note to the end of an existing Notion page.

        Args:
            page: The page's title (or a distinctive part of it), or its Notion link.
            text: The note to add, exactly as it should appear; each line becomes a paragraph.
        """
        blocks = paragraph_blocks(text)
        if not blocks:
            raise ConnectorError("The note is empty, so I didn't add anything.")
        if len(text) > MAX_NOTE_CHARS:
            raise ConnectorError(f"That note is too long (over {MAX_NOTE_CHARS} characters).")
        ref = await client.find_page(page)
        await client.append(ref.id, blocks)
        return f"Added the note to “{ref.title}” in Notion."

    return [
        ToolDef(search_notion_pages, progress="Searching Notion for {query}..."),
        ToolDef(read_notion_page, progress="Opening “{page}” in Notion..."),
        ToolDef(
            append_to_notion_page,
            progress="Adding your note to “{page}” in Notion...",
            side_effect=True,
            readback="Add to the Notion page “{page}”: {text}",
        ),
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "The user's Notion workspace: finds pages by title, reads a page, and adds a note to "
        "the end of a page after the user approves."
    ),
    instructions=(
        "You work with the user's Notion pages. Find pages by title words; read pages briefly "
        "(summarise long ones unless asked to read them in full). When adding a note, use the "
        "page title the user said and exactly the words they asked to add; Hark reads it back "
        "and asks first, and if they decline, say nothing was added. If a page can't be found, "
        "say it may need to be shared with the Hark integration. If a tool reports a problem, "
        "say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What's on my Groceries page in Notion?",
        "Add 'call the plumber' to my To do page in Notion.",
        "Find my Notion pages about the trip.",
    ),
    requires_secrets=(TOKEN,),
    key_help=(
        "Create an internal integration at https://www.notion.so/profile/integrations, store "
        "its secret as notion.token, then share each page Hark may use with the integration "
        "(the page's ••• menu, then Connections)."
    ),
    followups=("Read me “{page}” again", "Add another note to “{page}”"),
)
