"""How a connector's tools get OAuth bearer tokens from the ``ConnectorContext``.

``ConnectorContext`` carries the secrets store and the shared HTTP client, which is all that
``OAuthTokens`` needs; this module builds it from a connector's ``OAuthSpec`` (endpoint
overrides from settings included, e.g. ``google_token`` for a test server) and maps the
services-level ``OAuthError`` to the ``ConnectorError`` sentences tools return.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from src.connectors.base import ConnectorContext, ConnectorError, OAuthSpec, not_connected
from src.services.oauth import NotConnected, OAuthError, OAuthTokens, ProviderConfig


def _clock(settings: object) -> Callable[[], float] | None:
    """The injectable ``settings.now`` (a datetime clock, as the clock connector uses)."""
    now = getattr(settings, "now", None)
    if not callable(now):
        return None

    def seconds() -> float:
        moment = now()
        return moment.timestamp() if isinstance(moment, datetime) else float(moment)

    return seconds


def oauth_tokens(ctx: ConnectorContext, spec: OAuthSpec, *, title: str) -> OAuthTokens:
    """Bearer tokens for ``spec.provider``, stored under ``oauth.<provider>``."""
    config = ProviderConfig.from_spec(spec, ctx.endpoints, title=title)
    clock = _clock(ctx.settings)
    if clock is None:
        return OAuthTokens(config, ctx.secrets, ctx.http)
    return OAuthTokens(config, ctx.secrets, ctx.http, clock=clock)


def oauth_failure(exc: OAuthError, title: str, name: str) -> ConnectorError:
    """The sentence for a token problem: connect first, connect again, or try later."""
    if isinstance(exc, NotConnected):
        return not_connected(title, name)
    return ConnectorError(exc.message, retryable=exc.retryable, status=exc.status)
