"""Web search with the Brave Search API.

Brave's web search answers a query with ranked results (title, URL, snippet). The connector
asks for a handful of results without text decorations and trims every snippet, because the
answer is usually spoken: the model should hear a few short, clean lines, not a page. The
user's key is sent in the ``X-Subscription-Token`` header, never in the URL, so it stays out
of logs and error messages.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    key_refused,
    request_json,
    require_secret,
    trim,
)

NAME = "web_search"
TITLE = "Brave Search"
SERVICE = "Brave Search"
SECRET = "brave"
DEFAULT_URL = "https://api.search.brave.com/res/v1"
REQUEST_TIMEOUT = httpx.Timeout(10.0)
DEFAULT_COUNT = 5
MAX_COUNT = 10
SNIPPET_CHARS = 220
MAX_QUERY_CHARS = 400  # Brave's documented limit for q

# Brave error codes (``error.code`` in its ErrorResponse) that mean the key itself is the problem.
_KEY_CODES = frozenset({"SUBSCRIPTION_TOKEN_INVALID", "SUBSCRIPTION_NOT_FOUND", "UNAUTHORIZED"})
_LIMIT_CODES = frozenset({"RATE_LIMITED", "USAGE_LIMIT_EXCEEDED", "QUOTA_LIMITED"})
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class SearchResult:
    title: str
    url: str
    snippet: str
    site: str


@dataclass(frozen=True)
class SearchAnswer:
    query: str
    altered: str | None
    results: tuple[SearchResult, ...]


def clean_text(text: str) -> str:
    """Plain text from a snippet: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def clamp_count(count: int) -> int:
    return max(1, min(MAX_COUNT, int(count)))


def _key_rejected() -> ConnectorError:
    return key_refused(SERVICE, NAME, 401, advice="Check it with")


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent search results I couldn't read.", retryable=True)


class BraveSearchClient:
    """A thin client for Brave's ``/web/search``; every failure is a ``ConnectorError``."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str = DEFAULT_URL) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def search(self, query: str, api_key: str, *, count: int = DEFAULT_COUNT) -> SearchAnswer:
        text = " ".join(query.split())
        if not text:
            raise ConnectorError("I need something to search for.")
        text = text[:MAX_QUERY_CHARS]
        params: dict[str, str | int] = {
            "q": text,
            "count": clamp_count(count),
            "result_filter": "web",
            "text_decorations": "false",
            "safesearch": "moderate",
        }
        payload = await request_json(
            self._http,
            SERVICE,
            "GET",
            f"{self._base_url}/web/search",
            params=params,
            headers={"Accept": "application/json", "X-Subscription-Token": api_key},
            timeout=REQUEST_TIMEOUT,
            check=_refusal,
            reason=lambda response: _error_fields(response)[1],
            refusal="{service} couldn't run that search: {reason}",
            malformed=_malformed(),
        )
        try:
            return _parse(text, payload)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc


def _refusal(response: httpx.Response) -> ConnectorError | None:
    """Brave's ErrorResponse (``{"type": "ErrorResponse", "error": {...}}``): key and quota."""
    if not response.is_error:
        return None
    code, _ = _error_fields(response)
    status = response.status_code
    if status in (401, 403) or code in _KEY_CODES:
        return _key_rejected()
    if status == 429 or code in _LIMIT_CODES:
        return ConnectorError(
            f"{SERVICE} is rate-limiting requests or your plan's quota is used up; "
            "try again in a minute.",
            retryable=True,
            status=status,
        )
    return None


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None]:
    error = body_object(response).get("error")
    if not isinstance(error, dict):
        return None, None
    code = error.get("code")
    detail = error.get("detail")
    return (
        str(code) if code else None,
        trim(clean_text(str(detail)), 160) if detail else None,
    )


def _parse(query: str, payload: Any) -> SearchAnswer:
    if not isinstance(payload, dict):
        raise TypeError("not an object")
    web = payload.get("web") or {}
    raw_results = web.get("results") or []
    if not isinstance(raw_results, list):
        raise TypeError("results is not a list")
    results = tuple(_result(item) for item in raw_results)
    altered = (payload.get("query") or {}).get("altered")
    return SearchAnswer(query=query, altered=str(altered) if altered else None, results=results)


def _result(item: Mapping[str, Any]) -> SearchResult:
    url = str(item["url"])
    title = clean_text(str(item["title"]))
    meta = item.get("meta_url") or {}
    site = str(meta.get("hostname") or httpx.URL(url).host or "")
    site = site.removeprefix("www.")
    return SearchResult(
        title=title,
        url=url,
        snippet=trim(clean_text(str(item.get("description") or "")), SNIPPET_CHARS),
        site=site,
    )


def format_answer(answer: SearchAnswer) -> str:
    """Numbered results: title and site, the snippet, the URL on its own line."""
    if not answer.results:
        return f"I found nothing on the web for “{answer.query}”."
    lines = [f"Top web results for “{answer.query}”:"]
    if answer.altered and answer.altered.lower() != answer.query.lower():
        lines[0] = f"Top web results for “{answer.altered}” (corrected from “{answer.query}”):"
    for number, result in enumerate(answer.results, start=1):
        heading = f"{number}. {result.title}"
        if result.site:
            heading += f" ({result.site})"
        lines.append(heading)
        if result.snippet:
            lines.append(f"   {result.snippet}")
        lines.append(f"   {result.url}")
    return "\n".join(lines)


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = BraveSearchClient(ctx.http, base_url=ctx.endpoint("brave_search", DEFAULT_URL))

    async def web_search(query: str, count: int = DEFAULT_COUNT) -> str:
        """Search the web and get the top results, each with a title, a short snippet and a URL.

        Args:
            query: What to search for, in the user's words or a sharper search phrase.
            count: How many results to return (1 to 10).
        """
        key = require_secret(ctx, SECRET, TITLE, NAME)
        answer = await client.search(query, key, count=count)
        return format_answer(answer)

    return [ToolDef(func=web_search, progress="Searching the web for {query}...")]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Search the web (internet, online) to look up anything current or find the best of "
        "something: who won a game or an election, facts, products, people, events and "
        "pages; gives the top results with snippets and links."
    ),
    instructions=(
        "You search the web with your tool when the user asks something that needs fresh or "
        "specific information. Search once with a sharp query; search again only if the "
        "results miss the point. Answer from the snippets in one to three short spoken "
        'sentences and name the source site ("according to the BBC"). Don\'t read URLs aloud '
        "unless asked; offer to read a page in full if the user wants more. If the snippets "
        "don't answer the question, say so rather than guess. If a tool reports a problem, "
        "say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Search the web for the best time to visit Iceland.",
        "Who won the last Tour de France?",
        "Look up reviews of the Framework laptop.",
    ),
    requires_secrets=(SECRET,),
    followups=(
        "Read me the first result about {query}.",
        "Search for more on {query}.",
    ),
    key_help=(
        "Brave Search API key: sign up at https://api-dashboard.search.brave.com, subscribe to "
        "a plan (the free plan works), then copy the key from the API Keys page."
    ),
)
