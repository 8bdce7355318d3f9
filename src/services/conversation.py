"""The conversation manager: turns commands into turns, and turns into stored history.

It listens for ``SubmitText`` and ``CancelTurn`` on the bus, drives the state machine, runs
each turn through the text runner, and writes everything to the history store. A turn is
committed to SQLite before ``TurnCompleted`` is published, so whatever a front end shows as
done is already on disk. Turns run one at a time, in the order they were submitted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Protocol

from src.domain.history import Conversation, ToolCall, Turn, TurnStatus, make_title, new_id
from src.domain.state import ConversationState, ConversationStateMachine
from src.events.base import Event
from src.events.bus import EventBus
from src.events.commands import CancelTurn, NewConversation, ResumeConversation, SubmitText
from src.events.conversation import (
    AssistantMessageCompleted,
    AssistantTextDelta,
    ConversationOpened,
    ErrorReported,
    FollowUpsSuggested,
    HandoffOccurred,
    StateChanged,
    ToolCallFinished,
    ToolCallStarted,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from src.events.session import SetupNeeded
from src.events.tasks import TaskOwner
from src.services.live_api_key import LiveApiKey
from src.services.model_errors import ModelError
from src.services.storage import DEFAULT_TITLE, HistoryStore, StorageError
from src.services.text_runner import UNHANDLED_TOOL, RunFinished

log = logging.getLogger(__name__)

S = ConversationState


class TurnStreamer(Protocol):
    @property
    def model(self) -> str: ...

    def stream(self, turn_id: str, context: Sequence[Any], text: str) -> Any: ...


FollowUps = Callable[[Sequence[ToolCall]], Sequence[str]]
TextRouter = Callable[[str], Awaitable[bool]]
"""Takes typed text instead of the text runner (a live voice session does); True if taken."""


KEY_RECHECK_SECONDS = 10.0
"""How often the secrets store is read again while the server refuses the key."""


class ConversationService:
    def __init__(
        self,
        bus: EventBus,
        store: HistoryStore,
        runner: TurnStreamer,
        *,
        followups: FollowUps | None = None,
        state: ConversationStateMachine | None = None,
        api_key: LiveApiKey | None = None,
        key_recheck_seconds: float = KEY_RECHECK_SECONDS,
    ) -> None:
        self._bus = bus
        self._api_key = api_key
        self._key_recheck = key_recheck_seconds
        self._key_watch: asyncio.Task[None] | None = None
        self._store = store
        self._runner = runner
        self._followups = followups
        self.state = state or ConversationStateMachine()
        self._tasks = TaskOwner("conversation")
        self._queue: asyncio.Queue[SubmitText | NewConversation | ResumeConversation] = (
            asyncio.Queue()
        )
        self._current: asyncio.Task[None] | None = None
        self.conversation: Conversation | None = None
        self._pending_state: list[StateChanged] = []
        self.state.on_change(self._state_changed)
        self.text_router: TextRouter | None = None
        self.store = store

    def _state_changed(self, previous: ConversationState, current: ConversationState) -> None:
        self._pending_state.append(StateChanged(previous=previous.value, current=current.value))

    async def _move(self, target: ConversationState) -> None:
        self.state.to(target)
        pending, self._pending_state = self._pending_state, []
        for event in pending:
            await self._bus.publish(event)

    async def move(self, target: ConversationState) -> bool:
        """Move the shared state machine if the move is legal; report whether it moved.

        The voice path follows a server whose event order it does not control, so it asks
        rather than forces: an impossible move is logged and skipped, never a crash.
        """
        if not self.state.can(target):
            log.debug("state %s -> %s skipped", self.state.state.value, target.value)
            return False
        await self._move(target)
        return True

    async def open(self, resume: str | None = None, *, resume_latest: bool = False) -> Conversation:
        """Start a new conversation, or continue a stored one with its context."""
        conv: Conversation | None = None
        if resume_latest:
            latest = self._store.latest_conversation_id()
            conv = self._store.load_conversation(latest) if latest else None
        elif resume:
            conv = self._store.load_conversation(self._store.resolve_id(resume))
        resumed = conv is not None
        if conv is None:
            conv = self._store.create_conversation(model=self._runner.model)
        self.conversation = conv
        await self._bus.publish(
            ConversationOpened(
                conversation_id=conv.id,
                title=conv.title,
                resumed=resumed,
                turn_count=len(conv.turns),
            )
        )
        return conv

    async def start(self) -> None:
        self._bus.subscribe(
            SubmitText | NewConversation | ResumeConversation,
            self._queue.put,
            name="conversation.commands",
        )
        self._bus.subscribe(CancelTurn, self._on_cancel, name="conversation.cancel")
        self._bus.subscribe(SetupNeeded, self._on_setup_needed, name="conversation.setup")
        self._tasks.spawn(self._worker(), "turns")

    async def close(self) -> None:
        await self._tasks.close()

    @property
    def idle(self) -> bool:
        return self._current is None and self._queue.empty()

    async def _on_cancel(self, _: CancelTurn) -> None:
        if self._current is not None and not self._current.done():
            self._current.cancel()

    async def _on_setup_needed(self, event: SetupNeeded) -> None:
        if event.what == "openai_key":
            self._key_refused()

    def _key_refused(self) -> None:
        """The text path or the voice link found the key refused: the next message looks in
        the secrets store first, and so does a watcher meanwhile."""
        key = self._api_key
        if key is None:
            return
        key.refused = True
        if self._key_watch is None or self._key_watch.done():
            self._key_watch = self._tasks.spawn(self._watch_for_new_key(key), "key-watch")

    async def _watch_for_new_key(self, key: LiveApiKey) -> None:
        """Look in the secrets store now and then while the key stays refused, so a key
        stored from another terminal brings voice back even if nobody types a message."""
        while key.refused:
            await asyncio.sleep(self._key_recheck)
            if key.refused:
                await key.refresh()

    async def _worker(self) -> None:
        while True:
            command = await self._queue.get()
            if not isinstance(command, SubmitText):
                await self._switch(command)
                continue
            if self._api_key is not None and self._api_key.refused:
                await self._api_key.refresh()  # its listeners rebuild the clients
            if self.text_router is not None and await self.text_router(command.text):
                continue
            task = asyncio.get_running_loop().create_task(
                self._run_turn(command.text, command.request_id), name="conversation:turn"
            )
            self._current = task
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                # Hark is shutting down: let the turn store itself as cancelled first.
                task.cancel()
                await asyncio.wait({task})
                raise
            finally:
                self._current = None

    async def _switch(self, command: NewConversation | ResumeConversation) -> None:
        """Change the current conversation between turns (queued behind any running turn)."""
        if isinstance(command, NewConversation):
            await self.open()
            return
        try:
            if command.conversation_id == "latest":
                await self.open(resume_latest=True)
            else:
                await self.open(command.conversation_id)
        except StorageError as exc:
            await self._bus.publish(ErrorReported(source="history", message=str(exc)))

    async def _run_turn(self, text: str, request_id: str = "") -> None:
        conv = self.conversation
        if conv is None:
            conv = await self.open()
        text = text.strip()
        if not text:
            return
        turn = Turn(id=new_id("turn"), conversation_id=conv.id, user_text=text)
        turn.model = self._runner.model
        context = conv.context_messages()
        self._store.start_turn(turn)
        conv.turns.append(turn)
        if conv.title == DEFAULT_TITLE:
            conv.title = make_title(text)  # the store titled it the same way
        await self._bus.publish(
            TurnStarted(
                conversation_id=conv.id,
                turn_id=turn.id,
                text=text,
                source="text",
                request_id=request_id,
            )
        )
        await self._move(S.THINKING)
        parts: list[str] = []
        calls: dict[str, ToolCall] = {}
        try:
            async for item in self._runner.stream(turn.id, context, text):
                if isinstance(item, RunFinished):
                    turn.assistant_text = item.text or "".join(parts)
                    turn.usage = item.usage
                    continue
                await self._apply(turn, item, parts, calls)
                await self._bus.publish(item)
        except asyncio.CancelledError:
            turn.assistant_text = "".join(parts)
            await self._end(turn, "cancelled")
            await self._bus.publish(TurnCancelled(conversation_id=conv.id, turn_id=turn.id))
            return
        except ModelError as exc:
            setup: Literal["", "openai_key"] = "openai_key" if exc.key_refused else ""
            await self._fail(turn, parts, "model", exc.message, exc.message, exc.retryable, setup)
            if setup:
                self._key_refused()  # before the next command is taken
                await self._bus.publish(SetupNeeded(what="openai_key", message=exc.message))
            return
        except Exception as exc:
            log.exception("turn %s failed", turn.id)
            await self._fail(
                turn,
                parts,
                "conversation",
                f"internal error ({type(exc).__name__})",
                "Something went wrong inside Hark; the details are in the log.",
            )
            return
        await self._end(turn, "completed")
        await self._bus.publish(
            AssistantMessageCompleted(turn_id=turn.id, text=turn.assistant_text)
        )
        if self._followups is not None:
            suggestions = tuple(self._followups(turn.tool_calls))
            if suggestions:
                await self._bus.publish(
                    FollowUpsSuggested(turn_id=turn.id, suggestions=suggestions)
                )
        await self._bus.publish(
            TurnCompleted(
                conversation_id=conv.id,
                turn_id=turn.id,
                input_tokens=turn.usage.input_tokens,
                output_tokens=turn.usage.output_tokens,
                cost_usd=turn.usage.cost_usd,
            )
        )

    async def _fail(
        self,
        turn: Turn,
        parts: list[str],
        source: str,
        error: str,
        message: str,
        retryable: bool = False,
        setup_needed: Literal["", "openai_key"] = "",
    ) -> None:
        """Store the failed turn with what was said so far, record the error, tell the user."""
        turn.assistant_text = "".join(parts)
        turn.error = error
        await self._end(turn, "failed")
        self._store.record_error(source, error, turn.conversation_id, turn.id)
        await self._bus.publish(
            TurnFailed(
                conversation_id=turn.conversation_id,
                turn_id=turn.id,
                message=message,
                retryable=retryable,
                setup_needed=setup_needed,
            )
        )

    async def _apply(
        self, turn: Turn, item: Event, parts: list[str], calls: dict[str, ToolCall]
    ) -> None:
        if isinstance(item, AssistantTextDelta):
            parts.append(item.delta)
            await self._move(S.ASSISTANT_SPEAKING)
        elif isinstance(item, ToolCallStarted):
            call = ToolCall(item.call_id, item.tool, item.agent, item.arguments)
            calls[item.call_id] = call
            turn.tool_calls.append(call)
            self._store.record_tool_call(turn.id, call)
            if item.tool == UNHANDLED_TOOL:
                self._store.record_unhandled(
                    turn.conversation_id, turn.id, turn.user_text, _reason(item.arguments)
                )
            await self._move(S.TOOL_RUNNING)
        elif isinstance(item, ToolCallFinished):
            finished = calls.get(item.call_id)
            if finished is not None:
                finished.result, finished.ok = item.result, item.ok
            self._store.finish_tool_call(turn.id, item.call_id, item.result, item.ok)
            await self._move(S.THINKING)
        elif isinstance(item, HandoffOccurred):
            turn.handoffs.append(item.to_agent)
            self._store.record_handoff(turn.id, item.to_agent)

    async def _end(self, turn: Turn, status: TurnStatus) -> None:
        turn.status = status
        turn.finished_at = time.time()
        self._store.finish_turn(turn)
        if status == "cancelled" and self.state.can(S.INTERRUPTED):
            await self._move(S.INTERRUPTED)
        await self._move(S.IDLE)

    async def report_error(self, source: str, message: str) -> None:
        self._store.record_error(source, message)
        await self._bus.publish(ErrorReported(source=source, message=message))


def _reason(arguments: str) -> str:
    try:
        data = json.loads(arguments)
    except json.JSONDecodeError:
        return arguments
    if isinstance(data, dict):
        return str(data.get("reason", "")) or arguments
    return arguments
