"""What a connector is: a specialist agent's description, instructions and tools.

A connector module defines ``CONNECTOR = Connector(...)`` and nothing else is needed for the
orchestrator to offer it (see ``registry``). Tools are plain async functions built by
``build_tools`` around an injected ``httpx.AsyncClient``, so tests swap the transport for
``httpx.MockTransport``. Tools return sentences: a provider failure becomes a ``ConnectorError``
whose message the model can relay, never a traceback.
"""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx


class ConnectorError(Exception):
    """A failure the user should hear about in plain words.

    ``message`` is safe to show and to send to the model (never contains a secret);
    ``retryable`` says whether trying again later may help; ``status`` is the provider's
    HTTP status when there was one.
    """

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status


class SecretReader(Protocol):
    def get(self, name: str) -> str | None: ...


@dataclass
class ConnectorContext:
    """What tools may use: one shared HTTP client, the connector settings, the secrets."""

    http: httpx.AsyncClient
    settings: Any = None
    secrets: SecretReader | None = None
    endpoints: Mapping[str, str] = field(default_factory=dict)

    def endpoint(self, key: str, default: str) -> str:
        """A provider base URL, overridable in settings (self-hosted services, test servers)."""
        return self.endpoints.get(key, default).rstrip("/")


ToolFunction = Callable[..., Awaitable[str]]


@dataclass(frozen=True)
class ToolDef:
    """A tool before it is wrapped for the agents SDK.

    ``func`` is an async function with typed parameters and a docstring (the SDK derives the
    JSON schema from them). ``progress`` is a template over the tool's arguments, e.g.
    ``"Checking the weather in {location}..."``. A tool that sends, posts, buys, trades,
    creates or deletes sets ``side_effect`` and a ``readback``: it then runs only after the
    user approves.
    """

    func: ToolFunction
    progress: str
    side_effect: bool = False
    readback: str = ""
    """For side-effecting tools: exactly what will happen, over the arguments, e.g.
    ``"Send to {to}, subject '{subject}': {body}"``. The user approves after hearing it."""

    @property
    def name(self) -> str:
        return self.func.__name__


@dataclass(frozen=True)
class OAuthSpec:
    """How to connect an OAuth 2.0 provider as a native app (RFC 8252, PKCE S256).

    ``client_id_secret`` names the secret that holds the user's own OAuth client id (and
    ``client_secret_secret`` its secret, for providers that require one for installed apps);
    tokens are stored under ``oauth.<provider>``.
    """

    provider: str
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    revoke_url: str | None = None
    client_id_secret: str = ""
    client_secret_secret: str = ""
    extra_authorize_params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Connector:
    """A specialist the orchestrator can hand a request to.

    ``requires_secrets`` are API keys the user adds with ``python main.py connect NAME``
    (``key_help`` says where to get one); ``oauth`` marks an account connected by browser.
    """

    name: str
    title: str
    description: str
    instructions: str
    build_tools: Callable[[ConnectorContext], Sequence[ToolDef]]
    examples: tuple[str, ...] = ()
    requires_secrets: tuple[str, ...] = ()
    followups: tuple[str, ...] = field(default=())
    key_help: str = ""
    oauth: OAuthSpec | None = None


def not_connected(title: str, name: str) -> ConnectorError:
    """The sentence for a connector whose account or key is missing."""
    return ConnectorError(f"Connect {title} first: python main.py connect {name}")


def require_secret(ctx: ConnectorContext, secret: str, title: str, name: str) -> str:
    """A stored key for a tool call, or the "connect first" sentence."""
    value = ctx.secrets.get(secret) if ctx.secrets is not None else None
    if not value:
        raise not_connected(title, name)
    return value


def render_progress(template: str, arguments: Mapping[str, Any]) -> str:
    """Fill a progress template from tool arguments; missing names are left out gracefully."""

    class _Lenient(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "…"

    try:
        return string.Formatter().vformat(template, (), _Lenient(arguments))
    except (ValueError, IndexError):
        return template


def http_error_message(service: str, exc: httpx.HTTPError) -> ConnectorError:
    """Map an httpx failure to a sentence for the user, marking what is worth retrying."""
    if isinstance(exc, httpx.TimeoutException):
        return ConnectorError(f"{service} did not answer in time.", retryable=True)
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        if status in (401, 403):
            return ConnectorError(f"{service} refused the request (not authorised).", status=status)
        if status == 429:
            return ConnectorError(
                f"{service} is rate-limiting requests; try again in a minute.",
                retryable=True,
                status=status,
            )
        if status >= 500:
            return ConnectorError(
                f"{service} is having trouble right now (HTTP {status}).",
                retryable=True,
                status=status,
            )
        return ConnectorError(f"{service} rejected the request (HTTP {status}).", status=status)
    return ConnectorError(f"Could not reach {service}.", retryable=True)


ReasonReader = Callable[[httpx.Response], "str | None"]
"""Pulls a provider's own explanation out of an error response (its documented error body)."""


async def request_json(
    http: httpx.AsyncClient,
    service: str,
    method: str,
    url: str,
    *,
    reason: ReasonReader | None = None,
    malformed: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """One provider call that returns a JSON object, with every failure as a sentence.

    Transport errors and HTTP statuses go through ``http_error_message``; for a 4xx the
    provider's own reason (``reason``) is used when it has one; a body that is not a JSON
    object becomes ``malformed`` (retryable: a glitch may pass). ``kwargs`` go to httpx.
    """
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise http_error_message(service, exc) from exc
    if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 429):
        explained = reason(response) if reason is not None else None
        if explained:
            raise ConnectorError(
                f"{service} couldn't answer that: {explained}", status=response.status_code
            )
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise http_error_message(service, exc) from exc
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise ConnectorError(
            malformed or f"{service} sent an answer I couldn't read.", retryable=True
        )
    return payload
