"""The local control socket: JSON-RPC 2.0 over a Unix socket, one front end among siblings.

``SocketServer`` claims the socket path (see ``socket_security``), accepts connections from
the same user only, and gives each a ``ClientSession``: a reader that splits and decodes
lines (bounded, see ``socket_protocol``), a handler task per request (bounded in number, so
a flood is slowed rather than buffered), and a writer task that drains the client's own
``Outbox``. The ``BusBridge`` is the single subscriber on the bus for all clients.

Nothing here touches services or the database: methods publish commands and queries and
answer from the events that come back (``socket_methods``). See docs/socket.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from src.config.settings import SocketSettings
from src.events import approvals, commands, conversation, queries, realtime, session, voice
from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.base import Event
from src.events.bus import EventBus
from src.events.conversation import AssistantMessageCompleted
from src.events.tasks import TaskOwner
from src.presentation.socket_bridge import TURN_END_TYPES, BusBridge, Lane
from src.presentation.socket_methods import DEFERRED, Call, dispatch
from src.presentation.socket_outbox import Outbox, OutboxClosed
from src.presentation.socket_params import EventSelection
from src.presentation.socket_protocol import (
    OVERSIZED,
    ErrorCode,
    Invalid,
    LineSplitter,
    Parsed,
    Request,
    RpcError,
    decode,
    encode,
    encode_notification,
    error_document,
    result_document,
)
from src.presentation.socket_security import (
    ClaimedSocket,
    PeerCredentials,
    claim_socket,
    peer_credentials,
)

# Every event module is imported so that ``events.subscribe`` can validate any type name.
EVENT_MODULES: Final = (approvals, commands, conversation, queries, realtime, session, voice)

log = logging.getLogger(__name__)

READ_CHUNK: Final = 65536
CLOSING_NOTICE: Final = "server.closing"
_MUST_TYPES: Final = (*TURN_END_TYPES, AssistantMessageCompleted)
_APPROVAL_TYPES: Final = (ApprovalRequested, ApprovalResolved)


@dataclass(frozen=True)
class SocketLimits:
    """Bounds that keep one client from costing Hark or other clients anything."""

    max_message_bytes: int = 1_048_576
    max_clients: int = 128
    max_events_per_client: int = 4096
    """Events waiting for a slow client before the oldest are dropped."""
    max_replies_per_client: int = 256
    """Replies waiting for a client before Hark stops reading its requests."""
    max_in_flight: int = 64
    """Requests of one client being handled at once (more wait, unread)."""
    flush_seconds: float = 2.0
    """How long a closing connection may take to receive what is queued for it."""


class SocketServer:
    def __init__(self, bus: EventBus, path: Path, limits: SocketLimits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or SocketLimits()
        self.bridge = BusBridge(bus)
        self._claimed: ClaimedSocket | None = None
        self._server: asyncio.Server | None = None
        self._sessions: set[ClientSession] = set()
        self._tasks = TaskOwner("socket")
        self._numbers = itertools.count(1)
        self._closing = False

    @classmethod
    def from_settings(cls, bus: EventBus, settings: SocketSettings, **limits: Any) -> SocketServer:
        if settings.path is None:
            raise ValueError("socket.path is not set")
        return cls(
            bus,
            Path(settings.path),
            SocketLimits(max_message_bytes=settings.max_message_bytes, **limits),
        )

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def clients(self) -> int:
        return len(self._sessions)

    async def start(self) -> None:
        """Claim the path and accept connections; ``SocketSetupError`` if we may not."""
        self._claimed = await asyncio.to_thread(claim_socket, self.path)
        try:
            await self.bridge.start()
            self._server = await asyncio.start_unix_server(
                self._accept, sock=self._claimed.sock, limit=READ_CHUNK
            )
        except BaseException:
            await self.bridge.close()
            self._claimed.release()
            self._claimed = None
            raise
        log.info("control socket listening on %s", self.path)

    async def __aenter__(self) -> SocketServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self, reason: str = "Hark is shutting down") -> None:
        """Stop accepting, tell every client why, give each a moment to read it, and leave."""
        if self._closing:
            return
        self._closing = True
        if self._server is not None:
            self._server.close()
        notice = encode_notification(CLOSING_NOTICE, {"reason": reason})
        await asyncio.gather(
            *(s.stop(notice) for s in list(self._sessions)), return_exceptions=True
        )
        await self._tasks.close()
        await self.bridge.close()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), self.limits.flush_seconds)
        if self._claimed is not None:
            self._claimed.release()
            self._claimed = None
        log.info("control socket closed")

    # -- connections ------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = next(self._numbers)
        peer = self._admit(writer)
        if isinstance(peer, RpcError):
            await _refuse(writer, peer, self.limits.flush_seconds)
            return
        client = ClientSession(self, reader, writer, number, peer)
        self._sessions.add(client)
        self._tasks.spawn(self._serve(client), f"client{number}")

    def _admit(self, writer: asyncio.StreamWriter) -> PeerCredentials | RpcError:
        """The peer's credentials if it may connect, else why not."""
        if self._closing:
            return RpcError(ErrorCode.SHUTTING_DOWN, "Hark is shutting down")
        try:
            peer = peer_credentials(writer.get_extra_info("socket"))
        except OSError as exc:
            log.warning("refused a connection whose peer cannot be identified: %s", exc)
            return RpcError(ErrorCode.PERMISSION_DENIED, "cannot identify the connecting user")
        if peer.uid != os.geteuid():
            log.warning("refused a connection from uid %s (pid %s)", peer.uid, peer.pid)
            return RpcError(
                ErrorCode.PERMISSION_DENIED,
                "this Hark belongs to another user; connections from other users are refused",
            )
        if len(self._sessions) >= self.limits.max_clients:
            return RpcError(ErrorCode.BUSY, f"too many clients (at most {self.limits.max_clients})")
        return peer

    async def _serve(self, client: ClientSession) -> None:
        self.bridge.add_client(client)
        try:
            await client.serve()
        finally:
            self.bridge.remove_client(client)
            self._sessions.discard(client)


