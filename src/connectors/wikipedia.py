"""Encyclopedia answers from Wikipedia: no key needed.

A spoken topic rarely matches an article title exactly ("the mercury planet", "who was Ada
Lovelace"), so the action API's full-text search (``list=search``) resolves it to a title
first; the REST API's ``page/summary`` then gives that article's lead in plain text. When the
best match is a disambiguation page, the other search hits become the choices offered back to
the user. The wiki's language follows ``settings.language``; requests carry the app's
descriptive User-Agent from the shared HTTP client, as Wikimedia's policy asks.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    request_json,
)

NAME = "wikipedia"
TITLE = "Wikipedia"
SERVICE = "Wikipedia"
DEFAULT_URL = "https://{lang}.wikipedia.org"
REQUEST_TIMEOUT = httpx.Timeout(10.0)
SEARCH_LIMIT = 5
SUMMARY_CHARS = 700
SNIPPET_CHARS = 150
MAX_CHOICES = 4

_TAG = re.compile(r"<[^>]+>")
_LANGUAGE = re.compile(r"^[a-z]{2,12}$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")


@dataclass(frozen=True)
class SearchHit:
    title: str
    snippet: str


@dataclass(frozen=True)
class Summary:
    kind: str
    title: str
    description: str
    extract: str
    url: str


class ArticleNotFoundError(ConnectorError):
    def __init__(self, title: str) -> None:
        super().__init__(f"Wikipedia has no article called “{title}”.", status=404)


def clean_text(text: str) -> str:
    """Plain text from a snippet with search-match markup: tags dropped, entities decoded."""
    return " ".join(html.unescape(_TAG.sub("", text)).split())


def shorten(text: str, limit: int) -> str:
    """Whole sentences up to ``limit`` characters; a word-boundary cut if one is too long."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    kept = ""
    for sentence in _SENTENCE_END.split(text):
        if len(kept) + len(sentence) + 1 > limit:
            break
        kept = f"{kept} {sentence}".strip()
    if kept:
        return kept
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def wiki_language(settings: Any) -> str:
    """The wiki to use: ``settings.language`` ("de", "fr-CA" -> "fr"), else English."""
    raw = str(getattr(settings, "language", "en") or "en").strip().lower().replace("_", "-")
    code = raw.split("-", 1)[0]
    return code if _LANGUAGE.match(code) else "en"


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent an answer I couldn't read.", retryable=True)


