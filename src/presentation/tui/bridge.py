"""The TUI's only door to the bus: rendered events come in, commands and queries go out.

Events are handed to the app as Textual messages, so every widget update happens in the app's
own message loop, in the order the bus delivered them. Queries are matched to their answers by
``request_id``; an answer that never comes (the assistant is still starting, or has stopped)
becomes a failed ``QueryResult`` after a while instead of a screen that waits forever.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Mapping
from typing import Any

from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.base import Event
from src.events.bus import EventBus, Subscription
from src.events.conversation import (
    AssistantMessageCompleted,
    AssistantTextDelta,
    ConversationOpened,
    ErrorReported,
    FollowUpsSuggested,
    HandoffOccurred,
    InputLevel,
    PartialTranscript,
    StateChanged,
    ToolCallFinished,
    ToolCallStarted,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from src.events.queries import Query, QueryKind, QueryResult
from src.events.realtime import RealtimeConnectionChanged
from src.events.session import (
    ListeningChanged,
    SetupNeeded,
    TurnDetectionChanged,
    VoiceAvailability,
)
from src.events.voice import TranscriptCompleted, UserSpeechStarted, UserSpeechStopped

RENDERED_EVENTS: tuple[type[Event], ...] = (
    ConversationOpened,
    TurnStarted,
    AssistantTextDelta,
    ToolCallStarted,
    ToolCallFinished,
    HandoffOccurred,
    AssistantMessageCompleted,
    FollowUpsSuggested,
    TurnCompleted,
    TurnCancelled,
    TurnFailed,
    StateChanged,
    PartialTranscript,
    InputLevel,
    ErrorReported,
    UserSpeechStarted,
    UserSpeechStopped,
    TranscriptCompleted,
    ApprovalRequested,
    ApprovalResolved,
    ListeningChanged,
    TurnDetectionChanged,
    VoiceAvailability,
    SetupNeeded,
    RealtimeConnectionChanged,
)
"""Everything the TUI shows. Commands and queries are not here: the TUI sends those."""

QUERY_TIMEOUT_SECONDS = 10.0

_request_numbers = itertools.count(1)


class BusBridge:
    """Subscribes once for the app, publishes for it, and answers its queries."""

    def __init__(
        self,
        bus: EventBus,
        deliver: Callable[[Event], None],
        *,
        query_timeout: float = QUERY_TIMEOUT_SECONDS,
    ) -> None:
        self._bus = bus
        self._deliver = deliver
        self._query_timeout = query_timeout
        self._waiting: dict[str, asyncio.Future[QueryResult]] = {}
        self._subs: list[Subscription] = []

    def attach(self) -> None:
        """Start receiving; needs the running loop, so the app calls it once it is up."""
        if self._subs:
            return
        self._subs = [
            self._bus.subscribe(RENDERED_EVENTS, self._deliver, name="tui"),
            self._bus.subscribe(QueryResult, self._answered, name="tui.queries"),
        ]

    async def detach(self) -> None:
        for sub in self._subs:
            await self._bus.unsubscribe(sub)
        self._subs = []
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    async def publish(self, command: Event) -> None:
        await self._bus.publish(command)

    async def ask(self, kind: QueryKind, params: Mapping[str, Any] | None = None) -> QueryResult:
        """Publish a ``Query`` and wait for its ``QueryResult`` (or a failed one on timeout)."""
        request_id = f"tui-{next(_request_numbers)}"
        future: asyncio.Future[QueryResult] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            await self._bus.publish(
                Query(request_id=request_id, kind=kind, params=dict(params or {}))
            )
            return await asyncio.wait_for(future, self._query_timeout)
        except TimeoutError:
            return QueryResult(
                request_id=request_id,
                kind=kind,
                ok=False,
                error="Hark did not answer; it may still be starting. Try again in a moment.",
            )
        finally:
            self._waiting.pop(request_id, None)

    def _answered(self, result: QueryResult) -> None:
        future = self._waiting.get(result.request_id)
        if future is not None and not future.done():
            future.set_result(result)
