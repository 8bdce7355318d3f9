"""The socket's one seat on the bus: it watches every event, answers waiters, feeds clients.

The bridge holds a single ``drop_oldest`` subscription, so however many clients connect and
however slow they are, the bus never waits on the socket: the handler only sorts each event
into the clients' own bounded outboxes (encoding it once, and only if someone wants it).

It also keeps the little state a front end needs to answer without asking a service: which
approvals are pending, whether voice is available, whether setup (a key) is needed, which
turns are running, and which turn each ``message.send`` became: ``TurnStarted`` carries the
``request_id`` of the ``SubmitText`` it answers. Text that reaches a turn another way (typed
into a voice session, which starts its turns itself) is paired in order by its text instead
(see ``_match_turn``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.base import Event
from src.events.bus import ALL_EVENTS, EventBus, Subscription
from src.events.commands import SubmitText
from src.events.conversation import (
    AssistantMessageCompleted,
    FollowUpsSuggested,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from src.events.queries import Query, QueryKind, QueryResult
from src.events.session import VoiceAvailability
from src.presentation.socket_protocol import encode_notification

log = logging.getLogger(__name__)

BRIDGE_MAILBOX = 8192
"""Events the bridge may fall behind by before the oldest are dropped (and reported)."""
QUERY_TIMEOUT_SECONDS = 10.0
YIELD_EVERY = 32
"""Events the bridge sorts before letting the clients' writers run (a burst must not starve
them: each writer can move a good part of the burst into its socket meanwhile)."""
TURN_END_TYPES = (TurnCompleted, TurnCancelled, TurnFailed)


class Lane:
    """Where a client wants an event: droppable, or with the replies that are never dropped."""

    EVENT = "event"
    MUST = "must"


class BridgeClient(Protocol):
    """What the bridge needs of a connection."""

    @property
    def outbox(self) -> Any: ...

    def route(self, event: Event) -> str | None:
        """``Lane.EVENT``, ``Lane.MUST`` or ``None`` (not wanted)."""
        ...


class TurnOwner(Protocol):
    """Told, in bus order, when a submitted message becomes a turn and when that turn ends."""

    def turn_started(self, request: TurnRequest) -> None: ...

    def turn_ended(self, request: TurnRequest) -> None: ...


@dataclass(eq=False)
class TurnRequest:
    """One message submitted through the socket, followed from submission to its end."""

    request_id: str
    text: str
    owner: TurnOwner | None
    started: asyncio.Future[TurnStarted | None]
    """The turn's start, or ``None`` if the message never became a turn."""
    ended: asyncio.Future[Event]
    turn_id: str = ""
    conversation_id: str = ""
    answer: str = ""
    followups: tuple[str, ...] = ()


@dataclass(eq=False)
class _Waiter:
    predicate: Callable[[Event], bool]
    future: asyncio.Future[Event]


@dataclass
class _Submitted:
    request_id: str
    text: str


@dataclass
class BridgeState:
    """What the bridge has learnt from the bus (read by methods and the headless runner)."""

    pending_approvals: dict[str, ApprovalRequested] = field(default_factory=dict)
    voice: VoiceAvailability | None = None
    active_turns: dict[str, TurnStarted] = field(default_factory=dict)


