"""The token endpoint (RFC 6749 sections 4.1.3, 5 and 6) and revocation (RFC 7009).

``TokenSet`` is what a provider granted, in the JSON form stored under ``oauth.<provider>``.
The functions here are the only code that speaks to a provider's token and revocation
endpoints; every failure leaves as an ``OAuthError`` sentence, with the provider's ``error``
code kept in ``error_code`` so callers can tell ``invalid_grant`` (reconnect) from a network
hiccup (retry). Token values are registered with the log redactor as soon as they arrive.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import httpx

from src.config.redaction import REDACTOR
from src.services.oauth_config import ClientCredentials, ProviderConfig
from src.services.oauth_errors import OAuthError, ReconnectNeeded

log = logging.getLogger(__name__)

TOKEN_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_DESCRIPTION_CHARS = 200


@dataclass(frozen=True)
class TokenSet:
    """Granted tokens; ``expires_at`` is a Unix time in seconds (``None``: not said)."""

    access_token: str = field(repr=False)
    token_type: str = "Bearer"
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    scope: str = ""

    def expires_within(self, now: float, margin: float) -> bool:
        """True when the access token is expired or will be within ``margin`` seconds."""
        return self.expires_at is not None and self.expires_at - margin <= now

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        """Parse the stored form; ``ValueError`` if it is not a token set."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ValueError("not a token set")
        expires_at = data.get("expires_at")
        refresh = data.get("refresh_token")
        tokens = cls(
            access_token=data["access_token"],
            token_type=str(data.get("token_type") or "Bearer"),
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=float(expires_at) if isinstance(expires_at, int | float) else None,
            scope=str(data.get("scope") or ""),
        )
        tokens.remember()
        return tokens

    @classmethod
    def from_response(
        cls, payload: Mapping[str, Any], now: float, previous: TokenSet | None = None
    ) -> TokenSet:
        """Tokens from a token-endpoint answer (RFC 6749 section 5.1).

        A refresh answer often omits ``refresh_token`` and ``scope``: the previous ones stay.
        """
        access = payload.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("no access_token")
        token_type = payload.get("token_type") or "Bearer"
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise ValueError("unsupported token_type")
        expires_in = payload.get("expires_in")
        if isinstance(expires_in, str) and expires_in.isdigit():
            expires_in = int(expires_in)
        refresh = payload.get("refresh_token")
        scope = payload.get("scope")
        tokens = cls(
            access_token=access,
            token_type="Bearer",
            refresh_token=refresh
            if isinstance(refresh, str) and refresh
            else (previous.refresh_token if previous else None),
            expires_at=now + float(expires_in) if isinstance(expires_in, int | float) else None,
            scope=scope if isinstance(scope, str) else (previous.scope if previous else ""),
        )
        tokens.remember()
        return tokens

    def remember(self) -> None:
        """Register the token values with the log redactor so they can never be logged."""
        REDACTOR.add(self.access_token)
        if self.refresh_token:
            REDACTOR.add(self.refresh_token)

    def without_access(self) -> TokenSet:
        """The same grant with the access token marked expired (after a 401)."""
        return replace(self, expires_at=0.0)


