"""The web search connector against a fake Brave Search API speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.web_search import CONNECTOR, clean_text, trim

KEY = "BSA-test-key-123"


def result(
    title: str, url: str, description: str, hostname: str, age: str = "2 days ago"
) -> dict[str, Any]:
    return {
        "title": title,
        "url": url,
        "is_source_local": False,
        "is_source_both": False,
        "description": description,
        "page_age": "2026-11-19T08:00:00",
        "profile": {"name": hostname, "url": url, "long_name": hostname, "img": ""},
        "language": "en",
        "family_friendly": True,
        "type": "search_result",
        "subtype": "generic",
        "meta_url": {
            "scheme": "https",
            "netloc": hostname,
            "hostname": hostname,
            "favicon": "https://imgs.search.brave.com/favicon.png",
            "path": "› guides",
        },
        "age": age,
    }


ICELAND: dict[str, Any] = {
    "type": "search",
    "query": {
        "original": "best time to visit iceland",
        "show_strict_warning": False,
        "is_navigational": False,
        "is_news_breaking": False,
        "spellcheck_off": True,
        "country": "us",
        "bad_results": False,
        "should_fallback": False,
        "postal_code": "",
        "city": "",
        "header_country": "",
        "more_results_available": True,
        "state": "",
    },
    "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": False}]},
    "web": {
        "type": "search",
        "results": [
            result(
                "When Is the <strong>Best Time to Visit Iceland</strong>?",
                "https://www.guidetoiceland.is/best-time",
                "Summer (June to August) brings the midnight sun &amp; mild weather; "
                "winter is best for the northern lights.",
                "www.guidetoiceland.is",
            ),
            result(
                "Iceland travel seasons",
                "https://visiticeland.com/seasons",
                "x " * 200,
                "visiticeland.com",
            ),
        ],
        "family_friendly": True,
    },
}


class FakeBrave:
    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | dict[str, Any]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answer):
            return self.answer(request)
        return httpx.Response(200, json=self.answer)


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


def tools_for(
    fake: FakeBrave, secrets: dict[str, str] | None = None, **ctx: Any
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    context = ConnectorContext(
        http=http, secrets=Secrets({"brave": KEY} if secrets is None else secrets), **ctx
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(context)}


async def search(fake: FakeBrave, query: str = "best time to visit iceland", **kw: Any) -> str:
    return await tools_for(fake)["web_search"].func(query=query, **kw)


def error(status: int, code: str, detail: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "type": "ErrorResponse",
            "error": {"id": "7a1b", "status": status, "code": code, "detail": detail, "meta": {}},
            "time": 1763712000,
        },
    )


# ---------------------------------------------------------------- happy paths


async def test_results_are_clean_short_and_numbered() -> None:
    fake = FakeBrave(ICELAND)

    said = await search(fake)

    lines = said.splitlines()
    assert lines[0] == "Top web results for “best time to visit iceland”:"
    assert lines[1] == "1. When Is the Best Time to Visit Iceland? (guidetoiceland.is)"
    assert lines[2] == (
        "   Summer (June to August) brings the midnight sun & mild weather; "
        "winter is best for the northern lights."
    )
    assert lines[3] == "   https://www.guidetoiceland.is/best-time"
    assert lines[4] == "2. Iceland travel seasons (visiticeland.com)"
    assert lines[5].endswith("…") and len(lines[5].strip()) <= 221
    assert "<strong>" not in said


async def test_what_crossed_the_wire() -> None:
    fake = FakeBrave(ICELAND)

    await search(fake, count=3)

    (request,) = fake.requests
    assert request.url.host == "api.search.brave.com"
    assert request.url.path == "/res/v1/web/search"
    assert request.headers["X-Subscription-Token"] == KEY
    assert request.headers["Accept"] == "application/json"
    assert dict(request.url.params) == {
        "q": "best time to visit iceland",
        "count": "3",
        "result_filter": "web",
        "text_decorations": "false",
        "safesearch": "moderate",
    }
    assert KEY not in str(request.url)


async def test_count_is_clamped_and_the_endpoint_overridable() -> None:
    fake = FakeBrave(ICELAND)
    tools = tools_for(fake, endpoints={"brave_search": "http://127.0.0.1:9/brave/"})

    await tools["web_search"].func(query="x", count=50)

    assert str(fake.requests[0].url).startswith("http://127.0.0.1:9/brave/web/search?")
    assert fake.requests[0].url.params["count"] == "10"


async def test_no_results() -> None:
    said = await search(FakeBrave({"type": "search", "query": {"original": "qqq"}}), query="qqq")
    assert said == "I found nothing on the web for “qqq”."


async def test_a_corrected_query_is_mentioned() -> None:
    payload = {**ICELAND, "query": {**ICELAND["query"], "altered": "best time to visit iceland"}}

    said = await search(FakeBrave(payload), query="best tme to vist iceland")

    assert said.splitlines()[0] == (
        "Top web results for “best time to visit iceland” "
        "(corrected from “best tme to vist iceland”):"
    )


async def test_empty_query_is_refused_before_any_request() -> None:
    fake = FakeBrave(ICELAND)
    with pytest.raises(ConnectorError, match="I need something to search for"):
        await search(fake, query="   ")
    assert fake.requests == []


# ---------------------------------------------------------------- keys and failures


async def test_missing_key_gives_the_connect_sentence() -> None:
    fake = FakeBrave(ICELAND)
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake, secrets={})["web_search"].func(query="x")
    assert caught.value.message == "Connect Brave Search first: python main.py connect web_search"
    assert fake.requests == []


@pytest.mark.parametrize(
    "reply",
    [
        error(401, "UNAUTHORIZED", "Unauthorized."),
        error(403, "FORBIDDEN", "Forbidden."),
        error(422, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid."),
    ],
    ids=["401", "403", "422-token"],
)
async def test_a_rejected_key(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBrave(lambda _r: reply))
    assert caught.value.message == (
        "Brave Search didn't accept your API key. Check it with: python main.py connect web_search"
    )
    assert not caught.value.retryable


async def test_rate_limit() -> None:
    reply = error(429, "RATE_LIMITED", "Request rate limit exceeded for plan.")
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBrave(lambda _r: reply))
    assert caught.value.message == (
        "Brave Search is rate-limiting requests or your plan's quota is used up; "
        "try again in a minute."
    )
    assert caught.value.retryable and caught.value.status == 429


async def test_validation_detail_is_relayed() -> None:
    reply = error(422, "VALIDATION", "Unable to validate request parameter(s).")
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBrave(lambda _r: reply))
    assert caught.value.message == (
        "Brave Search couldn't run that search: Unable to validate request parameter(s)."
    )


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors(status: int) -> None:
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBrave(lambda _r: httpx.Response(status, text="oops")))
    assert caught.value.message == f"Brave Search is having trouble right now (HTTP {status})."
    assert caught.value.retryable


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        await search(FakeBrave(hang))
    assert caught.value.message == "Brave Search did not answer in time."
    assert caught.value.retryable


async def test_connection_failure_never_shows_the_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"failed for {request.headers['X-Subscription-Token']}")

    with pytest.raises(ConnectorError) as caught:
        await search(FakeBrave(refuse))
    assert caught.value.message == "Could not reach Brave Search."


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="<html>captcha</html>"),
        httpx.Response(200, json=[1, 2, 3]),
        httpx.Response(200, json={"web": {"results": "nope"}}),
        httpx.Response(200, json={"web": {"results": [{"title": "no url"}]}}),
    ],
    ids=["html", "array", "results-not-list", "result-without-url"],
)
async def test_malformed_payloads(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await search(FakeBrave(lambda _r: reply))
    assert caught.value.message == "Brave Search sent search results I couldn't read."


# ---------------------------------------------------------------- helpers and wiring


def test_clean_and_trim() -> None:
    assert clean_text(" <b>Fish</b> &amp;\n chips ") == "Fish & chips"
    assert trim("one two three four", 12) == "one two…"
    assert trim("short", 12) == "short"


def test_schema_progress_and_metadata() -> None:
    tools = tools_for(FakeBrave(ICELAND))
    assert list(tools) == ["web_search"]
    schema = function_tool(tools["web_search"].func).params_json_schema
    assert sorted(schema["required"]) == ["count", "query"]
    assert schema["properties"]["count"]["type"] == "integer"
    assert (
        render_progress(tools["web_search"].progress, {"query": "Iceland"})
        == "Searching the web for Iceland..."
    )
    assert CONNECTOR.requires_secrets == ("brave",)
    assert "api-dashboard.search.brave.com" in CONNECTOR.key_help
    assert not any(tool.side_effect for tool in tools.values())
    for template in CONNECTOR.followups:
        assert "…" not in render_progress(template, {"query": "Iceland"})
