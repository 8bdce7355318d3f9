"""Per-turn figures from bus events alone: latency, tokens, cost and the conversation total.

Latency is measured between the events' own timestamps, not the TUI's clock, so it shows what
the pipeline did rather than how fast the screen drew, and tests can pin it with fixed ``ts``.
For a voice turn the clock starts when the user stops speaking (``UserSpeechStopped``); for a
typed turn when the turn starts (``TurnStarted``). It stops at the first sign of the answer:
a text delta, an assistant transcript, or the state turning to ``assistant_speaking``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from src.events.base import Event
from src.events.conversation import (
    AssistantTextDelta,
    ConversationOpened,
    PartialTranscript,
    StateChanged,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from src.events.voice import TranscriptCompleted, UserSpeechStopped


@dataclass(frozen=True)
class TurnFigures:
    """What the last turn took; ``latency_s`` is None until the answer starts."""

    latency_s: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    done: bool = False


@dataclass(frozen=True)
class ConversationTotals:
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def plus(self, turn: TurnFigures) -> ConversationTotals:
        return ConversationTotals(
            self.turns + 1,
            self.input_tokens + turn.input_tokens,
            self.output_tokens + turn.output_tokens,
            self.cost_usd + turn.cost_usd,
        )


def _answer_began(event: Event) -> bool:
    if isinstance(event, AssistantTextDelta):
        return bool(event.delta)
    if isinstance(event, PartialTranscript | TranscriptCompleted):
        return event.role == "assistant" and bool(event.text)
    return isinstance(event, StateChanged) and event.current == "assistant_speaking"


class FiguresTracker:
    """Folds events into ``last`` (the latest turn) and ``total`` (the open conversation)."""

    def __init__(self) -> None:
        self.last = TurnFigures()
        self.total = ConversationTotals()
        self._clock_started: float | None = None
        self._speech_stopped: float | None = None

    def seed(self, total: ConversationTotals) -> None:
        """Start from a resumed conversation's stored totals."""
        self.total = total

    def observe(self, event: Event) -> bool:
        """Take one event into account; True when the figures changed."""
        if isinstance(event, ConversationOpened):
            self.last, self.total = TurnFigures(), ConversationTotals()
            self._clock_started = self._speech_stopped = None
            return True
        if isinstance(event, UserSpeechStopped):
            self._speech_stopped = event.ts
            return False
        if isinstance(event, TurnStarted):
            start = event.ts
            if event.source == "voice" and self._speech_stopped is not None:
                start = self._speech_stopped
            self._clock_started, self._speech_stopped = start, None
            self.last = TurnFigures()
            return True
        if self._clock_started is not None and _answer_began(event):
            latency = max(0.0, event.ts - self._clock_started)
            self._clock_started = None
            self.last = replace(self.last, latency_s=latency)
            return True
        if isinstance(event, TurnCompleted):
            self._clock_started = None
            self.last = replace(
                self.last,
                input_tokens=event.input_tokens,
                output_tokens=event.output_tokens,
                cost_usd=event.cost_usd,
                done=True,
            )
            self.total = self.total.plus(self.last)
            return True
        if isinstance(event, TurnCancelled | TurnFailed):
            self._clock_started = None
            self.last = replace(self.last, done=True)
            return True
        return False


def format_cost(usd: float) -> str:
    """Cents matter on small turns: four decimals under a dollar, two above."""
    return f"${usd:.4f}" if usd < 1 else f"${usd:,.2f}"


def format_tokens(count: int) -> str:
    return f"{count:,}"
