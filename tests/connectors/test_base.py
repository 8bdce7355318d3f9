"""The shared connector plumbing: progress templates, error sentences, JSON requests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from src.connectors.base import (
    ConnectorContext,
    ConnectorError,
    body_object,
    hide_secret,
    key_refused,
    rate_limited,
    render_progress,
    request_json,
    require_secret,
    trim,
)


def client(handler: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_progress_templates_fill_from_arguments() -> None:
    assert render_progress("Checking {location}...", {"location": "Oslo"}) == "Checking Oslo..."
    assert render_progress("Checking {location}...", {}) == "Checking …..."
    assert render_progress("Broken {", {"x": 1}) == "Broken {"


async def test_request_json_returns_the_object_and_sends_what_it_is_given() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    payload = await request_json(
        client(handler),
        "Svc",
        "GET",
        "https://x.test/a",
        params={"q": "tea"},
        headers={"X-Key": "k"},
    )
    assert payload == {"ok": True}
    assert seen[0].url.params["q"] == "tea" and seen[0].headers["X-Key"] == "k"


@pytest.mark.parametrize(
    ("status", "body", "sentence", "retryable"),
    [
        (401, {}, "Svc refused the request (not authorised).", False),
        (429, {}, "Svc is rate-limiting requests; try again in a minute.", True),
        (503, {}, "Svc is having trouble right now (HTTP 503).", True),
        (400, {"message": "bad date"}, "Svc couldn't answer that: bad date", False),
        (404, {}, "Svc rejected the request (HTTP 404).", False),
        (200, ["not", "an", "object"], "Svc sent an answer I couldn't read.", True),
    ],
)
async def test_request_json_failures_are_sentences(
    status: int, body: object, sentence: str, retryable: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    def reason(response: httpx.Response) -> str | None:
        data = response.json()
        return data.get("message") if isinstance(data, dict) else None

    with pytest.raises(ConnectorError) as err:
        await request_json(client(handler), "Svc", "GET", "https://x.test/", reason=reason)
    assert err.value.message == sentence and err.value.retryable == retryable


async def test_request_json_timeouts_and_garbage() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(ConnectorError, match="did not answer in time"):
        await request_json(client(slow), "Svc", "GET", "https://x.test/")

    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>")

    with pytest.raises(ConnectorError, match="Custom words"):
        await request_json(
            client(garbage), "Svc", "GET", "https://x.test/", malformed="Custom words."
        )


async def test_request_json_check_claims_a_response_before_the_status_does() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        status = int(request.url.params["status"])
        return httpx.Response(status, json={"fault": "QuotaViolation"})

    def check(response: httpx.Response) -> ConnectorError | None:
        if body_object(response).get("fault") == "QuotaViolation":
            return ConnectorError("Quota used up.", status=response.status_code)
        return None

    for status in (200, 401, 500):
        with pytest.raises(ConnectorError) as err:
            url = f"https://x.test/?status={status}"
            await request_json(client(handler), "Svc", "GET", url, check=check)
        assert (err.value.message, err.value.status) == ("Quota used up.", status)


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        (400, "Svc couldn't search that: bad date."),
        (404, "Svc rejected the request (HTTP 404)."),
    ],
)
async def test_request_json_words_the_reason_and_trusts_it_for_the_statuses_given(
    status: int, sentence: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"message": "bad date"})

    with pytest.raises(ConnectorError) as err:
        await request_json(
            client(handler),
            "Svc",
            "GET",
            "https://x.test/",
            reason=lambda response: body_object(response).get("message"),
            reason_statuses=(400,),
            refusal="{service} couldn't search that: {reason}.",
        )
    assert err.value.message == sentence and err.value.status == status


async def test_request_json_reads_a_list_when_asked_and_refuses_an_object() -> None:
    def listing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"name": "Oslo"}])

    assert await request_json(client(listing), "Svc", "GET", "https://x.test/", expect=list) == [
        {"name": "Oslo"}
    ]

    def an_object(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"error": None})

    with pytest.raises(ConnectorError, match="couldn't read"):
        await request_json(client(an_object), "Svc", "GET", "https://x.test/", expect=list)


async def test_request_json_raises_a_malformed_error_as_given() -> None:
    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, content=b"<html>")

    unsure = ConnectorError("It may have been sent; check before sending again.")
    with pytest.raises(ConnectorError) as err:
        await request_json(client(garbage), "Svc", "POST", "https://x.test/", malformed=unsure)
    assert err.value is unsure and not err.value.retryable


async def test_request_json_sends_through_a_requester_that_adds_auth() -> None:
    class Bearer:
        def __init__(self, http: httpx.AsyncClient) -> None:
            self.http = http

        async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
            return await self.http.request(method, url, headers={"Authorization": "Bearer t"})

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"auth": request.headers["Authorization"]})

    payload = await request_json(Bearer(client(handler)), "Svc", "GET", "https://x.test/")
    assert payload == {"auth": "Bearer t"}


def test_shared_sentences_and_text_helpers() -> None:
    assert key_refused("Yelp", "local_business", 401).message == (
        "Yelp didn't accept your API key. Reconnect it: python main.py connect local_business"
    )
    assert key_refused("NewsAPI", "news", 401, advice="Check it with").message == (
        "NewsAPI didn't accept your API key. Check it with: python main.py connect news"
    )
    waited = rate_limited("Slack", httpx.Response(429, headers={"Retry-After": "30"}))
    assert waited.message == "Slack is rate-limiting requests; try again in 30 seconds."
    assert waited.retryable and waited.status == 429
    assert rate_limited("Slack", httpx.Response(429)).message.endswith("try again in a minute.")
    assert hide_secret("bad key abc123", "abc123") == "bad key [key]"
    assert hide_secret("no key here", "") == "no key here"
    assert trim("one  two\nthree", 50) == "one two three"
    assert trim("a fairly long sentence, spoken aloud", 20) == "a fairly long…"
    assert body_object(httpx.Response(502, content=b"<html>")) == {}
    assert body_object(httpx.Response(400, json=["x"])) == {}


def test_a_missing_key_says_how_to_connect() -> None:
    class NoSecrets:
        def get(self, name: str) -> str | None:
            return None

    ctx = ConnectorContext(http=httpx.AsyncClient(), secrets=NoSecrets())
    with pytest.raises(ConnectorError) as err:
        require_secret(ctx, "finnhub", "Finnhub", "stocks")
    assert err.value.message == "Connect Finnhub first: python main.py connect stocks"
