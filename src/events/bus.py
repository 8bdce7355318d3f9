"""The in-process async event bus.

Each subscription owns a small mailbox and a task that feeds its handler, so one slow or
failing subscriber never holds up the publisher's other readers beyond its own bound:

* CONTROL events go to an urgent lane the handler drains first.
* DATA events queue in order, up to ``maxsize``. When full, a ``block`` subscription makes
  the publisher wait (nothing is lost); a ``drop_oldest`` one discards the oldest and counts it.
* LATEST events keep one slot per coalescing key: a newer value replaces an undelivered one.

A handler's exception is logged with its name and the event type; the subscription lives on.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from src.events.base import Delivery, Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], Awaitable[None] | None]
Overflow = Literal["block", "drop_oldest"]


class _Wildcard:
    """Marker: subscribe to every event type."""

    def __repr__(self) -> str:
        return "ALL_EVENTS"


ALL_EVENTS = _Wildcard()


def _flatten(selector: object) -> tuple[type[Event], ...]:
    """Turn a class, a union of classes or an iterable of those into a tuple of classes."""
    if isinstance(selector, type) and issubclass(selector, Event):
        return (selector,)
    if isinstance(selector, UnionType) or get_origin(selector) is Union:
        out: list[type[Event]] = []
        for arg in get_args(selector):
            out.extend(_flatten(arg))
        return tuple(out)
    if isinstance(selector, Iterable) and not isinstance(selector, str | bytes):
        out = []
        for item in selector:
            out.extend(_flatten(item))
        return tuple(out)
    raise TypeError(f"cannot subscribe to {selector!r}: give Event classes, a union or ALL_EVENTS")


@dataclass(eq=False)
class Subscription:
    """One handler's mailbox. ``dropped`` counts DATA events discarded under ``drop_oldest``."""

    handler: Handler
    types: tuple[type[Event], ...] | None
    maxsize: int
    overflow: Overflow
    name: str
    dropped: int = 0
    _urgent: collections.deque[Event] = field(default_factory=collections.deque)
    _data: collections.deque[Event] = field(default_factory=collections.deque)
    _latest: dict[object, Event] = field(default_factory=dict)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _space: asyncio.Event = field(default_factory=asyncio.Event)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _closed: bool = False

    def wants(self, event: Event) -> bool:
        return self.types is None or isinstance(event, self.types)

    def pending(self) -> int:
        return len(self._urgent) + len(self._data) + len(self._latest)

    async def offer(self, event: Event) -> None:
        if self._closed:
            return
        kind = type(event).delivery
        if kind is Delivery.CONTROL:
            self._urgent.append(event)
        elif kind is Delivery.LATEST:
            self._latest.pop(event.coalesce_key(), None)
            self._latest[event.coalesce_key()] = event
        else:
            while len(self._data) >= self.maxsize and not self._closed:
                if self.overflow == "drop_oldest":
                    self._data.popleft()
                    self.dropped += 1
                    break
                self._space.clear()
                await self._space.wait()
            self._data.append(event)
        self._idle.clear()
        self._wakeup.set()

    def _next(self) -> Event | None:
        if self._urgent:
            return self._urgent.popleft()
        if self._data:
            event = self._data.popleft()
            self._space.set()
            return event
        if self._latest:
            key = next(iter(self._latest))
            return self._latest.pop(key)
        return None

    async def run(self) -> None:
        while not self._closed:
            event = self._next()
            if event is None:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            try:
                result = self.handler(event)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("subscriber %s failed on %s", self.name, event.type)

    async def wait_idle(self) -> None:
        while self.pending() or not self._idle.is_set():
            if self._task is None or self._task.done():
                return
            await self._idle.wait()
            if self.pending():
                self._idle.clear()
                await asyncio.sleep(0)


class EventBus:
    """Publish typed events to subscribers by class, union or ``ALL_EVENTS``."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def subscribe(
        self,
        selector: object,
        handler: Handler,
        *,
        maxsize: int = 1024,
        overflow: Overflow = "block",
        name: str | None = None,
    ) -> Subscription:
        """Deliver matching events to ``handler`` (sync or async) from its own task."""
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        types = None if selector is ALL_EVENTS else _flatten(selector)
        label = name or str(getattr(handler, "__qualname__", None) or repr(handler))
        sub = Subscription(handler, types, maxsize, overflow, label)
        sub._space.set()
        sub._idle.set()
        self._loop = asyncio.get_running_loop()
        sub._task = self._loop.create_task(sub.run(), name=f"bus:{label}")
        self._subs.append(sub)
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
        sub._closed = True
        sub._space.set()
        if sub._task is not None:
            sub._task.cancel()
            await asyncio.gather(sub._task, return_exceptions=True)

    async def publish(self, event: Event) -> None:
        """Hand ``event`` to every matching subscriber; waits only on full blocking mailboxes."""
        for sub in list(self._subs):
            if sub.wants(event):
                await sub.offer(event)

    def publish_threadsafe(self, event: Event) -> None:
        """Publish from another thread (an audio callback, a signal handler's thread)."""
        if self._loop is None:
            raise RuntimeError("the bus has no subscribers yet, so no loop to publish on")
        asyncio.run_coroutine_threadsafe(self.publish(event), self._loop)

    async def drain(self) -> None:
        """Wait until every subscriber has handled everything published so far."""
        for sub in list(self._subs):
            await sub.wait_idle()

    async def close(self) -> None:
        for sub in list(self._subs):
            await self.unsubscribe(sub)

    async def next_event(
        self, selector: object, *, predicate: Callable[[Any], bool] | None = None
    ) -> Any:
        """Wait for the next matching event; handy for request/response over the bus."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()

        def _catch(event: Event) -> None:
            if not fut.done() and (predicate is None or predicate(event)):
                fut.set_result(event)

        sub = self.subscribe(selector, _catch, name="next_event")
        try:
            return await fut
        finally:
            await self.unsubscribe(sub)
