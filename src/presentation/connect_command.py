"""``hark connect NAME``, ``hark disconnect NAME`` and ``hark connections``.

Connectors arrive as plain data (anything with ``name``, ``title``, ``requires_secrets``,
``key_help`` and ``oauth``), so this front end never imports ``src.connectors``. An API-key
connector asks for each key with a hidden prompt (or reads stdin when piped); an OAuth
connector asks for the user's own OAuth client id (and secret) the first time, then runs the
browser sign-in. Connectors that share an OAuth provider share one account, so
``connect google``, ``connect gmail`` and ``connect google_drive`` all sign in to Google once,
for all of them, with the union of their scopes.

Exit codes, as the rest of the CLI: 0 done, 1 the sign-in or revocation failed, 2 bad usage
(unknown name, nothing typed). Secrets-store failures are left to ``main`` (exit 3).
"""

from __future__ import annotations

import contextlib
import getpass
import sys
import webbrowser
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Protocol, TextIO

import httpx

from src.services.oauth import (
    ClientCredentials,
    OAuthError,
    ProviderConfig,
    ProviderSpecLike,
    authorize,
    load_tokens,
)
from src.services.oauth import connect_command as connect_hint
from src.services.oauth import disconnect as revoke_and_forget

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
AUTHORIZE_TIMEOUT_SECONDS = 300.0
HTTP_TIMEOUT = httpx.Timeout(15.0, connect=5.0)

Opener = Callable[[str], object]


