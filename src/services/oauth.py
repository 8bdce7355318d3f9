"""OAuth 2.0 for native apps (RFC 8252): connect by browser, call APIs, disconnect.

``authorize`` runs the authorization-code flow with PKCE S256 (RFC 7636): a one-shot loopback
listener on ``127.0.0.1`` and an OS-chosen port receives the redirect, a random ``state`` is
checked before anything else (a mismatch stops the flow with no token request), the code is
exchanged at the token endpoint, and the tokens are stored under ``oauth.<provider>``. The
system browser is opened through an injectable ``opener`` (``webbrowser.open`` by default)
and the URL is also announced, so a user on a machine without a browser can paste it.

``disconnect`` revokes the grant (RFC 7009) and deletes the stored tokens. ``OAuthTokens``
(from ``oauth_tokens``) gives connectors a bearer token that is renewed before it expires.

The submodules: ``oauth_pkce`` (verifier, challenge, state), ``oauth_loopback`` (the
listener), ``oauth_config`` (provider and client), ``oauth_wire`` (token and revocation
endpoints), ``oauth_tokens`` (storage and refresh), ``oauth_errors`` (the exception tree).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from src.services.oauth_config import (
    ClientCredentials,
    ProviderConfig,
    ProviderSpecLike,
    SecretReader,
    client_credentials,
    connect_command,
    token_secret_name,
)
from src.services.oauth_errors import (
    AuthorizationDenied,
    AuthorizationTimeout,
    NotConnected,
    OAuthError,
    ReconnectNeeded,
    StateMismatch,
)
from src.services.oauth_loopback import LoopbackRedirect
from src.services.oauth_pkce import Pkce, new_state
from src.services.oauth_tokens import (
    OAuthTokens,
    SecretVault,
    forget_tokens,
    load_tokens,
    save_tokens,
)
from src.services.oauth_wire import TokenSet, exchange_code, revoke_token

__all__ = [
    "AuthorizationDenied",
    "AuthorizationTimeout",
    "ClientCredentials",
    "DisconnectResult",
    "NotConnected",
    "OAuthError",
    "OAuthTokens",
    "ProviderConfig",
    "ProviderSpecLike",
    "ReconnectNeeded",
    "SecretReader",
    "SecretVault",
    "StateMismatch",
    "TokenSet",
    "authorization_url",
    "authorize",
    "client_credentials",
    "connect_command",
    "disconnect",
    "load_tokens",
    "read_redirect",
    "token_secret_name",
]

log = logging.getLogger(__name__)

AUTHORIZE_TIMEOUT_SECONDS = 300.0
"""How long the flow waits for the user to finish in the browser."""
OPENER_GRACE_SECONDS = 5.0
"""How long to let the browser-opening thread finish once the redirect has come back."""

Opener = Callable[[str], object]
Announce = Callable[[str], None]


def authorization_url(
    config: ProviderConfig, client_id: str, redirect_uri: str, pkce: Pkce, state: str
) -> str:
    """The provider's authorization URL for this request (RFC 6749 4.1.1, RFC 7636 4.3)."""
    params = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", " ".join(config.scopes)),
        ("state", state),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", pkce.method),
        *config.extra_authorize_params,
    ]
    parts = urlsplit(config.authorize_url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params]
    return urlunsplit(parts._replace(query=urlencode(query)))


