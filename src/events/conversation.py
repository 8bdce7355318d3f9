"""Events that tell what happens in a conversation: turns, deltas, tools, handoffs, state.

Every front end renders these; storage records them. Field values are plain JSON types so
the socket can send them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.events.base import Delivery, Event

TurnSource = Literal["text", "voice"]


@dataclass(frozen=True, kw_only=True)
class ConversationOpened(Event):
    """A conversation became the current one (new or resumed)."""

    type: Literal["conversation.opened"] = "conversation.opened"
    conversation_id: str
    title: str
    resumed: bool = False
    turn_count: int = 0


@dataclass(frozen=True, kw_only=True)
class TurnStarted(Event):
    """The user said or typed something and the assistant is now working on it."""

    type: Literal["turn.started"] = "turn.started"
    conversation_id: str
    turn_id: str
    text: str
    source: TurnSource = "text"
    request_id: str = ""
    """The ``SubmitText.request_id`` this turn answers ("" for speech and untagged input)."""


@dataclass(frozen=True, kw_only=True)
class AssistantTextDelta(Event):
    """A piece of the answer as it is generated; front ends append it."""

    type: Literal["assistant.text.delta"] = "assistant.text.delta"
    turn_id: str
    delta: str


@dataclass(frozen=True, kw_only=True)
class ToolCallStarted(Event):
    """A connector tool began running; ``progress`` is its own words for the user."""

    type: Literal["tool.started"] = "tool.started"
    turn_id: str
    call_id: str
    tool: str
    agent: str
    arguments: str
    progress: str


@dataclass(frozen=True, kw_only=True)
class ToolCallFinished(Event):
    """A tool returned; ``ok`` is false when it returned an error sentence."""

    type: Literal["tool.finished"] = "tool.finished"
    turn_id: str
    call_id: str
    tool: str
    ok: bool
    result: str


@dataclass(frozen=True, kw_only=True)
class HandoffOccurred(Event):
    """The orchestrator passed the turn to a specialist (or back)."""

    type: Literal["handoff"] = "handoff"
    turn_id: str
    from_agent: str
    to_agent: str


@dataclass(frozen=True, kw_only=True)
class AssistantMessageCompleted(Event):
    """The whole answer text of a turn, once generation ended."""

    type: Literal["assistant.message.completed"] = "assistant.message.completed"
    turn_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class FollowUpsSuggested(Event):
    """Prompts the user might want next, offered after an answer."""

    type: Literal["followups.suggested"] = "followups.suggested"
    turn_id: str
    suggestions: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class TurnCompleted(Event):
    """The turn is stored and done; the figures are for this turn alone."""

    type: Literal["turn.completed"] = "turn.completed"
    conversation_id: str
    turn_id: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True, kw_only=True)
class TurnCancelled(Event):
    """The user cancelled the turn; what was said so far is kept."""

    type: Literal["turn.cancelled"] = "turn.cancelled"
    conversation_id: str
    turn_id: str
    reason: str = "cancelled by the user"


@dataclass(frozen=True, kw_only=True)
class TurnFailed(Event):
    """The turn could not be answered; ``message`` is written for the user."""

    type: Literal["turn.failed"] = "turn.failed"
    conversation_id: str
    turn_id: str
    message: str
    retryable: bool = False
    setup_needed: Literal["", "openai_key"] = ""
    """Set when only the user can fix it (the key was refused); a ``SetupNeeded`` follows."""


@dataclass(frozen=True, kw_only=True)
class StateChanged(Event):
    """The conversation state machine moved; values are ``ConversationState`` names."""

    type: Literal["state.changed"] = "state.changed"
    previous: str
    current: str


@dataclass(frozen=True, kw_only=True)
class PartialTranscript(Event):
    """A live, not yet final transcript of one item; only the newest text per item matters."""

    delivery = Delivery.LATEST
    type: Literal["transcript.partial"] = "transcript.partial"
    item_id: str
    role: Literal["user", "assistant"]
    text: str

    def coalesce_key(self) -> object:
        return (type(self), self.item_id)


@dataclass(frozen=True, kw_only=True)
class InputLevel(Event):
    """Microphone level for meters, in dBFS; coalesced to the latest value."""

    delivery = Delivery.LATEST
    type: Literal["audio.level"] = "audio.level"
    dbfs: float


@dataclass(frozen=True, kw_only=True)
class ErrorReported(Event):
    """Something went wrong outside a turn; ``message`` is written for the user."""

    type: Literal["error"] = "error"
    source: str
    message: str


ConversationEvent = (
    ConversationOpened
    | TurnStarted
    | AssistantTextDelta
    | ToolCallStarted
    | ToolCallFinished
    | HandoffOccurred
    | AssistantMessageCompleted
    | FollowUpsSuggested
    | TurnCompleted
    | TurnCancelled
    | TurnFailed
)
"""Everything a transcript view renders."""

TurnEnded = TurnCompleted | TurnCancelled | TurnFailed
"""The three ways a turn ends; exactly one is published per turn."""