class ConnectorInfo(Protocol):
    """The plain data this command needs about a connector."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def requires_secrets(self) -> tuple[str, ...]: ...
    @property
    def key_help(self) -> str: ...
    @property
    def oauth(self) -> ProviderSpecLike | None: ...


class SecretStoreLike(Protocol):
    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> bool: ...
    def names(self) -> list[str]: ...
    def describe(self) -> str: ...


def read_value(label: str, stdin: TextIO | None = None) -> str:
    """One value: a hidden prompt on a terminal, one line of stdin when piped."""
    stream = stdin or sys.stdin
    if stream.isatty():
        return getpass.getpass(f"{label} (input hidden): ").strip()
    return stream.readline().strip()


def resolve(name: str, connectors: Sequence[ConnectorInfo]) -> list[ConnectorInfo]:
    """The connectors ``name`` refers to: one, or all that share its OAuth provider."""
    wanted = name.strip().lower()
    named = next((c for c in connectors if c.name == wanted), None)
    provider = named.oauth.provider if named is not None and named.oauth else wanted
    sharing = [c for c in connectors if c.oauth is not None and c.oauth.provider == provider]
    if sharing and (named is None or named.oauth is not None):
        return sharing
    return [named] if named is not None else []


def _unknown(name: str, connectors: Sequence[ConnectorInfo], out: TextIO) -> int:
    names = sorted({c.name for c in connectors} | {c.oauth.provider for c in connectors if c.oauth})
    out.write(f"hark: no connector is called {name!r}. Choose one of: {', '.join(names)}\n")
    return EXIT_USAGE


def provider_config(
    group: Sequence[ConnectorInfo], endpoints: Mapping[str, str] | None
) -> ProviderConfig:
    return ProviderConfig.merge([c.oauth for c in group if c.oauth is not None], endpoints)


def _titles(group: Sequence[ConnectorInfo]) -> str:
    return ", ".join(c.title for c in group)


def status(connector: ConnectorInfo, store: SecretStoreLike) -> str:
    """``connected``, ``not connected`` or ``no account needed``."""
    if connector.oauth is not None:
        config = ProviderConfig.from_spec(connector.oauth)
        try:
            connected = load_tokens(store, config) is not None
        except OAuthError:
            connected = False
        return "connected" if connected else "not connected"
    if connector.requires_secrets:
        stored = all(store.get(secret) for secret in connector.requires_secrets)
        return "connected" if stored else "not connected"
    return "no account needed"


def connections(connectors: Sequence[ConnectorInfo], store: SecretStoreLike, out: TextIO) -> int:
    """List every connector with whether it is connected."""
    rows = sorted(connectors, key=lambda c: c.name)
    width = max((len(c.name) for c in rows), default=0)
    title_width = max((len(c.title) for c in rows), default=0)
    for connector in rows:
        state = status(connector, store)
        line = f"{connector.name:<{width}}  {connector.title:<{title_width}}  {state}"
        if state == "not connected":
            provider = connector.oauth.provider if connector.oauth else connector.name
            line += f"  ({connect_hint(provider)})"
        elif connector.oauth is not None:
            line += f" ({connector.oauth.provider} account)"
        out.write(line.rstrip() + "\n")
    return EXIT_OK


async def connect(
    name: str,
    connectors: Sequence[ConnectorInfo],
    store: SecretStoreLike,
    out: TextIO,
    *,
    stdin: TextIO | None = None,
    http: httpx.AsyncClient | None = None,
    opener: Opener = webbrowser.open,
    endpoints: Mapping[str, str] | None = None,
    timeout: float = AUTHORIZE_TIMEOUT_SECONDS,
) -> int:
    """Connect a connector: store its API keys, or sign in to its OAuth provider."""
    group = resolve(name, connectors)
    if not group:
        return _unknown(name, connectors, out)
    first = group[0]
    if first.oauth is not None:
        async with http_client(http) as client:
            return await _connect_oauth(
                group, store, out, stdin, client, opener, endpoints, timeout
            )
    if not first.requires_secrets:
        out.write(f"{first.title} needs no account; it is ready to use.\n")
        return EXIT_OK
    return _connect_keys(first, store, out, stdin)


def _connect_keys(
    connector: ConnectorInfo, store: SecretStoreLike, out: TextIO, stdin: TextIO | None
) -> int:
    if connector.key_help:
        out.write(connector.key_help.rstrip() + "\n")
    values: dict[str, str] = {}
    for secret in connector.requires_secrets:
        value = read_value(f"{connector.title} key {secret}", stdin)
        if not value:
            out.write(f"hark: no value given for {secret}; nothing was stored.\n")
            return EXIT_USAGE
        values[secret] = value
    out.write(store_keys(connector, store, values) + "\n")
    return EXIT_OK


def store_keys(connector: ConnectorInfo, store: SecretStoreLike, values: Mapping[str, str]) -> str:
    """Store an API-key connector's already collected keys; the sentence to tell the user.

    Raises ``ValueError`` (nothing stored) when one of its keys is missing or blank.
    """
    missing = [s for s in connector.requires_secrets if not values.get(s, "").strip()]
    if missing:
        raise ValueError(f"No value given for {', '.join(missing)}; nothing was stored.")
    for secret in connector.requires_secrets:
        store.set(secret, values[secret].strip())
    return f"Connected {connector.title}. The key is kept in {store.describe()}."


def missing_client_secrets(
    group: Sequence[ConnectorInfo],
    store: SecretStoreLike,
    endpoints: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The OAuth client values still to ask for: (secret name, label), in order."""
    config = provider_config(group, endpoints)
    wanted: list[tuple[str, str]] = []
    if config.client_id_secret and not store.get(config.client_id_secret):
        wanted.append((config.client_id_secret, f"{config.title} OAuth client ID"))
    if config.client_secret_secret and not store.get(config.client_secret_secret):
        wanted.append((config.client_secret_secret, f"{config.title} OAuth client secret"))
    return wanted


