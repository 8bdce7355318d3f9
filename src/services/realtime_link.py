"""One Realtime WebSocket through the ``openai`` SDK: open it, send on it, watch it, end it.

This is the only module that touches the SDK's connection object and the ``websockets``
exceptions beneath it. Everything that can go wrong on the wire is turned into a ``LinkEnd``
here, so the client above deals in "why did it end and may I retry", never in socket errors.

The SDK offers no public handle on the underlying ``websockets`` connection; Hark needs it for
two things the SDK does not do: an application-level ping with a short timeout (stall
detection) and an abort that does not wait for a close handshake a dead peer will never
answer. ``_socket`` is the one place that reaches it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from src.services.reconnect_policy import LinkEnd, end_from_status, unreachable

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.resources.realtime.realtime import AsyncRealtimeConnection
    from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_SECONDS = 2.0


class LinkOpenError(Exception):
    """A link could not be opened; ``end`` says why and whether to retry."""

    def __init__(self, end: LinkEnd) -> None:
        super().__init__(end.reason)
        self.end = end


def _error_code(body: bytes | bytearray | None) -> str | None:
    """The ``error.code`` of an OpenAI-shaped JSON error body, if there is one."""
    if not body:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if code else None


async def open_link(
    client: AsyncOpenAI, model: str, *, opened_at: Callable[[], float]
) -> RealtimeLink:
    """Open a Realtime WebSocket for ``model`` on the client's base URL.

    Raises ``LinkOpenError``: HTTP errors at the handshake are classified by status (401 and
    quota are final, 5xx are not); an unreachable server is always worth another try.
    """
    from openai import OpenAIError
    from websockets.exceptions import (
        InvalidProxy,
        InvalidStatus,
        InvalidURI,
        WebSocketException,
    )

    manager = client.realtime.connect(model=model)
    try:
        connection = await manager.enter()
    except InvalidStatus as exc:
        response = exc.response
        end = end_from_status(response.status_code, _error_code(response.body))
        raise LinkOpenError(end) from exc
    except (InvalidURI, InvalidProxy) as exc:
        end = LinkEnd("rejected", False, f"the server address is not usable ({exc})")
        raise LinkOpenError(end) from exc
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise LinkOpenError(unreachable(type(exc).__name__)) from exc
    except OpenAIError as exc:
        raise LinkOpenError(LinkEnd("rejected", False, str(exc))) from exc
    return RealtimeLink(connection, opened_at=opened_at())


class RealtimeLink:
    """One open connection and the future that settles, once, with how it ended."""

    def __init__(self, connection: AsyncRealtimeConnection, *, opened_at: float) -> None:
        self.connection = connection
        self.opened_at = opened_at
        self.ended: asyncio.Future[LinkEnd] = asyncio.get_running_loop().create_future()

    @property
    def open(self) -> bool:
        return not self.ended.done()

    def end(self, end: LinkEnd) -> None:
        """Record why the link ends; the first cause wins, later ones are only logged."""
        if self.ended.done():
            log.debug("realtime link already ended; also %s", end.reason)
            return
        self.ended.set_result(end)

    def _socket(self) -> ClientConnection:
        # The SDK declares this attribute on AsyncRealtimeConnection but has no public accessor.
        return self.connection._connection

    async def recv(self) -> bytes:
        """The next raw frame; raises ``websockets`` ``ConnectionClosed`` when the link ends."""
        return await self.connection.recv_bytes()

    async def send(self, action: Callable[[AsyncRealtimeConnection], Awaitable[None]]) -> bool:
        """Run one typed SDK send; False (not an exception) if the link is already gone.

        Callers on a voice path must not crash because the network went away between two
        audio chunks: the receive loop notices the closure and reconnects.
        """
        from websockets.exceptions import ConnectionClosed

        if not self.open:
            return False
        try:
            await action(self.connection)
        except ConnectionClosed:
            log.debug("realtime: send on a closed link dropped")
            return False
        return True

    async def answers_ping(self, timeout: float) -> bool:
        """Send a WebSocket ping; False if no pong arrives within ``timeout`` seconds."""
        from websockets.exceptions import ConnectionClosed

        try:
            async with asyncio.timeout(timeout):
                pong = await self._socket().ping()
                await pong
        except TimeoutError:
            return False
        except ConnectionClosed:
            return True  # not a stall: the receive loop reports the closure itself
        return True

    def abort(self) -> None:
        """Drop the TCP stream at once, without a close handshake (for a stalled link)."""
        self._socket().transport.abort()

    async def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
        """Close politely (code 1000); abort if the peer does not answer within ``timeout``."""
        from websockets.exceptions import WebSocketException

        try:
            async with asyncio.timeout(timeout):
                await self.connection.close()
        except TimeoutError:
            log.info("realtime: the server did not answer the close; dropping the link")
            self.abort()
        except (OSError, WebSocketException) as exc:
            log.debug("realtime: close failed (%s); dropping the link", type(exc).__name__)
            self.abort()


def key_refused(end: LinkEnd) -> bool:
    """The server does not accept the key: no reconnection can fix that, a new key can."""
    return end.status == 401 or end.code == "invalid_api_key"


def explain_end(end: LinkEnd, base_url: str | None) -> str:
    """One sentence for the user about a link that ended for good.

    The key and quota sentences match ``model_errors.explain_model_error``, so the user reads
    the same advice whether the text path or the voice path found the problem.
    """
    where = base_url or "api.openai.com"
    if end.code == "insufficient_quota":
        return "The OpenAI account has run out of quota; check billing at platform.openai.com."
    if key_refused(end):
        return (
            "The model server rejected the OpenAI key. Store a valid one with "
            "`python main.py keys set openai` (or set OPENAI_API_KEY)."
        )
    if end.status == 403:
        return "This OpenAI key is not allowed to use the voice model."
    if end.status == 404:
        return f"The model server at {where} does not know that voice model or endpoint."
    if end.status is not None:
        return f"The voice service at {where} refused the connection (HTTP {end.status})."
    return f"The voice connection to {where} ended: {end.reason}."
