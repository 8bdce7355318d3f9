"""The news connector against a fake NewsAPI.org speaking its documented JSON."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from agents import function_tool

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.news import CONNECTOR, category_for, country_code

KEY = "0123456789abcdef0123456789abcdef"


def article(title: str, source: str, description: str | None, url: str) -> dict[str, Any]:
    return {
        "source": {"id": None, "name": source},
        "author": "Staff",
        "title": title,
        "description": description,
        "url": url,
        "urlToImage": "https://example.com/image.jpg",
        "publishedAt": "2026-11-21T09:15:00Z",
        "content": "Lorem ipsum… [+2345 chars]",
    }


HEADLINES = {
    "status": "ok",
    "totalResults": 3,
    "articles": [
        article(
            "Chipmaker unveils faster laptop processor - The Verge",
            "The Verge",
            "The new chip promises twice the battery life.",
            "https://www.theverge.com/chip",
        ),
        article("[Removed]", "[Removed]", "[Removed]", "https://removed.com"),
        article(
            "Open-source model tops benchmark",
            "Ars Technica",
            None,
            "https://arstechnica.com/model",
        ),
    ],
}
EMPTY = {"status": "ok", "totalResults": 0, "articles": []}


def newsapi_error(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"status": "error", "code": code, "message": message})


class FakeNewsApi:
    def __init__(
        self, answer: Callable[[httpx.Request], httpx.Response] | dict[str, Any] = HEADLINES
    ) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.answer):
            return self.answer(request)
        return httpx.Response(200, json=self.answer)

    @property
    def params(self) -> dict[str, str]:
        return dict(self.requests[-1].url.params)


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)


NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def tools_for(
    fake: FakeNewsApi, secrets: dict[str, str] | None = None, settings: Any = None, **ctx: Any
) -> dict[str, ToolDef]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    context = ConnectorContext(
        http=http,
        settings=settings if settings is not None else SimpleNamespace(now=lambda: NOW),
        secrets=Secrets({"newsapi": KEY} if secrets is None else secrets),
        **ctx,
    )
    return {tool.name: tool for tool in CONNECTOR.build_tools(context)}


async def headlines(fake: FakeNewsApi, **kw: Any) -> str:
    return await tools_for(fake)["news_headlines"].func(**kw)


# ---------------------------------------------------------------- happy paths


async def test_top_headlines_for_a_topic() -> None:
    fake = FakeNewsApi()

    said = await headlines(fake, topic="tech")

    assert said == (
        "Top technology headlines in US:\n"
        "1. Chipmaker unveils faster laptop processor (The Verge)\n"
        "   The new chip promises twice the battery life.\n"
        "   https://www.theverge.com/chip\n"
        "2. Open-source model tops benchmark (Ars Technica)\n"
        "   https://arstechnica.com/model"
    )
    (request,) = fake.requests
    assert request.url.host == "newsapi.org"
    assert request.url.path == "/v2/top-headlines"
    assert request.headers["X-Api-Key"] == KEY
    assert fake.params == {"pageSize": "5", "country": "us", "category": "technology"}
    assert KEY not in str(request.url)


async def test_country_by_name_and_free_keyword_topic() -> None:
    fake = FakeNewsApi()

    said = await headlines(fake, topic="elections", country="United Kingdom")

    assert said.startswith("Top elections headlines in GB:")
    assert fake.params == {"pageSize": "5", "country": "gb", "q": "elections"}


async def test_main_headlines_use_the_country_setting() -> None:
    fake = FakeNewsApi()
    tools = tools_for(fake, settings=SimpleNamespace(news_country="ie", now=lambda: NOW))

    said = await tools["news_headlines"].func()

    assert said.startswith("Top headlines in IE:")
    assert fake.params == {"pageSize": "5", "country": "ie"}


async def test_unknown_country_is_refused_before_any_request() -> None:
    fake = FakeNewsApi()
    with pytest.raises(ConnectorError) as caught:
        await headlines(fake, country="Atlantis")
    assert caught.value.message == (
        "NewsAPI has no country headlines for Atlantis; "
        "try a two-letter code such as us, gb, ca or au."
    )
    assert fake.requests == []


async def test_no_headlines() -> None:
    said = await headlines(FakeNewsApi(EMPTY), topic="sports")
    assert said == "NewsAPI has no top sports headlines in US right now."


async def test_search_everything_with_date_and_language() -> None:
    fake = FakeNewsApi()
    tools = tools_for(fake, settings=SimpleNamespace(now=lambda: NOW, language="fr-FR"))

    said = await tools["news_search"].func(query="  Mars   mission ", days=3)

    assert said.splitlines()[0] == "News about “Mars mission” from the last 3 days:"
    assert fake.requests[0].url.path == "/v2/everything"
    assert fake.params == {
        "q": "Mars mission",
        "from": "2026-11-18",
        "sortBy": "relevancy",
        "pageSize": "5",
        "language": "fr",
    }


async def test_search_days_are_clamped_and_nothing_found_is_said() -> None:
    fake = FakeNewsApi(EMPTY)

    said = await tools_for(fake)["news_search"].func(query="zzz", days=400)

    assert said == "I found no news about “zzz” from the last 30 days."
    assert fake.params["from"] == "2026-10-22"
    assert fake.params["language"] == "en"


async def test_endpoint_override() -> None:
    fake = FakeNewsApi()
    await tools_for(fake, endpoints={"newsapi": "http://127.0.0.1:9/news/"})[
        "news_headlines"
    ].func()
    assert str(fake.requests[0].url).startswith("http://127.0.0.1:9/news/top-headlines?")


# ---------------------------------------------------------------- keys and failures


async def test_missing_key() -> None:
    fake = FakeNewsApi()
    with pytest.raises(ConnectorError) as caught:
        await tools_for(fake, secrets={})["news_search"].func(query="x")
    assert caught.value.message == "Connect NewsAPI first: python main.py connect news"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "apiKeyInvalid"), (401, "apiKeyMissing"), (401, "apiKeyDisabled"), (403, "")],
)
async def test_rejected_key(status: int, code: str) -> None:
    reply = newsapi_error(
        status, code, f"Your API key {KEY} is invalid or incorrect. Check your key."
    )
    with pytest.raises(ConnectorError) as caught:
        await headlines(FakeNewsApi(lambda _r: reply))
    assert caught.value.message == (
        "NewsAPI didn't accept your API key. Check it with: python main.py connect news"
    )


async def test_rejected_key_without_a_json_body() -> None:
    reply = httpx.Response(401, text="Unauthorized")
    with pytest.raises(ConnectorError, match=r"didn't accept your API key"):
        await headlines(FakeNewsApi(lambda _r: reply))


@pytest.mark.parametrize("code", ["rateLimited", "apiKeyExhausted"])
async def test_rate_limit(code: str) -> None:
    reply = newsapi_error(
        429, code, "You have made too many requests recently. Developer accounts are limited."
    )
    with pytest.raises(ConnectorError) as caught:
        await headlines(FakeNewsApi(lambda _r: reply))
    assert caught.value.message == (
        "NewsAPI says your key has made too many requests; try again later."
    )
    assert caught.value.retryable and caught.value.status == 429


async def test_parameter_error_message_is_relayed_without_the_key() -> None:
    reply = newsapi_error(
        400, "parameterInvalid", f"You've included a parameter ({KEY}) that isn't supported."
    )
    with pytest.raises(ConnectorError) as caught:
        await headlines(FakeNewsApi(lambda _r: reply))
    assert caught.value.message == (
        "NewsAPI couldn't do that: You've included a parameter ([key]) that isn't supported."
    )
    assert KEY not in caught.value.message


@pytest.mark.parametrize(
    "reply",
    [
        newsapi_error(500, "unexpectedError", "This shouldn't happen."),
        httpx.Response(503, text="<html>Service Unavailable</html>"),
    ],
    ids=["documented-500", "html-503"],
)
async def test_server_errors(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await headlines(FakeNewsApi(lambda _r: reply))
    assert caught.value.message in (
        "NewsAPI is having trouble right now.",
        "NewsAPI is having trouble right now (HTTP 503).",
    )
    assert caught.value.retryable


async def test_timeout() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(ConnectorError) as caught:
        await headlines(FakeNewsApi(hang))
    assert caught.value.message == "NewsAPI did not answer in time."


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, json={"status": "ok"}),
        httpx.Response(200, json={"status": "ok", "articles": {"0": "x"}}),
        httpx.Response(200, json={"status": "ok", "articles": [{"source": {}}]}),
        httpx.Response(200, json=["ok"]),
    ],
    ids=["text", "no-articles", "articles-object", "article-without-title", "array"],
)
async def test_malformed(reply: httpx.Response) -> None:
    with pytest.raises(ConnectorError) as caught:
        await headlines(FakeNewsApi(lambda _r: reply))
    assert caught.value.message == "NewsAPI sent news I couldn't read."


# ---------------------------------------------------------------- helpers and wiring


def test_topic_and_country_words() -> None:
    assert category_for("Sport") == "sports"
    assert category_for("  technology ") == "technology"
    assert category_for("elections") is None
    assert country_code("U.S.A.") == "us"
    assert country_code("GB") == "gb"


def test_schemas_progress_and_metadata() -> None:
    tools = tools_for(FakeNewsApi())
    assert sorted(tools) == ["news_headlines", "news_search"]
    schema = function_tool(tools["news_search"].func).params_json_schema
    assert sorted(schema["properties"]) == ["days", "query"]
    assert render_progress(tools["news_search"].progress, {"query": "Mars"}) == (
        "Searching the news for Mars..."
    )
    assert CONNECTOR.requires_secrets == ("newsapi",)
    assert "newsapi.org" in CONNECTOR.key_help
    assert not any(tool.side_effect for tool in tools.values())
