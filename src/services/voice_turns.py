"""Voice turns into history: the same SQLite rows, events and states as text turns.

The Realtime server tells its story in its own order (the user's transcript may arrive after
the answer began; a tool call splits an answer into two responses). This recorder listens to
the bus and turns that story into Hark's: one ``Turn`` per user request, started when the
user stops speaking (or types), holding the transcript, every tool call, the answer as heard
and the tokens and cost of all its responses, committed before ``TurnCompleted`` goes out.
It also moves the shared conversation state machine for the voice path.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from src.domain.history import ToolCall, Turn, TurnStatus, Usage, make_title, new_id
from src.domain.pricing import cost_usd
from src.domain.state import ConversationState
from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.bus import EventBus
from src.events.conversation import (
    AssistantMessageCompleted,
    PartialTranscript,
    ToolCallFinished,
    ToolCallStarted,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from src.events.voice import (
    RealtimeResponseDone,
    TranscriptCompleted,
    UserSpeechStarted,
    UserSpeechStopped,
)
from src.services.conversation import ConversationService
from src.services.storage import DEFAULT_TITLE

log = logging.getLogger(__name__)

S = ConversationState


@dataclass
class _Open:
    """The turn being built, and what the server still owes it."""

    turn: Turn
    announced: bool = False
    answer: list[str] = field(default_factory=list)
    calls: dict[str, ToolCall] = field(default_factory=dict)
    responses_with_tools: set[str] = field(default_factory=set)
    responses_done: int = 0
    answered: bool = False
    """The server finished the answer; the turn ends once its audio has been heard."""


class VoiceTurnRecorder:
    def __init__(
        self,
        bus: EventBus,
        conversation: ConversationService,
        model: str,
        audio_pending: Callable[[], bool] = lambda: False,
    ) -> None:
        self._bus = bus
        self._conv = conversation
        self._model = model
        self._audio_pending = audio_pending
        self._open: _Open | None = None
        self._playing = False
        self._answer_done = True
        self._awaiting_approval: set[str] = set()
        """Approvals pending: the user's speech meanwhile answers them; it is not a turn."""

    async def start(self) -> None:
        self._bus.subscribe(
            UserSpeechStarted
            | UserSpeechStopped
            | TranscriptCompleted
            | PartialTranscript
            | ToolCallStarted
            | ToolCallFinished
            | RealtimeResponseDone
            | ApprovalRequested
            | ApprovalResolved,
            self._on_event,
            name="voice.turns",
        )

    @property
    def current(self) -> Turn | None:
        return self._open.turn if self._open else None

    # -- what the voice session reports directly ------------------------------------------
    async def typed(self, text: str) -> None:
        """Typed input during a voice session: a turn of its own, source "text"."""
        await self._close_if_answered()
        await self._begin(text, source="text")
        await self._conv.move(S.THINKING)

    async def listening(self, on: bool) -> None:
        """The microphone was opened to the conversation, or closed."""
        await self._conv.move(S.LISTENING if on else S.IDLE)

    async def playback_changed(self, playing: bool) -> None:
        """The speaker started or stopped playing the assistant's audio."""
        self._playing = playing
        if playing:
            await self._conv.move(S.ASSISTANT_SPEAKING)
        elif self._open is not None and self._open.answered and not self._audio_pending():
            await self._finish("completed")
        elif self._answer_done or self._awaiting_approval:
            # After an approval question, the microphone waits for the user's answer.
            await self._conv.move(S.LISTENING)

    async def interrupted(self) -> None:
        """A confirmed barge-in: the answer was cut where the user stopped hearing it."""
        if self._awaiting_approval:
            # The user talked over the approval question: that is the answer, and the
            # request it is about (a tool waiting for it) is still under way.
            return
        await self._conv.move(S.INTERRUPTED)
        if self._open is not None:
            await self._finish("cancelled")
        await self._conv.move(S.USER_SPEAKING)

    # -- server events --------------------------------------------------------------------
    async def _on_event(self, event: object) -> None:
        if isinstance(event, ApprovalRequested):
            self._awaiting_approval.add(event.approval_id)
        elif isinstance(event, ApprovalResolved):
            self._awaiting_approval.discard(event.approval_id)
        elif self._awaiting_approval and _is_user_speech(event):
            return  # "yes", "no": an answer to the approval question (SpokenApprovals)
        elif isinstance(event, UserSpeechStarted):
            await self._close_if_answered()
            await self._conv.move(S.USER_SPEAKING)
        elif isinstance(event, UserSpeechStopped):
            if self._open is None:
                await self._begin("", source="voice")
            await self._conv.move(S.THINKING)
        elif isinstance(event, TranscriptCompleted):
            await self._transcript(event)
        elif isinstance(event, PartialTranscript) and event.role == "assistant":
            # Partials are coalesced (newest only) and may arrive after the response ended:
            # they mark an answer in progress, but never open a turn.
            if self._open is not None:
                self._answer_done = False
        elif isinstance(event, ToolCallStarted):
            await self._tool_started(event)
        elif isinstance(event, ToolCallFinished):
            await self._tool_finished(event)
        elif isinstance(event, RealtimeResponseDone):
            await self._response_done(event)

    async def _transcript(self, event: TranscriptCompleted) -> None:
        if event.role == "user":
            if self._open is None or self._open.turn.user_text:
                await self._close_if_answered()
                await self._begin(event.text, source="voice")
            else:
                self._open.turn.user_text = event.text
            await self._announce()
            return
        if self._open is None:
            await self._begin("", source="voice")
        assert self._open is not None
        self._open.answer.append(event.text)

    async def _tool_started(self, event: ToolCallStarted) -> None:
        if self._open is None:
            await self._begin("", source="voice")
        assert self._open is not None
        call = ToolCall(event.call_id, event.tool, event.agent, event.arguments)
        self._open.calls[event.call_id] = call
        self._open.turn.tool_calls.append(call)
        self._open.responses_with_tools.add(event.turn_id)
        self._conv.store.record_tool_call(self._open.turn.id, call)
        await self._conv.move(S.TOOL_RUNNING)

    async def _tool_finished(self, event: ToolCallFinished) -> None:
        if self._open is None:
            return
        call = self._open.calls.get(event.call_id)
        if call is not None:
            call.result, call.ok, call.finished_at = event.result, event.ok, time.time()
        self._conv.store.finish_tool_call(self._open.turn.id, event.call_id, event.result, event.ok)
        await self._conv.move(S.THINKING)

    async def _response_done(self, event: RealtimeResponseDone) -> None:
        if self._open is None:
            return
        turn = self._open.turn
        extra = Usage(
            event.input_tokens,
            event.output_tokens,
            cost_usd(self._model, event.input_tokens, event.output_tokens),
        )
        turn.usage = turn.usage + extra
        if event.aside:
            return  # an approval question asked during the turn: paid for, but no answer
        self._open.responses_done += 1
        if event.status == "cancelled":
            await self._finish("cancelled")
        elif event.status in ("failed", "incomplete"):
            turn.error = f"the voice answer ended as {event.status}"
            await self._finish("failed")
        elif event.response_id not in self._open.responses_with_tools:
            self._open.answered = True
            if not self._audio_pending():
                await self._finish("completed")
            # Otherwise the server was faster than the speaker: finish when playback ends,
            # so an interruption while it plays still cancels this turn.
        # A response that called tools is continued by another one: the turn stays open.

    # -- turn bookkeeping -----------------------------------------------------------------
    async def _begin(self, text: str, *, source: str) -> None:
        conv = self._conv.conversation or await self._conv.open()
        turn = Turn(
            id=new_id("turn"),
            conversation_id=conv.id,
            user_text=text,
            source="text" if source == "text" else "voice",
            model=self._model,
        )
        self._conv.store.start_turn(turn)
        conv.turns.append(turn)
        if text and conv.title == DEFAULT_TITLE:
            conv.title = make_title(text)
        self._open = _Open(turn)
        self._answer_done = False
        if text:
            await self._announce()

    async def _announce(self) -> None:
        if self._open is None or self._open.announced or not self._open.turn.user_text:
            return
        self._open.announced = True
        turn = self._open.turn
        await self._bus.publish(
            TurnStarted(
                conversation_id=turn.conversation_id,
                turn_id=turn.id,
                text=turn.user_text,
                source=turn.source,
            )
        )

    async def _close_if_answered(self) -> None:
        """A new request while the last one is open: store the last one as it stands.

        While the answer is still being heard, the barge-in policy decides its fate (a
        backchannel lets it finish; an interruption cancels it), so it is left open.
        """
        if self._audio_pending():
            return
        if self._open is not None and (self._open.answer or self._open.responses_done):
            await self._finish("completed" if self._open.answered else "cancelled")

    async def _finish(self, status: TurnStatus) -> None:
        state, self._open = self._open, None
        if state is None:
            return
        turn = state.turn
        turn.assistant_text = " ".join(a.strip() for a in state.answer if a.strip())
        turn.status = status
        turn.finished_at = time.time()
        if not turn.user_text:
            turn.user_text = "(speech that was not transcribed)"
        self._conv.store.finish_turn(turn)  # committed before anyone hears it is done
        await self._announce_end(turn, state)
        self._answer_done = True
        if not self._playing:
            await self._conv.move(S.LISTENING)

    async def _announce_end(self, turn: Turn, state: _Open) -> None:
        if not state.announced:
            state.announced = True
            await self._bus.publish(
                TurnStarted(
                    conversation_id=turn.conversation_id,
                    turn_id=turn.id,
                    text=turn.user_text,
                    source=turn.source,
                )
            )
        if turn.status == "completed":
            await self._bus.publish(
                AssistantMessageCompleted(turn_id=turn.id, text=turn.assistant_text)
            )
            await self._bus.publish(
                TurnCompleted(
                    conversation_id=turn.conversation_id,
                    turn_id=turn.id,
                    input_tokens=turn.usage.input_tokens,
                    output_tokens=turn.usage.output_tokens,
                    cost_usd=turn.usage.cost_usd,
                )
            )
        elif turn.status == "cancelled":
            await self._bus.publish(
                TurnCancelled(
                    conversation_id=turn.conversation_id,
                    turn_id=turn.id,
                    reason="interrupted by the user",
                )
            )
        else:
            await self._bus.publish(
                TurnFailed(
                    conversation_id=turn.conversation_id,
                    turn_id=turn.id,
                    message=turn.error or "The voice answer failed.",
                )
            )

    async def close(self) -> None:
        """Shutting down: whatever is open is stored as it stands."""
        if self._open is not None:
            await self._finish("cancelled")


def _is_user_speech(event: object) -> bool:
    return isinstance(event, UserSpeechStarted | UserSpeechStopped) or (
        isinstance(event, TranscriptCompleted | PartialTranscript) and event.role == "user"
    )
