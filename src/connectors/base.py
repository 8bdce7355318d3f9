"""What a connector is: a specialist agent's description, instructions and tools.

A connector module defines ``CONNECTOR = Connector(...)`` and nothing else is needed for the
orchestrator to offer it (see ``registry``). Tools are plain async functions built by
``build_tools`` around an injected ``httpx.AsyncClient``, so tests swap the transport for
``httpx.MockTransport``. Tools return sentences: a provider failure becomes a ``ConnectorError``
whose message the model can relay, never a traceback.
"""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

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


def key_refused(
    service: str, name: str, status: int | None, *, advice: str = "Reconnect it"
) -> ConnectorError:
    """A provider turned the user's API key away: say which key and how to replace it."""
    return ConnectorError(
        f"{service} didn't accept your API key. {advice}: python main.py connect {name}",
        status=status,
    )


def rate_limited(service: str, response: httpx.Response) -> ConnectorError:
    """A 429 that honours the provider's ``Retry-After`` (in seconds) when it sends one."""
    wait = response.headers.get("Retry-After", "")
    when = f"in {int(wait)} seconds" if wait.isdigit() else "in a minute"
    return ConnectorError(
        f"{service} is rate-limiting requests; try again {when}.", retryable=True, status=429
    )


def hide_secret(text: str, secret: str) -> str:
    """``text`` with ``secret`` replaced by ``[key]``.

    Providers sometimes echo the key in an error message; that message is then relayed to the
    user and to the model, neither of which should ever see a key.
    """
    return text.replace(secret, "[key]") if secret else text


def trim(text: str, limit: int) -> str:
    """At most ``limit`` characters on one line, cut at a word boundary with an ellipsis.

    Provider text is spoken, so a snippet or message is shortened where a listener expects
    a pause rather than mid-word.
    """
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def body_object(response: httpx.Response) -> dict[str, Any]:
    """The response's JSON object, or an empty dict when the body is anything else.

    Error bodies are read leniently: a proxy's HTML page or an empty body must leave the
    status to decide the sentence rather than fail a second time.
    """
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


ReasonReader = Callable[[httpx.Response], "str | None"]
"""Pulls a provider's own explanation out of an error response (its documented error body)."""

ResponseCheck = Callable[[httpx.Response], "ConnectorError | None"]
"""Looks at a response before the generic status handling and returns the error to raise, if
any: a provider's fault codes (a used-up quota, a revoked key) often arrive with a status that
would otherwise get a vaguer sentence, and some providers report errors with a 200."""

DEFAULT_REFUSAL = "{service} couldn't answer that: {reason}"
"""The sentence for a 4xx that the provider explained; ``refusal`` words it per connector."""


class Requester(Protocol):
    """Something that sends like ``httpx.AsyncClient.request`` but adds to it, typically auth:
    bearer tokens that are renewed, and a request retried once after a 401."""

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response: ...


async def send(
    http: httpx.AsyncClient | Requester, service: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """One provider call whose transport failures (timeouts, no connection) are sentences.

    The status is left to the caller, for answers that are not JSON (a file's text).
    """
    try:
        return await http.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise http_error_message(service, exc) from exc


JsonT = TypeVar("JsonT", dict[str, Any], list[Any])
"""The kinds of JSON body a provider answers with: an object, or (a few providers) a list."""


async def request_json(
    http: httpx.AsyncClient | Requester,
    service: str,
    method: str,
    url: str,
    *,
    check: ResponseCheck | None = None,
    reason: ReasonReader | None = None,
    reason_statuses: Collection[int] | None = None,
    refusal: str = DEFAULT_REFUSAL,
    malformed: ConnectorError | str | None = None,
    expect: type[JsonT] = dict,  # type: ignore[assignment]  # mypy can't default a TypeVar
    **kwargs: Any,
) -> JsonT:
    """One provider call that returns JSON, with every failure as a sentence.

    In order: transport errors go through ``http_error_message``; ``check`` may claim any
    response (see ``ResponseCheck``); a 4xx other than 401, 403 and 429, or only one of
    ``reason_statuses`` when given, uses the provider's own words from ``reason``, phrased by
    ``refusal`` (a template over ``{service}`` and ``{reason}``); any other non-2xx status
    goes through ``http_error_message``. A body that is not JSON of the ``expect``-ed kind (an
    object unless ``list`` is asked for) becomes ``malformed``: a string is a retryable error,
    since a glitch may pass; a ``ConnectorError`` is raised as it is, for answers where a
    retry could do harm (a message that may have been sent). ``kwargs`` go to httpx.
    """
    response = await send(http, service, method, url, **kwargs)
    status = response.status_code
    if check is not None:
        claimed = check(response)
        if claimed is not None:
            raise claimed
    if reason is not None and 400 <= status < 500:
        trusted = (
            status not in (401, 403, 429) if reason_statuses is None else status in reason_statuses
        )
        explained = reason(response) if trusted else None
        if explained:
            raise ConnectorError(refusal.format(service=service, reason=explained), status=status)
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise http_error_message(service, exc) from exc
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, expect):
        if isinstance(malformed, ConnectorError):
            raise malformed
        raise ConnectorError(
            malformed or f"{service} sent an answer I couldn't read.", retryable=True
        )
    return payload
