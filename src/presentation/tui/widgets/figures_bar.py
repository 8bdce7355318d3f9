"""Per-turn figures under the prompt: how long the answer took to start, and what it cost.

Attributes down: the app hands over a ``TurnFigures`` and ``ConversationTotals`` pair; this
widget only formats them. Nothing is shown before the first turn, so a fresh screen stays calm.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static

from src.presentation.tui.figures import (
    ConversationTotals,
    TurnFigures,
    format_cost,
    format_tokens,
)


def describe(last: TurnFigures, total: ConversationTotals) -> str:
    """One line that fits 80 columns: ``Last: 0.84 s · 1,290 tok · $0.0021  │  Total: ...``."""
    parts: list[str] = []
    if last.latency_s is not None:
        parts.append(f"{last.latency_s:.2f} s")
    if last.done and (last.input_tokens or last.output_tokens or last.cost_usd):
        parts.append(f"{format_tokens(last.input_tokens + last.output_tokens)} tok")
        parts.append(format_cost(last.cost_usd))
    text = "Last: " + " · ".join(parts) if parts else ""
    if total.turns:
        tokens = format_tokens(total.input_tokens + total.output_tokens)
        turns = "1 turn" if total.turns == 1 else f"{total.turns} turns"
        conv = f"Total: {turns} · {tokens} tok · {format_cost(total.cost_usd)}"
        text = f"{text}  │  {conv}" if text else conv
    return text


class FiguresBar(Static):
    """The latest turn's latency, tokens and cost, and the conversation's running total."""

    figures: reactive[tuple[TurnFigures, ConversationTotals]] = reactive(
        (TurnFigures(), ConversationTotals())
    )

    def on_mount(self) -> None:
        self.tooltip = (
            "Last: time from the end of your request (typed, or the end of your speech) to the "
            "first word of the answer, then the turn's tokens and cost. Total: this conversation."
        )

    def render(self) -> str:
        return describe(*self.figures)
