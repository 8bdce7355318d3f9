"""News headlines and news search from NewsAPI.org.

Two endpoints cover what people ask a voice assistant about the news: ``/top-headlines`` for
"what's the news (in tech, in the UK)?" and ``/everything`` for "any news about X?". NewsAPI
answers failures with a documented body, ``{"status": "error", "code": ..., "message": ...}``;
its ``code`` decides the sentence the user hears (a bad key and a used-up quota need different
advice). The key travels in the ``X-Api-Key`` header so it never appears in a URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    body_object,
    hide_secret,
    key_refused,
    request_json,
    require_secret,
    trim,
)

NAME = "news"
TITLE = "NewsAPI"
SERVICE = "NewsAPI"
SECRET = "newsapi"
DEFAULT_URL = "https://newsapi.org/v2"
REQUEST_TIMEOUT = httpx.Timeout(10.0)
PAGE_SIZE = 5
DESCRIPTION_CHARS = 160
MAX_SEARCH_DAYS = 30
DEFAULT_COUNTRY = "us"

CATEGORIES = ("business", "entertainment", "general", "health", "science", "sports", "technology")
_CATEGORY_WORDS: Mapping[str, str] = {
    **{c: c for c in CATEGORIES},
    "tech": "technology",
    "technology news": "technology",
    "sport": "sports",
    "finance": "business",
    "economy": "business",
    "markets": "business",
    "money": "business",
    "showbiz": "entertainment",
    "celebrity": "entertainment",
    "movies": "entertainment",
    "medicine": "health",
    "top": "general",
    "world": "general",
    "": "",
}
# The countries NewsAPI documents for /top-headlines.
COUNTRIES = frozenset(
    {
        "ae", "ar", "at", "au", "be", "bg", "br", "ca", "ch", "cn", "co", "cu", "cz", "de", "eg",
        "fr", "gb", "gr", "hk", "hu", "id", "ie", "il", "in", "it", "jp", "kr", "lt", "lv", "ma",
        "mx", "my", "ng", "nl", "no", "nz", "ph", "pl", "pt", "ro", "rs", "ru", "sa", "se", "sg",
        "si", "sk", "th", "tr", "tw", "ua", "us", "ve", "za",
    }
)  # fmt: skip
_COUNTRY_NAMES: Mapping[str, str] = {
    "united states": "us",
    "usa": "us",
    "america": "us",
    "uk": "gb",
    "united kingdom": "gb",
    "britain": "gb",
    "great britain": "gb",
    "england": "gb",
    "scotland": "gb",
    "wales": "gb",
    "canada": "ca",
    "australia": "au",
    "new zealand": "nz",
    "ireland": "ie",
    "india": "in",
    "germany": "de",
    "france": "fr",
    "italy": "it",
    "spain": "es",
    "japan": "jp",
    "china": "cn",
    "south africa": "za",
    "netherlands": "nl",
    "switzerland": "ch",
    "austria": "at",
    "belgium": "be",
    "sweden": "se",
    "norway": "no",
    "mexico": "mx",
    "brazil": "br",
    "argentina": "ar",
    "singapore": "sg",
    "south korea": "kr",
    "korea": "kr",
    "israel": "il",
    "turkey": "tr",
    "ukraine": "ua",
    "poland": "pl",
    "portugal": "pt",
    "nigeria": "ng",
    "egypt": "eg",
    "philippines": "ph",
}

_KEY_CODES = frozenset({"apiKeyInvalid", "apiKeyMissing", "apiKeyDisabled"})
_LIMIT_CODES = frozenset({"apiKeyExhausted", "rateLimited"})
_REMOVED = "[Removed]"  # NewsAPI's placeholder for articles taken down at the source


@dataclass(frozen=True)
class Article:
    title: str
    source: str
    description: str
    url: str
    published: str


def category_for(topic: str) -> str | None:
    """The NewsAPI category a spoken topic names, or None if it is a free keyword."""
    return _CATEGORY_WORDS.get(" ".join(topic.lower().split()))


def country_code(country: str) -> str:
    """A NewsAPI country code from "gb", "UK" or "United Kingdom"; ``ConnectorError`` if none."""
    text = " ".join(country.lower().replace(".", "").split())
    code = _COUNTRY_NAMES.get(text, text)
    if code not in COUNTRIES:
        raise ConnectorError(
            f"NewsAPI has no country headlines for {country}; "
            "try a two-letter code such as us, gb, ca or au."
        )
    return code


def _malformed() -> ConnectorError:
    return ConnectorError(f"{SERVICE} sent news I couldn't read.", retryable=True)


class NewsApiClient:
    """Calls ``/top-headlines`` and ``/everything``; every failure is a ``ConnectorError``."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str = DEFAULT_URL) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def headlines(
        self, api_key: str, *, country: str | None, category: str | None, query: str | None
    ) -> list[Article]:
        params: dict[str, str | int] = {"pageSize": PAGE_SIZE}
        if country:
            params["country"] = country
        if category:
            params["category"] = category
        if query:
            params["q"] = query
        return await self._articles("top-headlines", params, api_key)

    async def search(
        self, api_key: str, query: str, *, since: date, language: str | None
    ) -> list[Article]:
        params: dict[str, str | int] = {
            "q": query,
            "from": since.isoformat(),
            "sortBy": "relevancy",
            "pageSize": PAGE_SIZE,
        }
        if language:
            params["language"] = language
        return await self._articles("everything", params, api_key)

    async def _articles(
        self, path: str, params: Mapping[str, str | int], api_key: str
    ) -> list[Article]:
        body = await request_json(
            self._http,
            SERVICE,
            "GET",
            f"{self._base_url}/{path}",
            params=params,
            headers={"X-Api-Key": api_key},
            timeout=REQUEST_TIMEOUT,
            check=lambda response: _refusal(response, api_key),
            malformed=_malformed(),
        )
        try:
            return _parse_articles(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _malformed() from exc


def _key_rejected(status: int) -> ConnectorError:
    return key_refused(SERVICE, NAME, status, advice="Check it with")


def _refusal(response: httpx.Response, api_key: str) -> ConnectorError | None:
    """NewsAPI's error body decides the sentence, even on a 200; else a refused key."""
    body = body_object(response)
    if body.get("status") == "error":
        return _api_error(response.status_code, body, api_key)
    if response.status_code in (401, 403):
        return _key_rejected(response.status_code)
    return None


def _api_error(status: int, body: Mapping[str, Any], api_key: str) -> ConnectorError:
    """NewsAPI's documented error body as the sentence to say."""
    code = str(body.get("code") or "")
    message = trim(hide_secret(str(body.get("message") or ""), api_key), 200)
    if code in _KEY_CODES or status in (401, 403):
        return _key_rejected(status)
    if code in _LIMIT_CODES or status == 429:
        return ConnectorError(
            f"{SERVICE} says your key has made too many requests; try again later.",
            retryable=True,
            status=status,
        )
    if code == "unexpectedError" or status >= 500:
        return ConnectorError(
            f"{SERVICE} is having trouble right now.", retryable=True, status=status
        )
    if message:
        return ConnectorError(f"{SERVICE} couldn't do that: {message}", status=status)
    return ConnectorError(f"{SERVICE} rejected the request ({code or status}).", status=status)


_SOURCE_SUFFIX = re.compile(r"\s+[-–|]\s+[^-–|]{2,60}$")


def _parse_articles(body: Any) -> list[Article]:
    if not isinstance(body, dict) or body.get("status") != "ok":
        raise ValueError("not an ok response")
    raw = body["articles"]
    if not isinstance(raw, list):
        raise TypeError("articles is not a list")
    articles = []
    for item in raw:
        title = " ".join(str(item["title"] or "").split())
        if not title or title == _REMOVED:
            continue
        source = str((item.get("source") or {}).get("name") or "").strip()
        if source and title.endswith(source):
            title = _SOURCE_SUFFIX.sub("", title) or title
        articles.append(
            Article(
                title=title,
                source=source,
                description=trim(str(item.get("description") or ""), DESCRIPTION_CHARS),
                url=str(item.get("url") or ""),
                published=str(item.get("publishedAt") or ""),
            )
        )
    return articles


def format_articles(heading: str, articles: list[Article]) -> str:
    lines = [heading]
    for number, article in enumerate(articles, start=1):
        line = f"{number}. {article.title}"
        if article.source:
            line += f" ({article.source})"
        lines.append(line)
        if article.description and article.description != article.title:
            lines.append(f"   {article.description}")
        if article.url:
            lines.append(f"   {article.url}")
    return "\n".join(lines)


def _clock(settings: Any) -> Callable[[], datetime]:
    now = getattr(settings, "now", None)
    if callable(now):
        injected: Callable[[], datetime] = now
        return injected
    return lambda: datetime.now(UTC)


def _language(settings: Any) -> str | None:
    language = str(getattr(settings, "language", "en") or "").lower()[:2]
    return language if re.fullmatch(r"[a-z]{2}", language) else None


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    client = NewsApiClient(ctx.http, base_url=ctx.endpoint("newsapi", DEFAULT_URL))
    now = _clock(ctx.settings)

    async def news_headlines(topic: str = "", country: str = "") -> str:
        """Get today's top news headlines, optionally for a topic and/or a country.

        Args:
            topic: A section such as business, entertainment, health, science, sports or
                technology, or any keyword (e.g. "elections"); empty for the main headlines.
            country: A country name or two-letter code (e.g. "UK", "gb", "Canada"); empty for
                the user's usual country.
        """
        key = require_secret(ctx, SECRET, TITLE, NAME)
        category = category_for(topic)
        query = None if category is not None else " ".join(topic.split())
        if country.strip():
            code: str | None = country_code(country)
        else:
            setting = getattr(ctx.settings, "news_country", None) or DEFAULT_COUNTRY
            code = country_code(str(setting))
        articles = await client.headlines(
            key, country=code, category=category or None, query=query or None
        )
        where = f" in {code.upper()}" if code else ""
        label = f"{category or query} " if (category and category != "general") or query else ""
        if not articles:
            return f"NewsAPI has no top {label}headlines{where} right now."
        return format_articles(f"Top {label}headlines{where}:", articles)

    async def news_search(query: str, days: int = 7) -> str:
        """Search recent news articles from many sources about a subject, most relevant first.

        Args:
            query: What the news should be about, e.g. "James Webb telescope" or "Tesla".
            days: How far back to look, in days (1 to 30).
        """
        key = require_secret(ctx, SECRET, TITLE, NAME)
        text = " ".join(query.split())
        if not text:
            raise ConnectorError("I need a subject to search the news for.")
        span = max(1, min(MAX_SEARCH_DAYS, int(days)))
        since = now().date() - timedelta(days=span)
        articles = await client.search(key, text, since=since, language=_language(ctx.settings))
        if not articles:
            return f"I found no news about “{text}” from the last {span} days."
        return format_articles(f"News about “{text}” from the last {span} days:", articles)

    return [
        ToolDef(func=news_headlines, progress="Checking the headlines..."),
        ToolDef(func=news_search, progress="Searching the news for {query}..."),
    ]


CONNECTOR = Connector(
    name=NAME,
    title=TITLE,
    description=(
        "Today's top news headlines by topic (business, tech, sports, health, science, "
        "entertainment) or country, and searches of recent news articles about any subject."
    ),
    instructions=(
        "You brief the user on the news using your tools; never invent headlines. For "
        "'what's the news' use the headlines tool; for news about a named subject use the "
        "search tool. Read at most three headlines unless asked for more, each in one short "
        "sentence with its source, and offer to go on or to read an article in full. Don't read "
        "URLs aloud. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What's in the news today?",
        "Any technology headlines?",
        "What are the top stories in the UK?",
        "Is there any news about the Mars mission?",
    ),
    requires_secrets=(SECRET,),
    followups=(
        "Any more news about {query}?",
        "What are the {topic} headlines in another country?",
    ),
    key_help=(
        "NewsAPI key: register at https://newsapi.org/register (the free Developer plan "
        "works); the key is shown on your account page."
    ),
)