async def _refuse(writer: asyncio.StreamWriter, error: RpcError, timeout: float) -> None:
    writer.write(encode(error_document(None, error)))
    with contextlib.suppress(ConnectionError, TimeoutError):
        await asyncio.wait_for(writer.drain(), timeout)
    writer.close()
    with contextlib.suppress(ConnectionError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout)


class ClientSession:
    """One connection: its subscriptions, its turns, its outbox, its reader and writer."""

    def __init__(
        self,
        server: SocketServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
        peer: PeerCredentials,
    ) -> None:
        limits = server.limits
        self.number = number
        self.peer = peer
        self.outbox = Outbox(
            max_events=limits.max_events_per_client, max_replies=limits.max_replies_per_client
        )
        self.subscriptions = EventSelection()
        self.turns: set[str] = set()
        self._server = server
        self._limits = limits
        self._reader = reader
        self._writer = writer
        self._tasks = TaskOwner(f"socket.client{number}")
        self._slots = asyncio.Semaphore(limits.max_in_flight)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._writer_task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def route(self, event: Event) -> str | None:
        """Which lane of this client's outbox ``event`` goes to, if any."""
        turn_id = getattr(event, "turn_id", None)
        if turn_id is not None and turn_id in self.turns:
            return Lane.MUST if isinstance(event, _MUST_TYPES) else Lane.EVENT
        if self.turns and isinstance(event, _APPROVAL_TYPES):
            return Lane.MUST  # the client's own turn is waiting on this answer
        if self.subscriptions.matches(event.type):
            return Lane.EVENT
        return None

    async def serve(self) -> None:
        log.debug("client %d connected (pid %s)", self.number, self.peer.pid)
        self._writer_task = self._tasks.spawn(self._write_loop(), "writer")
        try:
            await self._read_loop()
            await self._settle()
        finally:
            await self._finish()

    async def stop(self, notice: bytes | None = None) -> None:
        """Queue ``notice``, let the writer flush for a moment, then hang up.

        A client that is not reading gets its connection aborted rather than closed: a
        graceful close would wait for it to read everything, i.e. possibly for ever.
        """
        if notice is not None:
            self.outbox.put_reply(notice)
        self.outbox.close()
        flushed = True
        task = self._writer_task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), self._limits.flush_seconds)
            except TimeoutError:
                flushed = False
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise  # it is this task that is being cancelled, not the writer
        if flushed:
            self._writer.close()
        else:
            self._writer.transport.abort()

    # -- reading ----------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        splitter = LineSplitter(self._limits.max_message_bytes)
        while not self._closed:
            try:
                chunk = await self._reader.read(READ_CHUNK)
            except OSError:  # reset by the peer
                return
            if not chunk:
                break
            for line in splitter.feed(chunk):
                await self.outbox.wait_for_room()
                if line is OVERSIZED:
                    self._reply(error_document(None, _too_large(self._limits.max_message_bytes)))
                else:
                    assert isinstance(line, bytes)
                    await self._accept_line(line)
        tail = splitter.finish()
        if tail is not None:
            await self._accept_line(tail)

    async def _accept_line(self, line: bytes) -> None:
        parsed = decode(line)
        if parsed is None:
            return
        if isinstance(parsed, Invalid):
            if not parsed.silent:
                self._reply(error_document(parsed.id, parsed.error))
            return
        await self._slots.acquire()
        task = self._tasks.spawn(self._handle(parsed), "request")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _handle(self, parsed: Request | list[Parsed]) -> None:
        try:
            if isinstance(parsed, list):
                answers = await asyncio.gather(*(self._answer(p, True) for p in parsed))
                batch = [a for a in answers if a is not None]
                if batch:
                    self._reply(batch)
            else:
                answer = await self._answer(parsed, False)
                if answer is not None:
                    self._reply(answer)
        finally:
            self._slots.release()

    async def _answer(self, parsed: Parsed, in_batch: bool) -> dict[str, Any] | None:
        """The reply document for one request, or ``None`` when none is due."""
        if isinstance(parsed, Invalid):
            return None if parsed.silent else error_document(parsed.id, parsed.error)
        call = Call(self, self._server.bridge, parsed, in_batch, lambda: self._server.closing)
        try:
            result = await dispatch(call)
        except RpcError as exc:
            return None if parsed.notification else error_document(parsed.id, exc)
        except Exception:
            log.exception("socket method %s failed", parsed.method)
            error = RpcError(ErrorCode.INTERNAL_ERROR, "Internal error; the details are in the log")
            return None if parsed.notification else error_document(parsed.id, error)
        if parsed.notification or result is DEFERRED:
            return None
        return result_document(parsed.id, result)

    def _reply(self, document: Any) -> None:
        self.outbox.put_reply(encode(document))

    async def _settle(self) -> None:
        """After the client stopped sending: finish its requests unless it stopped reading too."""
        while self._in_flight and self._writer_task is not None and not self._writer_task.done():
            await asyncio.wait(
                {*self._in_flight, self._writer_task}, return_when=asyncio.FIRST_COMPLETED
            )

    # -- writing ----------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        try:
            while True:
                data = await self.outbox.get_batch()
                self._writer.write(data)
                await self._writer.drain()
        except OutboxClosed:
            return
        except OSError as exc:  # the peer went away mid-write
            log.debug("client %d stopped receiving: %s", self.number, exc)

    async def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.stop()
        await self._tasks.close()
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(self._writer.wait_closed(), self._limits.flush_seconds)
        log.debug("client %d gone (%d events dropped)", self.number, self.outbox.dropped)


def _too_large(limit: int) -> RpcError:
    return RpcError(
        ErrorCode.MESSAGE_TOO_LARGE,
        f"message larger than {limit} bytes; it was discarded",
        {"max_message_bytes": limit},
    )
