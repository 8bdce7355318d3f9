"""Suggested follow-ups after an answer, each on its key (F1..F3, or Alt+1..3).

Hidden when there is nothing to suggest. Picking one is the app's business (a key binding);
this widget only shows which key asks what.
"""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

MAX_FOLLOW_UPS = 3


class FollowUps(Static):
    """``F1 What about tomorrow?   F2 ...``; empty and hidden between answers."""

    suggestions: reactive[tuple[str, ...]] = reactive(())

    def watch_suggestions(self, suggestions: tuple[str, ...]) -> None:
        self.display = bool(suggestions)

    def render(self) -> Content:
        parts: list[str | tuple[str, str]] = []
        for number, text in enumerate(self.suggestions[:MAX_FOLLOW_UPS], start=1):
            if parts:
                parts.append("   ")
            parts.append((f" F{number} ", "reverse"))
            parts.append(f" {text}")
        return Content.assemble(*parts)
