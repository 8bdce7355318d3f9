"""A fake of Google's APIs for ``httpx.MockTransport``: bearer checks, token refresh, routes.

Every API request must carry a live bearer token (else the documented 401 body); a
``refresh_token`` grant at ``oauth2.googleapis.com/token`` issues the next token. Routes answer
with payloads the tests take from Google's documented responses. ``google_context`` builds a
``ConnectorContext`` whose secrets store (the real encrypted-file backend) already holds a
connected Google account.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import httpx

from src.config.redaction import Redactor
from src.connectors.base import ConnectorContext, ToolDef
from src.services.oauth import TokenSet
from src.services.secrets import SecretStore, open_secret_store

NOW = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)  # Saturday, 09:30 in Paris
CLIENT_ID = "1234-hark.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-secret"
FIRST_TOKEN = "ya29.first-access-token"
REFRESH_TOKEN = "1//refresh-token-value"

Answer = dict[str, Any] | httpx.Response | Callable[[httpx.Request], httpx.Response]

UNAUTHENTICATED = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access "
        "token, login cookie or other valid authentication credential.",
        "errors": [
            {
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }
        ],
        "status": "UNAUTHENTICATED",
    }
}


def insufficient_scopes(service: str) -> httpx.Response:
    return httpx.Response(
        403,
        json={
            "error": {
                "code": 403,
                "message": "Request had insufficient authentication scopes.",
                "errors": [
                    {
                        "message": "Insufficient Permission",
                        "domain": "global",
                        "reason": "insufficientPermissions",
                    }
                ],
                "status": "PERMISSION_DENIED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                        "domain": "googleapis.com",
                        "metadata": {"service": service},
                    }
                ],
            }
        },
    )


def rate_limited() -> httpx.Response:
    return httpx.Response(
        429,
        json={
            "error": {
                "code": 429,
                "message": "Quota exceeded for quota metric 'Queries' and limit 'Queries per "
                "minute per user'.",
                "errors": [
                    {
                        "message": "Rate Limit Exceeded",
                        "domain": "usageLimits",
                        "reason": "rateLimitExceeded",
                    }
                ],
                "status": "RESOURCE_EXHAUSTED",
            }
        },
    )


def user_rate_limited_403() -> httpx.Response:
    """Drive and Calendar answer per-user rate limits with a 403."""
    return httpx.Response(
        403,
        json={
            "error": {
                "code": 403,
                "message": "User Rate Limit Exceeded",
                "errors": [
                    {
                        "domain": "usageLimits",
                        "reason": "userRateLimitExceeded",
                        "message": "User Rate Limit Exceeded",
                    }
                ],
            }
        },
    )


def not_found() -> httpx.Response:
    return httpx.Response(
        404,
        json={
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "errors": [{"message": "Not Found", "domain": "global", "reason": "notFound"}],
                "status": "NOT_FOUND",
            }
        },
    )


@dataclass
class Route:
    method: str
    path: re.Pattern[str]
    answer: Answer


class FakeGoogle:
    """Routes by method and path; checks the bearer token; serves refreshes."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.requests: list[httpx.Request] = []
        self.token_requests: list[dict[str, str]] = []
        self.live_tokens = {FIRST_TOKEN}
        self.refresh_answer: httpx.Response | None = None

    def on(self, method: str, path: str, answer: Answer) -> FakeGoogle:
        self.routes.insert(0, Route(method, re.compile(path + "$"), answer))
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return self._token(request)
        self.requests.append(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.live_tokens:
            return httpx.Response(401, json=UNAUTHENTICATED)
        for route in self.routes:
            if route.method == request.method and route.path.search(request.url.path):
                answer = route.answer
                if callable(answer):
                    return answer(request)
                if isinstance(answer, httpx.Response):
                    return answer
                return httpx.Response(200, json=answer)
        return not_found()

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        self.token_requests.append(form)
        if self.refresh_answer is not None:
            return self.refresh_answer
        ok = (
            form.get("grant_type") == "refresh_token"
            and form.get("refresh_token") == REFRESH_TOKEN
            and form.get("client_id") == CLIENT_ID
            and form.get("client_secret") == CLIENT_SECRET
        )
        if not ok:
            return httpx.Response(
                400, json={"error": "invalid_grant", "error_description": "Bad Request"}
            )
        fresh = f"ya29.renewed-{len(self.token_requests)}"
        self.live_tokens.add(fresh)
        return httpx.Response(
            200,
            json={
                "access_token": fresh,
                "expires_in": 3599,
                "scope": "https://www.googleapis.com/auth/gmail.readonly",
                "token_type": "Bearer",
            },
        )

    def revoke_first_token(self) -> None:
        """Google invalidated the access token early; Hark's copy still looks fresh."""
        self.live_tokens.discard(FIRST_TOKEN)

    def last(self, path_end: str) -> httpx.Request:
        matching = [r for r in self.requests if r.url.path.endswith(path_end)]
        assert matching, f"no request to {path_end}"
        return matching[-1]

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def connected_store(directory: Path, *, expires_in: float = 3600) -> SecretStore:
    """A real encrypted-file secrets store holding a connected Google account."""
    store = open_secret_store("file", directory / "secrets.bin", lambda: "pw", redactor=Redactor())
    store.set("google.client_id", CLIENT_ID)
    store.set("google.client_secret", CLIENT_SECRET)
    tokens = TokenSet(
        access_token=FIRST_TOKEN,
        refresh_token=REFRESH_TOKEN,
        expires_at=NOW.timestamp() + expires_in,
        scope="https://www.googleapis.com/auth/gmail.readonly",
    )
    store.set("oauth.google", tokens.to_json())
    return store


def google_context(
    fake: FakeGoogle,
    store: SecretStore | None,
    *,
    timezone: str = "Europe/Paris",
    endpoints: dict[str, str] | None = None,
) -> ConnectorContext:
    settings = SimpleNamespace(now=lambda: NOW, timezone=timezone)
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake))
    return ConnectorContext(http=http, settings=settings, secrets=store, endpoints=endpoints or {})


def tools(build: Callable[[ConnectorContext], Any], ctx: ConnectorContext) -> dict[str, ToolDef]:
    return {tool.name: tool for tool in build(ctx)}