async def _connect_oauth(
    group: Sequence[ConnectorInfo],
    store: SecretStoreLike,
    out: TextIO,
    stdin: TextIO | None,
    http: httpx.AsyncClient,
    opener: Opener,
    endpoints: Mapping[str, str] | None,
    timeout: float,
) -> int:
    config = provider_config(group, endpoints)
    wanted = missing_client_secrets(group, store, endpoints)
    if wanted:
        help_text = next((c.key_help for c in group if c.key_help), "")
        if help_text:
            out.write(help_text.rstrip() + "\n")
    new_values: dict[str, str] = {}
    for secret, label in wanted:
        value = read_value(label, stdin)
        if not value:
            what = "client secret" if secret == config.client_secret_secret else "client ID"
            out.write(f"hark: no {what} given; nothing was connected.\n")
            return EXIT_USAGE
        new_values[secret] = value

    def announce(url: str) -> None:
        out.write(
            f"Opening your browser to sign in to {config.title}. If it does not open, visit:\n"
            f"  {url}\n"
            f"Waiting for you to finish there (up to {round(timeout / 60)} minutes)...\n"
        )
        out.flush()

    try:
        sentence = await sign_in(
            group, store, new_values, http, opener, endpoints, timeout, announce=announce
        )
    except OAuthError as exc:
        out.write(f"hark: {exc.message}\n")
        return EXIT_FAILED
    out.write(sentence + "\n")
    return EXIT_OK


async def sign_in(
    group: Sequence[ConnectorInfo],
    store: SecretStoreLike,
    new_values: Mapping[str, str],
    http: httpx.AsyncClient,
    opener: Opener,
    endpoints: Mapping[str, str] | None,
    timeout: float,
    *,
    announce: Callable[[str], None],
) -> str:
    """Run the browser sign-in for an OAuth group with already collected client values.

    ``new_values`` are client ID / secret values typed just now (stored only once the sign-in
    succeeded); the rest comes from ``store``. Returns the sentence to tell the user; raises
    ``OAuthError`` when the sign-in fails.
    """
    config = provider_config(group, endpoints)

    def value(secret: str) -> str | None:
        return (new_values.get(secret) or store.get(secret)) if secret else None

    client_id = value(config.client_id_secret)
    client_secret = value(config.client_secret_secret)
    if not client_id or (config.client_secret_secret and not client_secret):
        raise OAuthError(f"No {config.title} OAuth client ID or secret was given.")
    await authorize(
        config,
        ClientCredentials(client_id, client_secret),
        http,
        store,
        opener=opener,
        announce=announce,
        timeout=timeout,
    )
    for secret, given in new_values.items():
        if secret:
            store.set(secret, given)
    return (
        f"Connected {config.title} for {_titles(group)}. The sign-in is kept in {store.describe()}."
    )


async def disconnect(
    name: str,
    connectors: Sequence[ConnectorInfo],
    store: SecretStoreLike,
    out: TextIO,
    *,
    http: httpx.AsyncClient | None = None,
    endpoints: Mapping[str, str] | None = None,
) -> int:
    """Disconnect: revoke and delete OAuth tokens, or delete API keys."""
    group = resolve(name, connectors)
    if not group:
        return _unknown(name, connectors, out)
    first = group[0]
    if first.oauth is None:
        if not first.requires_secrets:
            out.write(f"{first.title} needs no account; there is nothing to disconnect.\n")
            return EXIT_OK
        deleted = [secret for secret in first.requires_secrets if store.delete(secret)]
        if not deleted:
            out.write(f"{first.title} was not connected.\n")
        else:
            out.write(f"Disconnected {first.title}: deleted {', '.join(deleted)}.\n")
        return EXIT_OK
    config = provider_config(group, endpoints)
    async with http_client(http) as client:
        result = await revoke_and_forget(config, client, store)
    if not result.had_tokens:
        out.write(f"{config.title} was not connected.\n")
        return EXIT_OK
    if result.revoked:
        out.write(
            f"Disconnected {config.title} ({_titles(group)}): access revoked and the tokens "
            "deleted from this computer.\n"
        )
        return EXIT_OK
    out.write(
        f"hark: the {config.title} tokens were deleted from this computer, but revoking Hark's "
        f"access failed ({result.problem.rstrip('.')}). Remove Hark in your {config.title} "
        "account's security settings to be sure.\n"
    )
    return EXIT_FAILED


@contextlib.asynccontextmanager
async def http_client(http: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    """The given HTTP client, or a fresh one that is closed afterwards."""
    if http is not None:
        yield http
        return
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as owned:
        yield owned
