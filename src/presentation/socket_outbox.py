"""One client's outgoing lines: bounded, so a client that stops reading costs only itself.

Two lanes share one order (a sequence number): *replies* (responses, and the few events a
client cannot do without, such as the end of its own turn) are never dropped; *events* are
dropped oldest-first once ``max_events`` are waiting. Replies are bounded differently: the
connection stops reading requests while ``max_replies`` are waiting (``wait_for_room``), so a
client that sends without reading is slowed by its own socket buffer, not by Hark's memory.

Whenever events were dropped, the next thing written before the following event is an
``events.dropped`` notification saying how many, so the client knows exactly where its gap is.
"""

from __future__ import annotations

import asyncio
import collections

from src.presentation.socket_protocol import encode_notification

DROPPED_NOTICE = "events.dropped"


class OutboxClosed(Exception):
    """The client is gone; nothing more will be written."""


class Outbox:
    def __init__(self, *, max_events: int = 1000, max_replies: int = 256) -> None:
        if max_events < 1 or max_replies < 1:
            raise ValueError("outbox bounds must be positive")
        self.max_events = max_events
        self.max_replies = max_replies
        self.dropped = 0
        """Events this client never got, in total."""
        self._replies: collections.deque[tuple[int, bytes]] = collections.deque()
        self._events: collections.deque[tuple[int, bytes]] = collections.deque()
        self._seq = 0
        self._unreported = 0
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False

    @property
    def pending(self) -> int:
        return len(self._replies) + len(self._events)

    @property
    def closed(self) -> bool:
        return self._closed

    def put_reply(self, line: bytes) -> None:
        """Queue a line that must arrive (a response, the end of the client's own turn)."""
        if self._closed:
            return
        self._seq += 1
        self._replies.append((self._seq, line))
        if len(self._replies) >= self.max_replies:
            self._room.clear()
        self._ready.set()

    def put_event(self, line: bytes) -> None:
        """Queue an event line, dropping the oldest waiting event when full."""
        if self._closed:
            return
        if len(self._events) >= self.max_events:
            self._events.popleft()
            self.dropped += 1
            self._unreported += 1
        self._seq += 1
        self._events.append((self._seq, line))
        self._ready.set()

    def note_lost(self, count: int) -> None:
        """Events lost before reaching this outbox (the bridge fell behind): report them too."""
        if count > 0 and not self._closed:
            self.dropped += count
            self._unreported += count
            self._ready.set()

    def _take(self) -> bytes | None:
        replies, events = self._replies, self._events
        if self._unreported and (not replies or (events and events[0][0] < replies[0][0])):
            count, self._unreported = self._unreported, 0
            return encode_notification(DROPPED_NOTICE, {"count": count, "total": self.dropped})
        if replies and (not events or replies[0][0] < events[0][0]):
            line = replies.popleft()[1]
            if len(replies) < self.max_replies:
                self._room.set()
            return line
        if events:
            return events.popleft()[1]
        return None

    async def get_batch(self, max_bytes: int = 65536) -> bytes:
        """Everything waiting, up to about ``max_bytes``, in order; waits when empty."""
        while True:
            parts: list[bytes] = []
            size = 0
            while size < max_bytes:
                line = self._take()
                if line is None:
                    break
                parts.append(line)
                size += len(line)
            if parts:
                return b"".join(parts)
            if self._closed:
                raise OutboxClosed
            self._ready.clear()
            await self._ready.wait()

    async def wait_for_room(self) -> None:
        """Wait until the client has read enough replies to take more requests."""
        while len(self._replies) >= self.max_replies and not self._closed:
            self._room.clear()
            await self._room.wait()

    def close(self) -> None:
        """Stop taking lines; ``get_batch`` still returns what is queued, then raises."""
        self._closed = True
        self._ready.set()
        self._room.set()
