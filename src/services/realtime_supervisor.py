"""Keeps a voice session's link alive: connect, serve, watch, renew, back off, or give up.

The Realtime API has no resume: every WebSocket is a new session. ``LinkSupervisor`` owns
the sequence of links of one voice session and the decisions between them (see
``reconnect_policy``), and tells the user what is happening through
``RealtimeConnectionChanged``. What a link carries is the session's business: it opens and
configures links through ``open_configured`` and hands each one to a ``LinkUser``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from src.events.bus import EventBus
from src.events.conversation import ErrorReported
from src.events.realtime import ConnectionStatus, RealtimeConnectionChanged
from src.events.session import SetupNeeded
from src.events.tasks import TaskOwner
from src.services.realtime_link import LinkOpenError, RealtimeLink, explain_end, key_refused
from src.services.reconnect_policy import (
    CLIENT_CLOSED,
    RECYCLE,
    BackoffPolicy,
    LinkEnd,
    end_from_close,
    stalled,
)

log = logging.getLogger(__name__)

IDLE_CHECK_SECONDS = 10.0


@dataclass(frozen=True)
class RealtimeTiming:
    """Clocks and intervals of the link, injectable so tests run in milliseconds.

    Pings every ``ping_interval`` seconds with ``ping_timeout`` to answer detect a stalled
    link within their sum (10 s by default); None turns the pings off. ``session_max_age``
    renews a session before the server's 60-minute cap; a link that lived ``healthy_after``
    seconds resets the backoff, so one drop an hour never climbs to the longest wait.
    """

    ping_interval: float | None = 5.0
    ping_timeout: float = 5.0
    session_max_age: float = 55 * 60.0
    healthy_after: float = 30.0
    close_timeout: float = 2.0
    now: Callable[[], float] = time.monotonic


class LinkUser(Protocol):
    """The session side of a link: what it does with frames and between links."""

    async def link_up(self, link: RealtimeLink, generation: int) -> None:
        """A configured link is open (reset per-session state, send queued input)."""

    def link_down(self, generation: int) -> None:
        """The link of ``generation`` ended; nothing more may be sent on it."""

    async def handle_frame(self, frame: bytes) -> None:
        """One raw server frame."""

    def at_turn_boundary(self) -> bool:
        """Nobody is mid-turn: a good moment to renew the session."""


class LinkSupervisor:
    """Runs links one after another until closed or a failure that retrying cannot fix."""

    def __init__(
        self,
        bus: EventBus,
        tasks: TaskOwner,
        user: LinkUser,
        open_configured: Callable[[], Awaitable[RealtimeLink]],
        *,
        backoff: BackoffPolicy,
        timing: RealtimeTiming,
        base_url: str | None,
    ) -> None:
        self._bus = bus
        self._tasks = tasks
        self._user = user
        self._open = open_configured
        self._backoff = backoff
        self._timing = timing
        self._base_url = base_url
        self._closing = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ever_connected = False
        self.link: RealtimeLink | None = None
        self.generation = 0
        self.status: ConnectionStatus = "disconnected"

    def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the realtime link supervisor was already started")
        self._task = self._tasks.spawn(self._supervise(), name="supervisor")

    async def wait_until_connected(self) -> None:
        await self._connected.wait()

    def resume(self) -> bool:
        """Start again after giving up (the key was replaced, say); False if still running."""
        task = self._task
        if task is None or not task.done() or self._closing.is_set():
            return False
        self._task = self._tasks.spawn(self._supervise(), name="supervisor")
        return True

    async def close(self) -> None:
        """Stop retrying and close the current link politely."""
        self._closing.set()
        if self.link is not None:
            self.link.end(CLIENT_CLOSED)
        task = self._task
        if task is not None and not task.done():
            _, pending = await asyncio.wait({task}, timeout=self._timing.close_timeout + 1)
            for late in pending:
                late.cancel()

    def recycle_if_due(self) -> bool:
        """End the link for renewal if it is old enough and nobody is mid-turn."""
        link = self.link
        if link is None or not link.open:
            return False
        if self._timing.now() - link.opened_at < self._timing.session_max_age:
            return False
        if not self._user.at_turn_boundary():
            return False
        link.end(RECYCLE)
        return True

    async def _supervise(self) -> None:
        """Connect, serve the link until it ends, decide whether and when to connect again."""
        attempt = 0
        await self._set_status("connecting", 0, "", "Connecting to the voice service...")
        while not self._closing.is_set():
            healthy = False
            try:
                link = await self._open()
            except LinkOpenError as exc:
                end = exc.end
            else:
                if self._closing.is_set():
                    await link.close(self._timing.close_timeout)
                    break
                end = await self._serve(link, attempt)
                healthy = self._timing.now() - link.opened_at >= self._timing.healthy_after
            if self._closing.is_set() or end.kind == "client_closed":
                break
            if not end.retryable:
                message = explain_end(end, self._base_url)
                await self._stop_for_good(message, end.kind)
                if key_refused(end):  # only a new key helps; ``resume`` starts again
                    await self._bus.publish(SetupNeeded(what="openai_key", message=message))
                return
            if end.kind == "recycle":
                attempt = 0
                await self._set_status("reconnecting", 0, end.kind, "Renewing the voice session.")
                continue
            attempt = 1 if healthy else attempt + 1
            if not self._backoff.allows(attempt):
                message = (
                    f"Could not reconnect to the voice service after {attempt - 1} attempts "
                    f"(last problem: {end.reason})."
                )
                await self._stop_for_good(message, end.kind)
                return
            message = f"Voice connection lost ({end.reason}); reconnecting..."
            await self._set_status("reconnecting", attempt, end.kind, message)
            await self._pause(self._backoff.delay(attempt))
        await self._set_status("disconnected", 0, "client_closed", "Voice session ended.")

    async def _serve(self, link: RealtimeLink, attempt: int) -> LinkEnd:
        """Serve one link until it ends; returns why."""
        self.generation += 1
        generation = self.generation
        self.link = link
        await self._user.link_up(link, generation)
        receive = self._tasks.spawn(self._receive(link), name="receive")
        watch = self._tasks.spawn(self._watch(link), name="watch")
        self._connected.set()
        message = "Reconnected; carrying on." if self._ever_connected else "Voice session ready."
        self._ever_connected = True
        await self._set_status("connected", attempt, "", message)
        end = await link.ended
        self.link = None
        self._connected.clear()
        self._user.link_down(generation)
        for task in (receive, watch):
            task.cancel()
        await asyncio.gather(receive, watch, return_exceptions=True)
        if end.kind == "stalled":
            link.abort()
        else:
            await link.close(self._timing.close_timeout)
        log.info("realtime link ended: %s", end.reason)
        return end

    async def _receive(self, link: RealtimeLink) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                await self._user.handle_frame(await link.recv())
        except ConnectionClosed as exc:
            close = exc.rcvd
            link.end(end_from_close(close.code if close else None, close.reason if close else ""))
        finally:
            # Should anything else stop this loop, the link must still end, or nothing
            # would ever reconnect it.
            link.end(LinkEnd("dropped", True, "the receive loop stopped"))

    async def _watch(self, link: RealtimeLink) -> None:
        """Detect a stalled link by ping, and renew an old session when the moment is right."""
        interval = self._timing.ping_interval
        while link.open:
            await asyncio.sleep(interval if interval is not None else IDLE_CHECK_SECONDS)
            if self.recycle_if_due():
                return
            if interval is not None and not await link.answers_ping(self._timing.ping_timeout):
                link.end(stalled(self._timing.ping_timeout))
                return

    async def _pause(self, seconds: float) -> None:
        """Wait out a backoff delay, or less if the session is closed meanwhile."""
        try:
            async with asyncio.timeout(seconds):
                await self._closing.wait()
        except TimeoutError:
            return

    async def _stop_for_good(self, message: str, reason: str) -> None:
        await self._bus.publish(ErrorReported(source="realtime", message=message))
        await self._set_status("disconnected", 0, reason, message)

    async def _set_status(
        self, status: ConnectionStatus, attempt: int, reason: str, message: str
    ) -> None:
        self.status = status
        await self._bus.publish(
            RealtimeConnectionChanged(
                status=status, attempt=attempt, reason=reason, message=message
            )
        )