class BusBridge:
    def __init__(self, bus: EventBus, *, mailbox: int = BRIDGE_MAILBOX) -> None:
        self.bus = bus
        self.state = BridgeState()
        self._mailbox = mailbox
        self._clients: list[BridgeClient] = []
        self._submitted: collections.deque[_Submitted] = collections.deque()
        self._requests: dict[str, TurnRequest] = {}
        self._turns: dict[str, TurnRequest] = {}
        self._queries: dict[str, asyncio.Future[QueryResult]] = {}
        self._waiters: list[_Waiter] = []
        self._ids = itertools.count(1)
        self._prefix = f"sock-{secrets.token_hex(3)}-"
        self._sub: Subscription | None = None
        self._lost_seen = 0
        self._since_yield = 0
        self._behind = False

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self._sub = self.bus.subscribe(
            ALL_EVENTS,
            self._on_event,
            maxsize=self._mailbox,
            overflow="drop_oldest",
            name="socket.bridge",
        )

    async def close(self) -> None:
        if self._sub is not None:
            await self.bus.unsubscribe(self._sub)
            self._sub = None
        pending: list[asyncio.Future[Any]] = [*self._queries.values()]
        pending += [w.future for w in self._waiters]
        for request in {*self._requests.values(), *self._turns.values()}:
            pending += [request.started, request.ended]
        for future in pending:
            future.cancel()
        self._queries.clear()
        self._waiters.clear()

    def add_client(self, client: BridgeClient) -> None:
        self._clients.append(client)

    def remove_client(self, client: BridgeClient) -> None:
        with contextlib.suppress(ValueError):
            self._clients.remove(client)

    @property
    def clients(self) -> int:
        return len(self._clients)

    @property
    def lost(self) -> int:
        """Events the bridge itself dropped because it fell behind the bus."""
        return self._sub.dropped if self._sub is not None else self._lost_seen

    # -- asking the rest of Hark ------------------------------------------------------------

    def new_id(self) -> str:
        return f"{self._prefix}{next(self._ids)}"

    async def query(
        self,
        kind: QueryKind,
        params: dict[str, Any] | None = None,
        timeout: float = QUERY_TIMEOUT_SECONDS,
    ) -> QueryResult:
        """Publish a ``Query`` and wait for its ``QueryResult`` (``TimeoutError`` if none)."""
        request_id = self.new_id()
        future: asyncio.Future[QueryResult] = asyncio.get_running_loop().create_future()
        self._queries[request_id] = future
        try:
            await self.bus.publish(Query(request_id=request_id, kind=kind, params=params or {}))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._queries.pop(request_id, None)

    @contextlib.contextmanager
    def expecting(self, predicate: Callable[[Event], bool]) -> Iterator[asyncio.Future[Event]]:
        """A future for the next event matching ``predicate``; register it before publishing."""
        waiter = _Waiter(predicate, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            yield waiter.future
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)

    async def submit(self, text: str, owner: TurnOwner | None) -> TurnRequest:
        """Publish ``SubmitText`` and follow the turn it becomes."""
        loop = asyncio.get_running_loop()
        request = TurnRequest(
            request_id=self.new_id(),
            text=text.strip(),
            owner=owner,
            started=loop.create_future(),
            ended=loop.create_future(),
        )
        self._requests[request.request_id] = request
        await self.bus.publish(SubmitText(text=request.text, request_id=request.request_id))
        return request

    @property
    def busy(self) -> bool:
        """A turn is running or a submitted message is waiting to become one."""
        return bool(self.state.active_turns or self._submitted)

    # -- the bus side -----------------------------------------------------------------------

    async def _on_event(self, event: Event) -> None:
        self._report_losses()
        self._track(event)
        self._resolve(event)
        self._fan_out(event)
        if isinstance(event, TURN_END_TYPES):
            self._end_turn(event)
        self._since_yield += 1
        if self._since_yield >= YIELD_EVERY and not self._backlogged():
            self._since_yield = 0
            await asyncio.sleep(0)

    def _backlogged(self) -> bool:
        """Half the mailbox is waiting: catch up first, or the shared mailbox would overflow
        (losing events for every client) instead of only slow clients' own outboxes."""
        return self._sub is not None and self._sub.pending() > self._mailbox // 2

    def _report_losses(self) -> None:
        if self._sub is None:
            return
        lost = self._sub.dropped - self._lost_seen
        if lost > 0:
            self._lost_seen = self._sub.dropped
            if not self._behind:
                log.warning("the socket fell behind the bus; events are being dropped")
            self._behind = True
            for client in self._clients:
                client.outbox.note_lost(lost)
        elif self._behind and not self._sub.pending():
            self._behind = False
            log.warning("the socket caught up; %d events dropped so far", self._lost_seen)

    def _track(self, event: Event) -> None:
        state = self.state
        if isinstance(event, SubmitText):
            text = event.text.strip()
            if text:
                self._submitted.append(_Submitted(event.request_id, text))
        elif isinstance(event, TurnStarted):
            state.active_turns[event.turn_id] = event
            if event.source == "text":
                self._match_turn(event)
        elif isinstance(event, AssistantMessageCompleted):
            request = self._turns.get(event.turn_id)
            if request is not None:
                request.answer = event.text
        elif isinstance(event, FollowUpsSuggested):
            request = self._turns.get(event.turn_id)
            if request is not None:
                request.followups = event.suggestions
        elif isinstance(event, ApprovalRequested):
            state.pending_approvals[event.approval_id] = event
        elif isinstance(event, ApprovalResolved):
            state.pending_approvals.pop(event.approval_id, None)
        elif isinstance(event, VoiceAvailability):
            state.voice = event

    def _match_turn(self, event: TurnStarted) -> None:
        """Pair a text turn with its submission: by request id, else the oldest of that text.

        The conversation service takes submissions one at a time in bus order, so earlier
        submissions still waiting were never taken up (a failure before the turn began):
        their senders are told instead of being left waiting.
        """
        if event.request_id:
            index = next(
                (i for i, s in enumerate(self._submitted) if s.request_id == event.request_id),
                None,
            )
        else:
            index = next((i for i, s in enumerate(self._submitted) if s.text == event.text), None)
        if index is None:
            return  # typed into another front end before the socket subscribed
        for _ in range(index):
            skipped = self._requests.pop(self._submitted.popleft().request_id, None)
            if skipped is not None and not skipped.started.done():
                skipped.started.set_result(None)
                skipped.ended.cancel()
        matched = self._requests.pop(self._submitted.popleft().request_id, None)
        if matched is None:
            return
        matched.turn_id = event.turn_id
        matched.conversation_id = event.conversation_id
        self._turns[event.turn_id] = matched
        if matched.owner is not None:
            matched.owner.turn_started(matched)
        if not matched.started.done():
            matched.started.set_result(event)

    def _end_turn(self, event: TurnCompleted | TurnCancelled | TurnFailed) -> None:
        self.state.active_turns.pop(event.turn_id, None)
        request = self._turns.pop(event.turn_id, None)
        if request is None:
            return
        if request.owner is not None:
            request.owner.turn_ended(request)
        if not request.ended.done():
            request.ended.set_result(event)

    def _resolve(self, event: Event) -> None:
        if isinstance(event, QueryResult):
            future = self._queries.pop(event.request_id, None)
            if future is not None and not future.done():
                future.set_result(event)
        for waiter in list(self._waiters):
            if not waiter.future.done() and waiter.predicate(event):
                waiter.future.set_result(event)

    def _fan_out(self, event: Event) -> None:
        line: bytes | None = None
        for client in self._clients:
            lane = client.route(event)
            if lane is None:
                continue
            if line is None:
                try:
                    line = encode_notification("event", event.to_json())
                except (TypeError, ValueError):
                    log.exception("event %s has no JSON form; not sent to clients", event.type)
                    return
            if lane == Lane.MUST:
                client.outbox.put_reply(line)
            else:
                client.outbox.put_event(line)
