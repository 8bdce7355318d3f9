"""Tool calls and handoffs inside an answer: visible while they run, folded once done.

A running tool shows its own progress sentence ("Checking the weather in Paris...") and what
it was called with. When it returns, the row folds to one line with a tick or a cross; the
arguments and the result stay one click (or Enter) away.
"""

from __future__ import annotations

from textual.markup import escape
from textual.widgets import Collapsible, Static

from src.events.conversation import HandoffOccurred, ToolCallFinished, ToolCallStarted

RESULT_PREVIEW_CHARS = 400


def _clip(text: str, limit: int = RESULT_PREVIEW_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ToolActivity(Collapsible):
    """One tool call: expanded with progress while running, collapsed when finished."""

    def __init__(self, started: ToolCallStarted) -> None:
        self.call_id = started.call_id
        self.progress = started.progress or f"Running {started.tool}"
        self._call_line = f"{started.agent} · {started.tool}({_clip(started.arguments, 200)})"
        self._detail = Static(self._call_line, markup=False, classes="tool-detail")
        super().__init__(
            self._detail,
            title=escape(self.progress),
            collapsed=False,
            collapsed_symbol="✓",
            expanded_symbol="⋯",
            classes="-running",
        )

    def finish(self, finished: ToolCallFinished) -> None:
        """Fold the row and say how it went; the result stays inside."""
        if not finished.ok:
            self._title.collapsed_symbol = "✗"
        self.remove_class("-running")
        self.add_class("-ok" if finished.ok else "-failed")
        self._detail.update(f"{self._call_line}\n→ {_clip(finished.result)}")
        self.collapsed = True


class HandoffNote(Static):
    """``↪ orchestrator → weather``: who is answering now."""

    def __init__(self, handoff: HandoffOccurred) -> None:
        super().__init__(f"↪ {handoff.from_agent} → {handoff.to_agent}", markup=False)
