"""Stored tokens and the bearer header for API calls, refreshed before they expire.

Tokens live in the secrets store as JSON under ``oauth.<provider>`` (see ``TokenSet``).
``OAuthTokens`` is what a connector holds: ``access_token_for_request()`` renews the access
token a little *before* it expires (a request never leaves with a token that dies in flight),
and ``request()`` retries once after a 401 with a forced refresh, because a provider may
revoke an access token early. Refreshes are serialised by a lock so parallel tool calls do
not each spend the refresh token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from src.services.oauth_config import (
    ClientCredentials,
    ProviderConfig,
    SecretReader,
    client_credentials,
)
from src.services.oauth_errors import NotConnected, ReconnectNeeded
from src.services.oauth_wire import TokenSet, refresh_tokens

log = logging.getLogger(__name__)

REFRESH_MARGIN_SECONDS = 60.0
"""Refresh when the access token has less than this left (clock skew, slow requests)."""

Clock = Callable[[], float]


class SecretVault(SecretReader, Protocol):
    """A secrets store that can also write (``SecretStore`` is one)."""

    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> bool: ...


def load_tokens(secrets: SecretReader | None, config: ProviderConfig) -> TokenSet | None:
    """The stored tokens, ``None`` if there are none; ``ReconnectNeeded`` if damaged."""
    raw = secrets.get(config.token_secret) if secrets is not None else None
    if not raw:
        return None
    try:
        return TokenSet.from_json(raw)
    except ValueError:
        raise ReconnectNeeded(
            f"The stored {config.title} sign-in is damaged; connect again: {config.reconnect_hint}"
        ) from None


def save_tokens(secrets: SecretReader | None, config: ProviderConfig, tokens: TokenSet) -> bool:
    """Store tokens if the store can write; ``False`` when it is read-only (kept in memory)."""
    setter = getattr(secrets, "set", None)
    if not callable(setter):
        return False
    setter(config.token_secret, tokens.to_json())
    return True


def forget_tokens(secrets: SecretVault, config: ProviderConfig) -> bool:
    """Delete the stored tokens; ``False`` if there were none."""
    return secrets.delete(config.token_secret)


class OAuthTokens:
    """Bearer tokens for one provider, loaded from the secrets store on first use."""

    def __init__(
        self,
        config: ProviderConfig,
        secrets: SecretReader | None,
        http: httpx.AsyncClient,
        *,
        clock: Clock = time.time,
        margin: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self.config = config
        self._secrets = secrets
        self._http = http
        self._clock = clock
        self._margin = margin
        self._tokens: TokenSet | None = None
        self._lock = asyncio.Lock()

    def _current(self) -> TokenSet:
        if self._tokens is None:
            self._tokens = load_tokens(self._secrets, self.config)
        if self._tokens is None:
            raise NotConnected(f"Connect {self.config.title} first: {self.config.reconnect_hint}")
        return self._tokens

    def _client(self) -> ClientCredentials:
        return client_credentials(self._secrets, self.config)

    async def access_token_for_request(self) -> str:
        """A usable access token, refreshed first if it expires within the margin."""
        async with self._lock:
            tokens = self._current()
            if tokens.expires_within(self._clock(), self._margin):
                tokens = await self._refresh(tokens)
            return tokens.access_token

    async def refresh_after_rejection(self, rejected: str) -> str:
        """A new access token after ``rejected`` got a 401 (unless another call renewed it)."""
        async with self._lock:
            tokens = self._current()
            if tokens.access_token != rejected:
                return tokens.access_token
            return (await self._refresh(tokens)).access_token

    async def _refresh(self, tokens: TokenSet) -> TokenSet:
        fresh = await refresh_tokens(
            self._http, self.config, self._client(), tokens, now=self._clock()
        )
        self._tokens = fresh
        if not save_tokens(self._secrets, self.config, fresh):
            log.debug("renewed %s tokens are kept in memory (read-only store)", self.config.title)
        return fresh

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send an authorised request; after a 401, refresh once and send it again.

        Only the ``Authorization`` header is added; network errors propagate as ``httpx``
        errors for the caller to word.
        """
        token = await self.access_token_for_request()
        response = await self._send(method, url, token, kwargs)
        if response.status_code != 401:
            return response
        log.info("%s answered 401; renewing the access token once", self.config.title)
        await response.aclose()
        token = await self.refresh_after_rejection(token)
        return await self._send(method, url, token, kwargs)

    async def _send(
        self, method: str, url: str, token: str, kwargs: dict[str, Any]
    ) -> httpx.Response:
        headers = dict(kwargs.get("headers") or {})
        headers["Authorization"] = f"Bearer {token}"
        return await self._http.request(method, url, **{**kwargs, "headers": headers})
