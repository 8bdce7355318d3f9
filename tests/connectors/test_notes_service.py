"""The Notion connector against a fake Notion API speaking its documented JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.notes_service import CONNECTOR, page_id_in, paragraph_blocks

HOST = "api.notion.com"
GROCERIES_ID = "59833787-2cf9-4fdf-8782-e53db20768a5"
GROCERY_IDEAS_ID = "0f1e2d3c-4b5a-4697-8877-665544332211"
TODO_ID = "b55c9c91-384d-452b-81db-d1ef79372b75"


def rich(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "text",
            "text": {"content": text, "link": None},
            "annotations": {
                "bold": False,
                "italic": False,
                "strikethrough": False,
                "underline": False,
                "code": False,
                "color": "default",
            },
            "plain_text": text,
            "href": None,
        }
    ]


def page(page_id: str, title: str, edited: str, prop: str = "title") -> dict[str, Any]:
    return {
        "object": "page",
        "id": page_id,
        "created_time": "2026-10-01T09:00:00.000Z",
        "last_edited_time": edited,
        "created_by": {"object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4"},
        "last_edited_by": {"object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4"},
        "cover": None,
        "icon": None,
        "parent": {"type": "workspace", "workspace": True},
        "archived": False,
        "in_trash": False,
        "properties": {prop: {"id": "title", "type": "title", "title": rich(title)}},
        "url": f"https://www.notion.so/{title.replace(' ', '-')}-{page_id.replace('-', '')}",
        "public_url": None,
    }


def results(
    items: list[dict[str, Any]], *, has_more: bool = False, cursor: str | None = None
) -> dict[str, Any]:
    return {
        "object": "list",
        "results": items,
        "next_cursor": cursor,
        "has_more": has_more,
        "type": "page_or_database" if items and items[0]["object"] == "page" else "block",
        "page_or_database": {},
    }


def block(kind: str, text: str = "", **data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"rich_text": rich(text), "color": "default", **data}
    if kind == "child_page":
        body = {"title": text}
    if kind == "divider":
        body = {}
    return {
        "object": "block",
        "id": "c02fc1d3-db8b-45c5-a222-27595b15aea7",
        "parent": {"type": "page_id", "page_id": GROCERIES_ID},
        "created_time": "2026-11-01T19:05:00.000Z",
        "last_edited_time": "2026-11-20T19:41:00.000Z",
        "has_children": False,
        "archived": False,
        "in_trash": False,
        "type": kind,
        kind: body,
    }


SEARCH = results(
    [
        page(GROCERIES_ID, "Groceries", "2026-11-20T18:00:00.000Z"),
        page(GROCERY_IDEAS_ID, "Grocery ideas", "2026-11-02T08:00:00.000Z", prop="Name"),
    ]
)
BLOCKS = results(
    [
        block("heading_2", "This week"),
        block("to_do", "Oat milk", checked=True),
        block("to_do", "Lemons", checked=False),
        block("bulleted_list_item", "Bread"),
        block("divider"),
        block("paragraph", "Ask Sam about dinner"),
        block("child_page", "Recipes"),
    ]
)

Handler = Callable[[httpx.Request], httpx.Response]


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


class FakeNotion:
    def __init__(
        self,
        search: Handler | dict[str, Any] = SEARCH,
        children: Handler | dict[str, Any] = BLOCKS,
        append: Handler | None = None,
    ) -> None:
        self.search = search
        self.children = children
        self.append = append
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1/search":
            answer: Handler | dict[str, Any] = self.search
        elif request.method == "PATCH":
            if self.append is not None:
                return self.append(request)
            added = json.loads(request.content)["children"]
            return httpx.Response(200, json=results([{**b, "id": "new"} for b in added]))
        else:
            answer = self.children
        if callable(answer):
            return answer(request)
        return httpx.Response(200, json=answer)


def tools_for(fake: FakeNotion, secrets: Secrets | None = None, **kw: Any) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    ctx = ConnectorContext(
        http=http, secrets=secrets or Secrets({"notion.token": "secret_abc"}), **kw
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


# ---------------------------------------------------------------- search and read


async def test_search_pages() -> None:
    fake = FakeNotion()

    said = await tools_for(fake)["search_notion_pages"].func(query="grocer")

    assert said == (
        "Notion pages: “Groceries” (edited Friday 20 November); "
        "“Grocery ideas” (edited Monday 2 November)."
    )
    (request,) = fake.requests
    assert request.method == "POST"
    assert request.url.host == HOST
    assert request.headers["authorization"] == "Bearer secret_abc"
    assert request.headers["notion-version"] == "2022-06-28"
    assert json.loads(request.content) == {
        "query": "grocer",
        "filter": {"property": "object", "value": "page"},
        "sort": {"direction": "descending", "timestamp": "last_edited_time"},
        "page_size": 10,
    }


async def test_search_finds_nothing() -> None:
    fake = FakeNotion(search=results([]))

    said = await tools_for(fake)["search_notion_pages"].func(query="taxes")

    assert said.startswith("I found no Notion pages matching “taxes”. If it exists, share it")


async def test_read_a_page_by_exact_title() -> None:
    fake = FakeNotion()

    said = await tools_for(fake)["read_notion_page"].func(page="groceries")

    assert said.splitlines() == [
        "“Groceries”:",
        "## This week",
        "[x] Oat milk",
        "[ ] Lemons",
        "- Bread",
        "Ask Sam about dinner",
        "(subpage: Recipes)",
    ]
    search, children = fake.requests
    assert json.loads(search.content)["query"] == "groceries"
    assert children.method == "GET"
    assert children.url.path == f"/v1/blocks/{GROCERIES_ID}/children"
    assert children.url.params["page_size"] == "100"
    assert children.headers["notion-version"] == "2022-06-28"


async def test_read_follows_the_cursor() -> None:
    def children(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("start_cursor") == "next-1":
            return httpx.Response(200, json=results([block("paragraph", "second page")]))
        return httpx.Response(
            200, json=results([block("paragraph", "first page")], has_more=True, cursor="next-1")
        )

    fake = FakeNotion(children=children)

    said = await tools_for(fake)["read_notion_page"].func(page="Groceries")

    assert said.splitlines()[1:] == ["first page", "second page"]


async def test_ambiguous_title_asks_which() -> None:
    fake = FakeNotion()

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["read_notion_page"].func(page="groc")

    assert caught.value.message == (
        "Several Notion pages match “groc”: “Groceries”, “Grocery ideas”. Which one?"
    )


async def test_a_single_loose_match_is_used() -> None:
    fake = FakeNotion(search=results([page(TODO_ID, "To do list", "2026-11-21T08:00:00.000Z")]))

    said = await tools_for(fake)["read_notion_page"].func(page="to do")

    assert said.startswith("“To do list”:")


async def test_unknown_page() -> None:
    fake = FakeNotion(search=results([]))

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["read_notion_page"].func(page="Taxes")

    assert caught.value.message.startswith("I couldn't find a Notion page called “Taxes”.")
    assert "Connections" in caught.value.message


async def test_a_notion_link_skips_the_search() -> None:
    fake = FakeNotion()
    link = "https://www.notion.so/acme/Groceries-598337872cf94fdf8782e53db20768a5?pvs=4"

    await tools_for(fake)["read_notion_page"].func(page=link)

    (request,) = fake.requests
    assert request.url.path == "/v1/blocks/598337872cf94fdf8782e53db20768a5/children"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (GROCERIES_ID, "598337872cf94fdf8782e53db20768a5"),
        (
            "https://acme.notion.site/Trip-Plan-0f1e2d3c4b5a46978877665544332211",
            GROCERY_IDEAS_ID.replace("-", ""),
        ),
        ("Groceries", None),
        ("https://example.com/598337872cf94fdf8782e53db20768a5", None),
    ],
)
def test_page_ids_in_text(text: str, found: str | None) -> None:
    assert page_id_in(text) == found


# ---------------------------------------------------------------- append


async def test_append_a_note() -> None:
    fake = FakeNotion()

    said = await tools_for(fake)["append_to_notion_page"].func(
        page="Groceries", text="Eggs\n\nCoffee beans"
    )

    assert said == "Added the note to “Groceries” in Notion."
    patch = fake.requests[-1]
    assert patch.method == "PATCH"
    assert patch.url.path == f"/v1/blocks/{GROCERIES_ID}/children"
    assert patch.headers["notion-version"] == "2022-06-28"
    assert json.loads(patch.content) == {
        "children": [
            {
                "object": "block",
                "type": "paragraph",
                "paragraph": {"rich_text": [{"type": "text", "text": {"content": "Eggs"}}]},
            },
            {
                "object": "block",
                "type": "paragraph",
                "paragraph": {"rich_text": [{"type": "text", "text": {"content": "Coffee beans"}}]},
            },
        ]
    }


def test_long_lines_are_split_into_notion_sized_text() -> None:
    (only,) = paragraph_blocks("a" * 4500)
    parts = only["paragraph"]["rich_text"]
    assert [len(p["text"]["content"]) for p in parts] == [2000, 2000, 500]


def test_append_is_a_side_effect_with_an_exact_readback() -> None:
    tool = tools_for(FakeNotion())["append_to_notion_page"]
    assert tool.side_effect
    assert render_progress(tool.readback, {"page": "Groceries", "text": "Eggs"}) == (
        "Add to the Notion page “Groceries”: Eggs"
    )


async def test_empty_note_makes_no_request() -> None:
    fake = FakeNotion()

    with pytest.raises(ConnectorError, match="The note is empty"):
        await tools_for(fake)["append_to_notion_page"].func(page="Groceries", text=" \n ")
    assert fake.requests == []


# ---------------------------------------------------------------- documented errors


def notion_error(status: int, code: str, message: str, **headers: str) -> Handler:
    body = {"object": "error", "status": status, "code": code, "message": message}
    return lambda _r: httpx.Response(status, json=body, headers=headers)


async def test_invalid_token() -> None:
    fake = FakeNotion(search=notion_error(401, "unauthorized", "API token is invalid."))

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["search_notion_pages"].func(query="x")

    assert caught.value.message == (
        "Notion didn't accept your token. Reconnect it: python main.py connect notion"
    )


@pytest.mark.parametrize(
    ("status", "code"), [(403, "restricted_resource"), (404, "object_not_found")]
)
async def test_page_not_shared(status: int, code: str) -> None:
    fake = FakeNotion(
        children=notion_error(status, code, f"Could not find block with ID: {GROCERIES_ID}.")
    )

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["read_notion_page"].func(page="Groceries")

    assert caught.value.message == (
        "Hark can't see that Notion page. If it exists, share it with your Hark integration in "
        "Notion (the page's ••• menu, then Connections)."
    )


async def test_rate_limited_with_retry_after() -> None:
    fake = FakeNotion(
        search=notion_error(
            429, "rate_limited", "You have been rate limited.", **{"Retry-After": "3"}
        )
    )

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["search_notion_pages"].func(query="x")

    assert caught.value.message == "Notion is rate-limiting requests; try again in 3 seconds."
    assert caught.value.retryable


async def test_validation_error_message_is_relayed() -> None:
    fake = FakeNotion(
        append=notion_error(
            400, "validation_error", "body.children[0].paragraph.rich_text should be defined."
        )
    )

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["append_to_notion_page"].func(page="Groceries", text="Eggs")

    assert caught.value.message == (
        "Notion refused that: body.children[0].paragraph.rich_text should be defined."
    )


async def test_conflict() -> None:
    fake = FakeNotion(append=notion_error(409, "conflict_error", "Conflict occurred while saving."))

    with pytest.raises(ConnectorError, match="conflicting edit; try again"):
        await tools_for(fake)["append_to_notion_page"].func(page="Groceries", text="Eggs")


@pytest.mark.parametrize(
    ("status", "code"), [(500, "internal_server_error"), (503, "service_unavailable")]
)
async def test_server_errors(status: int, code: str) -> None:
    fake = FakeNotion(search=notion_error(status, code, "Unexpected error."))

    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake)["search_notion_pages"].func(query="x")

    assert caught.value.message == f"Notion is having trouble right now (HTTP {status})."
    assert caught.value.retryable


async def test_html_error_page() -> None:
    fake = FakeNotion(search=lambda _r: httpx.Response(502, text="<html>Bad gateway</html>"))

    with pytest.raises(ConnectorError, match=r"HTTP 502"):
        await tools_for(fake)["search_notion_pages"].func(query="x")


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ConnectorError, match=r"^Notion did not answer in time\.$"):
        await tools_for(FakeNotion(search=hang))["search_notion_pages"].func(query="x")


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html/>"),
        httpx.Response(200, json=[]),
        httpx.Response(200, json={"object": "list"}),
        httpx.Response(200, json=results([{"object": "page", "properties": {}}])),
    ],
    ids=["html", "array", "no-results", "no-id"],
)
async def test_malformed_search(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await tools_for(FakeNotion(search=lambda _r: reply))["search_notion_pages"].func(query="x")

    assert caught.value.message == "Notion sent an answer I couldn't read."


async def test_malformed_blocks() -> None:
    fake = FakeNotion(children=results([{"object": "block", "id": "x"}]))

    with pytest.raises(ConnectorError, match="couldn't read"):
        await tools_for(fake)["read_notion_page"].func(page="Groceries")


async def test_missing_token() -> None:
    fake = FakeNotion()
    tools = tools_for(fake, secrets=Secrets({}))

    with pytest.raises(ConnectorError) as caught:
        await tools["search_notion_pages"].func(query="x")

    assert caught.value.message == "Connect Notion first: python main.py connect notion"
    assert fake.requests == []


def test_metadata() -> None:
    tools = tools_for(FakeNotion())
    assert sorted(tools) == ["append_to_notion_page", "read_notion_page", "search_notion_pages"]
    assert render_progress(tools["read_notion_page"].progress, {"page": "Groceries"}) == (
        "Opening “Groceries” in Notion..."
    )
    assert CONNECTOR.name == "notion"
    assert CONNECTOR.requires_secrets == ("notion.token",)


async def test_endpoint_override() -> None:
    fake = FakeNotion()
    tools = tools_for(fake, endpoints={"notion": "http://127.0.0.1:5555/v1"})

    await tools["search_notion_pages"].func(query="x")

    assert str(fake.requests[0].url) == "http://127.0.0.1:5555/v1/search"
