"""Which provider, which endpoints, which client: the inputs of every OAuth call.

``ProviderConfig`` is the services-side view of a connector's ``OAuthSpec`` (services may not
import connectors, so the spec is read structurally through ``ProviderSpecLike``). Several
connectors can share one provider (Gmail, Calendar and Drive are all "google"): ``merge``
joins their scopes so one sign-in covers them all. Endpoint URLs can be overridden by the
settings keys ``<provider>_authorize``, ``<provider>_token`` and ``<provider>_revoke``
(test servers, self-hosted identity providers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from src.services.oauth_errors import NotConnected

TOKEN_SECRET_PREFIX = "oauth."


class ProviderSpecLike(Protocol):
    """What an ``OAuthSpec`` (src.connectors.base) looks like from here."""

    @property
    def provider(self) -> str: ...
    @property
    def authorize_url(self) -> str: ...
    @property
    def token_url(self) -> str: ...
    @property
    def scopes(self) -> tuple[str, ...]: ...
    @property
    def revoke_url(self) -> str | None: ...
    @property
    def client_id_secret(self) -> str: ...
    @property
    def client_secret_secret(self) -> str: ...
    @property
    def extra_authorize_params(self) -> tuple[tuple[str, str], ...]: ...


class SecretReader(Protocol):
    def get(self, name: str) -> str | None: ...


def token_secret_name(provider: str) -> str:
    """Where a provider's tokens are stored: ``oauth.<provider>``."""
    return f"{TOKEN_SECRET_PREFIX}{provider}"


def connect_command(provider: str) -> str:
    """The command that (re)connects a provider, for messages."""
    return f"python main.py connect {provider}"


@dataclass(frozen=True)
class ProviderConfig:
    """One OAuth provider as a native app uses it (RFC 8252), endpoints already resolved."""

    provider: str
    title: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    revoke_url: str | None = None
    client_id_secret: str = ""
    client_secret_secret: str = ""
    extra_authorize_params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_spec(
        cls,
        spec: ProviderSpecLike,
        endpoints: Mapping[str, str] | None = None,
        *,
        title: str = "",
    ) -> ProviderConfig:
        return cls.merge([spec], endpoints, title=title)

    @classmethod
    def merge(
        cls,
        specs: Iterable[ProviderSpecLike],
        endpoints: Mapping[str, str] | None = None,
        *,
        title: str = "",
    ) -> ProviderConfig:
        """One config for connectors sharing a provider: the first spec's URLs, all scopes."""
        specs = list(specs)
        if not specs:
            raise ValueError("at least one OAuth spec is needed")
        first = specs[0]
        if any(s.provider != first.provider for s in specs):
            raise ValueError("OAuth specs of different providers cannot be merged")
        scopes = tuple(dict.fromkeys(scope for s in specs for scope in s.scopes))
        overrides = endpoints or {}

        def url(kind: str, default: str) -> str:
            return overrides.get(f"{first.provider}_{kind}", default).rstrip("/")

        revoke = overrides.get(f"{first.provider}_revoke") or first.revoke_url
        return cls(
            provider=first.provider,
            title=title or first.provider.replace("_", " ").title(),
            authorize_url=url("authorize", first.authorize_url),
            token_url=url("token", first.token_url),
            scopes=scopes,
            revoke_url=revoke.rstrip("/") if revoke else None,
            client_id_secret=first.client_id_secret,
            client_secret_secret=first.client_secret_secret,
            extra_authorize_params=first.extra_authorize_params,
        )

    @property
    def token_secret(self) -> str:
        return token_secret_name(self.provider)

    @property
    def reconnect_hint(self) -> str:
        return connect_command(self.provider)


@dataclass(frozen=True)
class ClientCredentials:
    """The user's own OAuth client: an id and, for providers that want one, a secret.

    Installed apps cannot keep a client secret confidential (RFC 8252 section 8.5); some
    providers (Google) still expect it at the token endpoint, so it is sent when stored.
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)

    def form(self) -> dict[str, str]:
        """The client's parameters for a token or revocation request body."""
        fields = {"client_id": self.client_id}
        if self.client_secret:
            fields["client_secret"] = self.client_secret
        return fields


def client_credentials(secrets: SecretReader | None, config: ProviderConfig) -> ClientCredentials:
    """The stored client id (and secret); ``NotConnected`` when there is no client id."""
    client_id = (
        secrets.get(config.client_id_secret) if secrets and config.client_id_secret else None
    )
    if not client_id:
        raise NotConnected(
            f"Connect {config.title} first: {config.reconnect_hint}", error_code="no_client_id"
        )
    secret = None
    if secrets is not None and config.client_secret_secret:
        secret = secrets.get(config.client_secret_secret) or None
    return ClientCredentials(client_id=client_id, client_secret=secret)
