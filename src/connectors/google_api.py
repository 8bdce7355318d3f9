"""What the Google connectors share: one OAuth provider and one way to call Google's APIs.

Gmail, Google Calendar and Google Drive are separate connectors with their own minimal
scopes, but one Google account: their ``OAuthSpec`` share ``provider="google"``, so
``python main.py connect google`` signs in once with the union of their scopes and the
tokens live under ``oauth.google``. ``GoogleApi`` adds the bearer token (renewed before it
expires, retried once after a 401) and turns Google's error JSON into sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from src.connectors.base import (
    ConnectorContext,
    ConnectorError,
    OAuthSpec,
    body_object,
    http_error_message,
    request_json,
    send,
)
from src.connectors.oauth_access import oauth_failure, oauth_tokens
from src.services.oauth import OAuthError, OAuthTokens

PROVIDER = "google"
TITLE = "Google"
AUTHORIZE_URL = "https://accounts.google.com/o/oauth2/v2/auth"
TOKEN_URL = "https://oauth2.googleapis.com/token"
REVOKE_URL = "https://oauth2.googleapis.com/revoke"
REQUEST_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_MESSAGE_CHARS = 200

KEY_HELP = (
    "Hark signs in to Google with your own OAuth client. In the Google Cloud console "
    "(https://console.cloud.google.com/apis/credentials) create an OAuth client ID of type "
    "'Desktop app', enable the Gmail, Google Calendar and Google Drive APIs for the project, "
    "and paste the client ID and client secret when asked."
)

_SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
_RATE_REASONS = frozenset(
    {
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "RATE_LIMIT_EXCEEDED",
        "quotaExceeded",
        "dailyLimitExceeded",
    }
)
_DISABLED_REASONS = frozenset({"accessNotConfigured", "SERVICE_DISABLED"})


def google_oauth(*scopes: str) -> OAuthSpec:
    """Google's installed-app OAuth endpoints with the given scopes.

    ``access_type=offline`` and ``prompt=consent`` make Google issue a refresh token on every
    connect, so Hark keeps working after the first hour even when the user re-connects.
    """
    return OAuthSpec(
        provider=PROVIDER,
        authorize_url=AUTHORIZE_URL,
        token_url=TOKEN_URL,
        scopes=scopes,
        revoke_url=REVOKE_URL,
        client_id_secret="google.client_id",
        client_secret_secret="google.client_secret",
        extra_authorize_params=(("access_type", "offline"), ("prompt", "consent")),
    )


class GoogleApi:
    """Authorised JSON and text calls to one Google API, failures as ``ConnectorError``."""

    def __init__(self, ctx: ConnectorContext, spec: OAuthSpec, service: str) -> None:
        self.service = service
        self._signed_in = _SignedIn(oauth_tokens(ctx, spec, title=TITLE))

    async def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return await self._json("GET", url, params=params)

    async def post_json(
        self, url: str, body: Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self._json("POST", url, json=body, params=params)

    async def get_text(self, url: str, params: Mapping[str, Any] | None = None) -> str:
        """A text body (an export or a plain-text file), decoded as the server says."""
        response = await send(
            self._signed_in, self.service, "GET", url, params=params, timeout=REQUEST_TIMEOUT
        )
        refused = self._refusal(response)
        if refused is not None:
            raise refused
        text = response.text
        return text.removeprefix("\ufeff")

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        return await request_json(
            self._signed_in,
            self.service,
            method,
            url,
            timeout=REQUEST_TIMEOUT,
            check=self._refusal,
            malformed=unreadable(self.service),
            **kwargs,
        )

    def _refusal(self, response: httpx.Response) -> ConnectorError | None:
        """Every unsuccessful answer is Google's to explain (see ``google_error``)."""
        return None if response.is_success else google_error(self.service, response)


class _SignedIn:
    """``OAuthTokens`` as a ``Requester`` whose token problems are already sentences."""

    def __init__(self, tokens: OAuthTokens) -> None:
        self._tokens = tokens

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._tokens.request(method, url, **kwargs)
        except OAuthError as exc:
            raise oauth_failure(exc, TITLE, PROVIDER) from exc


def unreadable(service: str) -> ConnectorError:
    return ConnectorError(f"{service} sent an answer I couldn't read.", retryable=True)


def _error_details(response: httpx.Response) -> tuple[set[str], str]:
    """The reasons and message of Google's error JSON (``{"error": {...}}``)."""
    error = body_object(response).get("error")
    if not isinstance(error, dict):
        return set(), ""
    reasons: set[str] = set()
    for item in error.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("reason"), str):
            reasons.add(item["reason"])
    for item in error.get("details") or []:
        if isinstance(item, dict) and isinstance(item.get("reason"), str):
            reasons.add(item["reason"])
    if isinstance(error.get("status"), str):
        reasons.add(error["status"])
    message = error.get("message")
    return reasons, message[:MAX_MESSAGE_CHARS].rstrip(".") if isinstance(message, str) else ""


def google_error(service: str, response: httpx.Response) -> ConnectorError:
    """Google's error answer as a sentence, marking what is worth retrying."""
    status = response.status_code
    reasons, message = _error_details(response)
    reconnect = f"python main.py connect {PROVIDER}"
    if status == 401:
        return ConnectorError(
            f"Google no longer accepts Hark's sign-in; connect again: {reconnect}", status=status
        )
    if reasons & _RATE_REASONS or status == 429:
        return ConnectorError(
            f"{service} is rate-limiting requests; try again in a minute.",
            retryable=True,
            status=status,
        )
    if status == 403 and reasons & _SCOPE_REASONS:
        return ConnectorError(
            f"Hark isn't allowed to use {service} with your Google account. Connect again "
            f"and allow {service} access: {reconnect}",
            status=status,
        )
    if status == 403 and reasons & _DISABLED_REASONS:
        return ConnectorError(
            f"The {service} API is not enabled for your Google Cloud project; enable it in "
            "the Google Cloud console and try again.",
            status=status,
        )
    if status == 404:
        return ConnectorError(
            f"{service} couldn't find that; it may have been deleted, or the id is wrong.",
            status=status,
        )
    if status in (400, 403) and message:
        verb = "rejected" if status == 400 else "refused"
        return ConnectorError(f"{service} {verb} the request: {message}.", status=status)
    return http_error_message(
        service, httpx.HTTPStatusError("", request=response.request, response=response)
    )