async def exchange_code(
    http: httpx.AsyncClient,
    config: ProviderConfig,
    client: ClientCredentials,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    now: float,
) -> TokenSet:
    """Trade an authorization code and its PKCE verifier for tokens (RFC 7636 section 4.5)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
        **client.form(),
    }
    payload = await _post_token(http, config, form, refreshing=False)
    return _tokens(config, payload, now, None)


async def refresh_tokens(
    http: httpx.AsyncClient,
    config: ProviderConfig,
    client: ClientCredentials,
    tokens: TokenSet,
    *,
    now: float,
) -> TokenSet:
    """A fresh access token from the refresh token (RFC 6749 section 6)."""
    if not tokens.refresh_token:
        raise ReconnectNeeded(
            f"Your {config.title} sign-in has expired and cannot be renewed; connect again: "
            f"{config.reconnect_hint}",
            error_code="no_refresh_token",
        )
    form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, **client.form()}
    payload = await _post_token(http, config, form, refreshing=True)
    return _tokens(config, payload, now, tokens)


async def revoke_token(
    http: httpx.AsyncClient,
    config: ProviderConfig,
    client: ClientCredentials | None,
    token: str,
    *,
    hint: str,
) -> None:
    """Ask the provider to revoke a token (RFC 7009); an already-invalid token counts as done.

    RFC 7009 section 2.2 answers 200 for an unknown token; some providers (Google) answer 400
    ``invalid_token`` instead, which means the same: the token no longer works.
    """
    if not config.revoke_url:
        raise OAuthError(f"{config.title} has no revocation endpoint.")
    form = {"token": token, "token_type_hint": hint, **(client.form() if client else {})}
    try:
        response = await http.post(config.revoke_url, data=form, timeout=TOKEN_TIMEOUT)
    except httpx.HTTPError as exc:
        raise _network_error(config, exc) from exc
    if response.is_success:
        return
    code, description = _error_fields(response)
    if response.status_code == 400 and code in ("invalid_token", "invalid_grant"):
        return
    if response.status_code >= 500:
        raise OAuthError(
            f"{config.title}'s sign-in service is having trouble (HTTP {response.status_code}).",
            retryable=True,
            status=response.status_code,
        )
    raise OAuthError(
        f"{config.title} did not revoke Hark's access: {_reason(code, description, response)}.",
        status=response.status_code,
        error_code=code,
    )


def _tokens(
    config: ProviderConfig, payload: Mapping[str, Any], now: float, previous: TokenSet | None
) -> TokenSet:
    try:
        return TokenSet.from_response(payload, now, previous)
    except ValueError as exc:
        raise _unreadable(config) from exc


async def _post_token(
    http: httpx.AsyncClient, config: ProviderConfig, form: dict[str, str], *, refreshing: bool
) -> dict[str, Any]:
    try:
        response = await http.post(
            config.token_url,
            data=form,
            headers={"Accept": "application/json"},
            timeout=TOKEN_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise _network_error(config, exc) from exc
    if response.is_success:
        try:
            payload = response.json()
        except ValueError as exc:
            raise _unreadable(config) from exc
        if not isinstance(payload, dict):
            raise _unreadable(config)
        return payload
    status = response.status_code
    if status >= 500:
        raise OAuthError(
            f"{config.title}'s sign-in service is having trouble (HTTP {status}); "
            "try again in a moment.",
            retryable=True,
            status=status,
        )
    code, description = _error_fields(response)
    log.info(
        "%s token endpoint refused a %s request: %s",
        config.title,
        "refresh" if refreshing else "code",
        code or status,
    )
    if refreshing and code == "invalid_grant":
        raise ReconnectNeeded(
            f"Your {config.title} sign-in has expired or was revoked; connect again: "
            f"{config.reconnect_hint}",
            status=status,
            error_code=code,
        )
    if code == "invalid_client":
        raise OAuthError(
            f"{config.title} does not accept the stored OAuth client "
            f"({_reason(code, description, response)}); check {config.client_id_secret} and "
            f"connect again: {config.reconnect_hint}",
            status=status,
            error_code=code,
        )
    action = "renew Hark's access" if refreshing else "complete the sign-in"
    raise OAuthError(
        f"{config.title} refused to {action}: {_reason(code, description, response)}.",
        status=status,
        error_code=code,
    )


def _error_fields(response: httpx.Response) -> tuple[str | None, str | None]:
    """The RFC 6749 section 5.2 ``error`` and ``error_description`` of an error answer."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code = body.get("error")
    description = body.get("error_description")
    return (
        code if isinstance(code, str) and code else None,
        description[:MAX_DESCRIPTION_CHARS] if isinstance(description, str) else None,
    )


def _reason(code: str | None, description: str | None, response: httpx.Response) -> str:
    if description and code:
        return f"{description.rstrip('.')} ({code})"
    return description or code or f"HTTP {response.status_code}"


def _network_error(config: ProviderConfig, exc: httpx.HTTPError) -> OAuthError:
    if isinstance(exc, httpx.TimeoutException):
        return OAuthError(
            f"{config.title}'s sign-in service did not answer in time.", retryable=True
        )
    return OAuthError(f"Could not reach {config.title}'s sign-in service.", retryable=True)


def _unreadable(config: ProviderConfig) -> OAuthError:
    return OAuthError(
        f"{config.title}'s sign-in service sent an answer Hark couldn't read.", retryable=True
    )
