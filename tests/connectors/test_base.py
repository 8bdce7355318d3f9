"""The shared connector plumbing: progress templates, error sentences, JSON requests."""

from __future__ import annotations

import httpx
import pytest

from src.connectors.base import (
    ConnectorContext,
    ConnectorError,
    render_progress,
    request_json,
    require_secret,
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


def test_a_missing_key_says_how_to_connect() -> None:
    class NoSecrets:
        def get(self, name: str) -> str | None:
            return None

    ctx = ConnectorContext(http=httpx.AsyncClient(), secrets=NoSecrets())
    with pytest.raises(ConnectorError) as err:
        require_secret(ctx, "finnhub", "Finnhub", "stocks")
    assert err.value.message == "Connect Finnhub first: python main.py connect stocks"