def read_redirect(params: dict[str, str], expected_state: str, config: ProviderConfig) -> str:
    """The authorization code from the redirect, after checking ``state`` first.

    The state is compared before the ``error`` or ``code`` is even looked at: an answer that
    is not for this request must not influence anything.
    """
    state = params.get("state", "")
    if not secrets.compare_digest(state.encode(), expected_state.encode()):
        raise StateMismatch(
            "The answer that came back from the browser was not for this sign-in (its state "
            "did not match), so Hark did not use it. Nothing was connected; try again."
        )
    error = params.get("error")
    if error:
        if error == "access_denied":
            raise AuthorizationDenied(
                f"You did not allow Hark to use your {config.title} account, so nothing was "
                "connected.",
                error_code=error,
            )
        description = params.get("error_description", "")[:200].rstrip(".")
        reason = f"{description} ({error})" if description else error
        raise AuthorizationDenied(
            f"{config.title} refused the sign-in: {reason}.", error_code=error
        )
    code = params.get("code")
    if not code:
        raise OAuthError(f"{config.title} sent no authorization code back; nothing was connected.")
    return code


async def authorize(
    config: ProviderConfig,
    client: ClientCredentials,
    http: httpx.AsyncClient,
    secrets_store: SecretVault,
    *,
    opener: Opener = webbrowser.open,
    announce: Announce = print,
    timeout: float = AUTHORIZE_TIMEOUT_SECONDS,
    clock: Callable[[], float] = time.time,
) -> TokenSet:
    """Run the browser flow and store the tokens; ``OAuthError`` says what went wrong.

    ``opener`` runs on a worker thread (``webbrowser.open`` may block, and a test's scripted
    browser makes real HTTP requests back into this event loop).
    """
    pkce = Pkce.new()
    state = new_state()
    async with LoopbackRedirect() as listener:
        url = authorization_url(config, client.client_id, listener.redirect_uri, pkce, state)
        announce(url)
        opening = asyncio.create_task(asyncio.to_thread(opener, url), name="oauth-open-browser")
        opening.add_done_callback(_report_opener)
        try:
            params = await listener.wait(timeout)
            code = read_redirect(params, state, config)
            tokens = await exchange_code(
                http,
                config,
                client,
                code=code,
                code_verifier=pkce.verifier,
                redirect_uri=listener.redirect_uri,
                now=clock(),
            )
        except OAuthError as exc:
            listener.finish(False, exc.message)
            raise
        listener.finish(True, f"Hark is connected to {config.title}. You can close this tab.")
        await asyncio.wait({opening}, timeout=OPENER_GRACE_SECONDS)
    save_tokens(secrets_store, config, tokens)
    log.info("connected %s (scopes: %s)", config.title, tokens.scope or "as requested")
    return tokens


def _report_opener(task: asyncio.Future[object]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.info("could not open a browser: %s", type(exc).__name__)


@dataclass(frozen=True)
class DisconnectResult:
    """What ``disconnect`` did: whether there was anything, and whether the provider agreed."""

    had_tokens: bool
    revoked: bool
    problem: str = ""


async def disconnect(
    config: ProviderConfig, http: httpx.AsyncClient, secrets_store: SecretVault
) -> DisconnectResult:
    """Revoke the grant at the provider (RFC 7009), then delete the stored tokens.

    The local tokens are deleted even when revocation fails: the user asked Hark to let go,
    and ``problem`` says what to do about the provider's side.
    """
    try:
        tokens = load_tokens(secrets_store, config)
    except ReconnectNeeded:
        forget_tokens(secrets_store, config)
        return DisconnectResult(
            had_tokens=True, revoked=False, problem="the stored tokens were damaged"
        )
    if tokens is None:
        return DisconnectResult(had_tokens=False, revoked=False)
    problem = ""
    revoked = False
    if config.revoke_url:
        try:
            client: ClientCredentials | None = client_credentials(secrets_store, config)
        except NotConnected:
            client = None
        token, hint = (
            (tokens.refresh_token, "refresh_token")
            if tokens.refresh_token
            else (tokens.access_token, "access_token")
        )
        try:
            await revoke_token(http, config, client, token, hint=hint)
            revoked = True
        except OAuthError as exc:
            problem = exc.message
    else:
        problem = f"{config.title} offers no way to revoke access from here"
    forget_tokens(secrets_store, config)
    return DisconnectResult(had_tokens=True, revoked=revoked, problem=problem)