class WikipediaClient:
    """Search (action API) and summaries (REST API) on one language's wiki."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def search(self, query: str, *, limit: int = SEARCH_LIMIT) -> list[SearchHit]:
        """Matching article titles, best first; a spelling suggestion is tried when empty."""
        text = " ".join(query.split())
        if not text:
            raise ConnectorError("I need a topic to look up.")
        hits, suggestion = await self._search_once(text, limit)
        if not hits and suggestion and suggestion.lower() != text.lower():
            hits, _ = await self._search_once(suggestion, limit)
        return hits

    async def _search_once(self, text: str, limit: int) -> tuple[list[SearchHit], str | None]:
        params: dict[str, str | int] = {
            "action": "query",
            "list": "search",
            "srsearch": text,
            "srlimit": limit,
            "srprop": "snippet",
            "format": "json",
            "formatversion": 2,
        }
        payload = await self._get_json(f"{self._base_url}/w/api.php", params=params)
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            info = clean_text(str(payload["error"].get("info") or "unknown error"))
            raise ConnectorError(f"{SERVICE} couldn't search for that: {info}")
        try:
            query = payload["query"]
            hits = [
                SearchHit(
                    title=str(item["title"]),
                    snippet=clean_text(str(item.get("snippet") or "")),
                )
                for item in query["search"]
            ]
            suggestion = (query.get("searchinfo") or {}).get("suggestion")
        except (KeyError, TypeError, AttributeError) as exc:
            raise _malformed() from exc
        return hits, str(suggestion) if suggestion else None

    async def summary(self, title: str) -> Summary:
        """The lead of an article: its kind (standard, disambiguation, …) and plain extract."""
        path = quote(title.replace(" ", "_"), safe="")
        url = f"{self._base_url}/api/rest_v1/page/summary/{path}"
        payload = await self._get_json(url, not_found_title=title)
        try:
            urls = payload.get("content_urls") or {}
            return Summary(
                kind=str(payload["type"]),
                title=str(payload["title"]),
                description=str(payload.get("description") or ""),
                extract=str(payload.get("extract") or ""),
                url=str((urls.get("desktop") or {}).get("page") or ""),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise _malformed() from exc

    async def _get_json(
        self,
        url: str,
        *,
        params: dict[str, str | int] | None = None,
        not_found_title: str | None = None,
    ) -> Any:
        return await request_json(
            self._http,
            SERVICE,
            "GET",
            url,
            params=params,
            timeout=REQUEST_TIMEOUT,
            follow_redirects=True,
            check=lambda response: _refusal(response, not_found_title),
            malformed=_malformed(),
        )


def _refusal(response: httpx.Response, not_found_title: str | None) -> ConnectorError | None:
    if response.status_code == 404 and not_found_title is not None:
        return ArticleNotFoundError(not_found_title)
    if response.status_code == 403:
        return ConnectorError(
            f"{SERVICE} refused the request; it may be blocking this app's traffic for now.",
            status=403,
        )
    return None


def _is_disambiguation_title(title: str) -> bool:
    return title.lower().endswith("(disambiguation)")


def format_summary(summary: Summary, hits: list[SearchHit]) -> str:
    if summary.kind == "disambiguation":
        choices = [
            hit.title
            for hit in hits
            if hit.title != summary.title and not _is_disambiguation_title(hit.title)
        ][:MAX_CHOICES]
        if choices:
            return (
                f"“{summary.title}” can mean several things on Wikipedia, for example: "
                f"{'; '.join(choices)}. Which one do you mean?"
            )
        return f"“{summary.title}” can mean several things on Wikipedia; which one do you mean?"
    if not summary.extract:
        text = f"Wikipedia has a page called “{summary.title}”, but it has no summary."
        return f"{text}\nSource: {summary.url}" if summary.url else text
    heading = summary.title
    if summary.description:
        heading += f" ({summary.description})"
    lines = [f"From Wikipedia, {heading}:", shorten(summary.extract, SUMMARY_CHARS)]
    if summary.url:
        lines.append(f"Source: {summary.url}")
    return "\n".join(lines)


def format_hits(query: str, hits: list[SearchHit]) -> str:
    if not hits:
        return f"Wikipedia has no articles matching “{query}”."
    lines = [f"Wikipedia articles matching “{query}”:"]
    for number, hit in enumerate(hits, start=1):
        line = f"{number}. {hit.title}"
        if hit.snippet:
            line += f": {shorten(hit.snippet, SNIPPET_CHARS)}"
        lines.append(line)
    return "\n".join(lines)


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    language = wiki_language(ctx.settings)
    base_url = ctx.endpoint("wikipedia", DEFAULT_URL).replace("{lang}", language)
    client = WikipediaClient(ctx.http, base_url=base_url)

    async def wikipedia_summary(topic: str) -> str:
        """Look a topic up on Wikipedia and get the short summary of the best-matching article.

        Args:
            topic: A person, place, thing, event or idea, e.g. "Ada Lovelace" or "photosynthesis".
        """
        hits = await client.search(topic)
        if not hits:
            return f"Wikipedia has no article about “{' '.join(topic.split())}”."
        summary = await client.summary(hits[0].title)
        return format_summary(summary, hits)

    async def wikipedia_search(query: str) -> str:
        """List the Wikipedia articles that match a query, with a snippet of each.

        Args:
            query: Words to search Wikipedia for.
        """
        text = " ".join(query.split())
        return format_hits(text, await client.search(text))

    return [
        ToolDef(func=wikipedia_summary, progress="Looking up {topic} on Wikipedia..."),
        ToolDef(func=wikipedia_search, progress="Searching Wikipedia for {query}..."),
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Encyclopedia summaries from Wikipedia about people, places, things, history, science "
        "and ideas; also lists matching articles."
    ),
    instructions=(
        "You answer 'who was', 'what is' and 'tell me about' questions from Wikipedia using "
        "your tools; don't answer from memory when the user wants facts checked. Give the gist "
        "in two or three short spoken sentences and offer more. If the topic is ambiguous, read "
        "out the choices the tool gives and ask which one the user means. Don't read URLs aloud. "
        "If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Who was Ada Lovelace?",
        "Tell me about the Great Barrier Reef.",
        "What is photosynthesis?",
        "Look up Mercury on Wikipedia.",
    ),
    followups=(
        "Tell me more about {topic}.",
        "What else is on Wikipedia about {query}?",
    ),
)
