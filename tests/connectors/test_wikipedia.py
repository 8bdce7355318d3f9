"""The Wikipedia connector against a fake wiki speaking the action API and the REST API."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.wikipedia import CONNECTOR, shorten, wiki_language

Handler = Callable[[httpx.Request], httpx.Response]


def search_payload(*hits: tuple[str, str], suggestion: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {"totalhits": len(hits) * 100}
    if suggestion:
        info["suggestion"] = suggestion
        info["suggestionsnippet"] = suggestion
    return {
        "batchcomplete": True,
        "continue": {"sroffset": len(hits), "continue": "-||"},
        "query": {
            "searchinfo": info,
            "search": [
                {"ns": 0, "title": title, "pageid": 1000 + i, "snippet": snippet}
                for i, (title, snippet) in enumerate(hits)
            ],
        },
    }


def summary_payload(
    title: str, extract: str, *, kind: str = "standard", description: str | None = None
) -> dict[str, Any]:
    slug = title.replace(" ", "_")
    payload: dict[str, Any] = {
        "type": kind,
        "title": title,
        "displaytitle": f'<span class="mw-page-title-main">{title}</span>',
        "namespace": {"id": 0, "text": ""},
        "wikibase_item": "Q7259",
        "titles": {"canonical": slug, "normalized": title, "display": title},
        "pageid": 1000,
        "lang": "en",
        "dir": "ltr",
        "revision": "1234567890",
        "tid": "abc",
        "timestamp": "2026-11-01T10:00:00Z",
        "content_urls": {
            "desktop": {"page": f"https://en.wikipedia.org/wiki/{slug}"},
            "mobile": {"page": f"https://en.m.wikipedia.org/wiki/{slug}"},
        },
        "extract": extract,
        "extract_html": f"<p>{extract}</p>",
    }
    if description:
        payload["description"] = description
        payload["description_source"] = "local"
    return payload


ADA_SEARCH = search_payload(
    ("Ada Lovelace", '<span class="searchmatch">Ada</span> King, Countess of Lovelace &amp; more'),
    ("Ada (programming language)", "A structured language"),
)
ADA_SUMMARY = summary_payload(
    "Ada Lovelace",
    "Augusta Ada King, Countess of Lovelace was an English mathematician and writer. "
    "She is chiefly known for her work on Charles Babbage's proposed mechanical "
    "general-purpose computer, the Analytical Engine.",
    description="English mathematician (1815–1852)",
)
NOT_FOUND = {
    "type": "https://mediawiki.org/wiki/HyperSwitch/errors/not_found",
    "title": "Not found.",
    "method": "get",
    "detail": "Page or revision not found.",
    "uri": "/en.wikipedia.org/v1/page/summary/Nothing",
}


class FakeWiki:
    def __init__(
        self,
        search: Handler | dict[str, Any] | list[dict[str, Any]] = ADA_SEARCH,
        summary: Handler | dict[str, Any] = ADA_SUMMARY,
    ) -> None:
        self.search = search
        self.summary = summary
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/w/api.php"):
            answer = self.search
            if isinstance(answer, list):
                answer = answer.pop(0)
        elif "/api/rest_v1/page/summary/" in request.url.path:
            answer = self.summary
        else:
            return httpx.Response(404, json=NOT_FOUND)
        if callable(answer):
            return answer(request)
        return httpx.Response(200, json=answer)


def tools_for(fake: FakeWiki, settings: Any = None, **ctx: Any) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(fake), headers={"User-Agent": "Hark/test (desktop assistant)"}
    )
    context = ConnectorContext(http=http, settings=settings, **ctx)
    return {tool.name: tool for tool in CONNECTOR.build_tools(context)}


async def summary(fake: FakeWiki, topic: str = "ada lovelace", settings: Any = None) -> str:
    return await tools_for(fake, settings)["wikipedia_summary"].func(topic=topic)


# ---------------------------------------------------------------- happy paths


async def test_summary_resolves_the_topic_by_search_then_reads_the_lead() -> None:
    fake = FakeWiki()

    said = await summary(fake)

    assert said == (
        "From Wikipedia, Ada Lovelace (English mathematician (1815–1852)):\n"
        "Augusta Ada King, Countess of Lovelace was an English mathematician and writer. "
        "She is chiefly known for her work on Charles Babbage's proposed mechanical "
        "general-purpose computer, the Analytical Engine.\n"
        "Source: https://en.wikipedia.org/wiki/Ada_Lovelace"
    )
    search, lead = fake.requests
    assert search.url.host == "en.wikipedia.org"
    assert dict(search.url.params) == {
        "action": "query",
        "list": "search",
        "srsearch": "ada lovelace",
        "srlimit": "5",
        "srprop": "snippet",
        "format": "json",
        "formatversion": "2",
    }
    assert lead.url.raw_path == b"/api/rest_v1/page/summary/Ada_Lovelace"
    assert all(r.headers["User-Agent"] == "Hark/test (desktop assistant)" for r in fake.requests)


async def test_titles_with_slashes_are_escaped_in_the_path() -> None:
    fake = FakeWiki(
        search=search_payload(("AC/DC", "Australian rock band")),
        summary=summary_payload("AC/DC", "AC/DC are an Australian rock band."),
    )

    await summary(fake, "acdc")

    assert fake.requests[1].url.raw_path == b"/api/rest_v1/page/summary/AC%2FDC"


async def test_disambiguation_offers_the_other_hits() -> None:
    fake = FakeWiki(
        search=search_payload(
            ("Mercury", "Mercury may refer to"),
            ("Mercury (planet)", "smallest planet"),
            ("Mercury (element)", "chemical element"),
            ("Mercury (disambiguation)", "more"),
            ("Freddie Mercury", "singer"),
        ),
        summary=summary_payload("Mercury", "Mercury may refer to:", kind="disambiguation"),
    )

    said = await summary(fake, "mercury")

    assert said == (
        "“Mercury” can mean several things on Wikipedia, for example: Mercury (planet); "
        "Mercury (element); Freddie Mercury. Which one do you mean?"
    )


async def test_disambiguation_without_alternatives() -> None:
    fake = FakeWiki(
        search=search_payload(("Mercury", "Mercury may refer to")),
        summary=summary_payload("Mercury", "", kind="disambiguation"),
    )
    said = await summary(fake, "mercury")
    assert said == "“Mercury” can mean several things on Wikipedia; which one do you mean?"


async def test_no_hits_tries_the_spelling_suggestion_once() -> None:
    fake = FakeWiki(search=[search_payload(suggestion="ada lovelace"), ADA_SEARCH])

    said = await summary(fake, "ada lovelase")

    assert said.startswith("From Wikipedia, Ada Lovelace")
    assert [r.url.params.get("srsearch") for r in fake.requests[:2]] == [
        "ada lovelase",
        "ada lovelace",
    ]


async def test_nothing_found() -> None:
    fake = FakeWiki(search=search_payload())
    assert await summary(fake, "  xq  zz ") == "Wikipedia has no article about “xq zz”."
    assert len(fake.requests) == 1


async def test_page_without_extract() -> None:
    fake = FakeWiki(summary=summary_payload("Ada Lovelace", "", kind="no-extract"))
    said = await summary(fake)
    assert said == (
        "Wikipedia has a page called “Ada Lovelace”, but it has no summary.\n"
        "Source: https://en.wikipedia.org/wiki/Ada_Lovelace"
    )


async def test_long_extracts_keep_whole_sentences() -> None:
    extract = " ".join(f"Sentence number {n} is here." for n in range(60))
    fake = FakeWiki(summary=summary_payload("Ada Lovelace", extract))
    said = await summary(fake)
    body = said.splitlines()[1]
    assert len(body) <= 700 and body.endswith("is here.")


async def test_language_setting_picks_the_wiki() -> None:
    fake = FakeWiki()
    await summary(fake, settings=SimpleNamespace(language="de-AT"))
    assert {r.url.host for r in fake.requests} == {"de.wikipedia.org"}


async def test_endpoint_override_keeps_the_language() -> None:
    fake = FakeWiki()
    tools = tools_for(
        fake,
        SimpleNamespace(language="fr"),
        endpoints={"wikipedia": "http://127.0.0.1:9/{lang}/"},
    )
    await tools["wikipedia_summary"].func(topic="x")
    assert str(fake.requests[0].url).startswith("http://127.0.0.1:9/fr/w/api.php?")


async def test_search_tool_lists_titles_with_clean_snippets() -> None:
    fake = FakeWiki()
    said = await tools_for(fake)["wikipedia_search"].func(query="ada")
    assert said == (
        "Wikipedia articles matching “ada”:\n"
        "1. Ada Lovelace: Ada King, Countess of Lovelace & more\n"
        "2. Ada (programming language): A structured language"
    )


# ---------------------------------------------------------------- failures


async def test_summary_404_is_said_plainly() -> None:
    fake = FakeWiki(summary=lambda _r: httpx.Response(404, json=NOT_FOUND))
    with pytest.raises(ConnectorError) as caught:
        await summary(fake)
    assert caught.value.message == "Wikipedia has no article called “Ada Lovelace”."


async def test_action_api_error_body() -> None:
    body = {
        "error": {
            "code": "nosrsearch",
            "info": 'The "srsearch" parameter must be set.',
            "docref": "See https://en.wikipedia.org/w/api.php for API usage.",
        },
        "servedby": "mw1234",
    }
    with pytest.raises(ConnectorError) as caught:
        await summary(FakeWiki(search=body))
    assert caught.value.message == (
        'Wikipedia couldn\'t search for that: The "srsearch" parameter must be set.'
    )


async def test_refused() -> None:
    reply = httpx.Response(403, text="Please set a user-agent and respect our robot policy.")
    with pytest.raises(ConnectorError) as caught:
        await summary(FakeWiki(search=lambda _r: reply))
    assert caught.value.message == (
        "Wikipedia refused the request; it may be blocking this app's traffic for now."
    )


async def test_unauthorised() -> None:
    with pytest.raises(ConnectorError) as caught:
        await summary(FakeWiki(summary=lambda _r: httpx.Response(401)))
    assert caught.value.message == "Wikipedia refused the request (not authorised)."


async def test_rate_limit() -> None:
    reply = httpx.Response(429, json={"error": {"code": "ratelimited", "info": "slow down"}})
    with pytest.raises(ConnectorError) as caught:
        await summary(FakeWiki(search=lambda _r: reply))
    assert caught.value.message == "Wikipedia is rate-limiting requests; try again in a minute."
    assert caught.value.retryable


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors(status: int) -> None:
    with pytest.raises(ConnectorError) as caught:
        await summary(FakeWiki(summary=lambda _r: httpx.Response(status)))
    assert caught.value.message == f"Wikipedia is having trouble right now (HTTP {status})."


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        await summary(FakeWiki(search=hang))
    assert caught.value.message == "Wikipedia did not answer in time."


@pytest.mark.parametrize(
    ("search", "lead"),
    [
        ({"batchcomplete": True}, ADA_SUMMARY),
        ({"query": {"search": [{"ns": 0}]}}, ADA_SUMMARY),
        (ADA_SEARCH, {"title": "Ada Lovelace"}),
        (ADA_SEARCH, ["not", "an", "object"]),
    ],
    ids=["no-query", "hit-without-title", "summary-without-type", "summary-array"],
)
async def test_malformed(search: dict[str, Any], lead: Any) -> None:
    fake = FakeWiki(search=search, summary=lambda _r: httpx.Response(200, json=lead))
    with pytest.raises(ConnectorError) as caught:
        await summary(fake)
    assert caught.value.message == "Wikipedia sent an answer I couldn't read."


async def test_html_instead_of_json() -> None:
    fake = FakeWiki(search=lambda _r: httpx.Response(200, text="<html>maintenance</html>"))
    with pytest.raises(ConnectorError, match="couldn't read"):
        await summary(fake)


# ---------------------------------------------------------------- helpers and wiring


def test_language_and_shortening_helpers() -> None:
    assert wiki_language(SimpleNamespace(language="pt_BR")) == "pt"
    assert wiki_language(SimpleNamespace(language="../evil.com/")) == "en"
    assert wiki_language(None) == "en"
    assert shorten("One. Two. Three.", 10) == "One. Two."
    assert shorten("x" * 30, 10).endswith("…")


def test_schemas_progress_and_metadata() -> None:
    tools = tools_for(FakeWiki())
    assert sorted(tools) == ["wikipedia_search", "wikipedia_summary"]
    schema = function_tool(tools["wikipedia_summary"].func).params_json_schema
    assert schema["required"] == ["topic"]
    assert render_progress(tools["wikipedia_summary"].progress, {"topic": "Ada"}) == (
        "Looking up Ada on Wikipedia..."
    )
    assert CONNECTOR.requires_secrets == ()
    assert not any(tool.side_effect for tool in tools.values())
