"""Past conversations: browse the recent ones, search them all, read one, resume it.

Everything comes over the bus as queries (``conversations.list``, ``.search``, ``.show``);
resuming dismisses the screen with the chosen id, which the app turns into
``ResumeConversation``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from src.events.queries import QueryKind, QueryResult
from src.presentation.tui.figures import format_cost

Ask = Callable[[QueryKind, Mapping[str, Any] | None], Awaitable[QueryResult]]
"""Sends a query over the bus and waits for its answer (the app's bridge provides it)."""

LIST_LIMIT = 50


def when(timestamp: float) -> str:
    """Local date and time, absolute: relative times would go stale on screen."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def summary_label(row: Mapping[str, Any]) -> str:
    turns = int(row.get("turn_count", 0))
    title = row.get("title") or "(untitled)"
    cost = format_cost(float(row.get("cost_usd", 0)))
    plural = "s" if turns != 1 else ""
    return f"{when(float(row.get('updated_at', 0)))}  {title}  · {turns} turn{plural} · {cost}"


def hit_label(row: Mapping[str, Any]) -> str:
    title = row.get("title") or "(untitled)"
    return f"{when(float(row.get('at', 0)))}  {title}: {row.get('snippet', '')}"


def conversation_text(data: Mapping[str, Any]) -> str:
    """A stored conversation as plain text: who said what, tools, and what it cost."""
    lines = [str(data.get("title") or "(untitled)"), ""]
    for turn in data.get("turns", []):
        lines.append(f"You:  {turn.get('user_text', '')}")
        for call in turn.get("tool_calls", []):
            mark = "✓" if call.get("ok") else "✗"
            lines.append(f"      {mark} {call.get('agent', '')} · {call.get('name', '')}")
        answer = turn.get("assistant_text") or turn.get("error") or f"({turn.get('status')})"
        lines.append(f"Hark: {answer}")
        lines.append("")
    usage = data.get("usage", {})
    tokens = int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0))
    lines.append(f"{tokens:,} tokens · {format_cost(float(usage.get('cost_usd', 0)))}")
    return "\n".join(lines)


class HistoryScreen(Screen[str | None]):
    """Recent conversations on top, the chosen one below; type to search."""

    AUTO_FOCUS = "#history-list"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("r", "resume", "Resume"),
        Binding("slash", "focus_search", "Search"),
    ]

    def __init__(self, ask: Ask) -> None:
        super().__init__()
        self._ask = ask
        self._shown_id: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="history-body"):
            yield Input(placeholder="Search all conversations, press Enter", id="history-search")
            yield Label("Recent conversations", id="history-heading")
            yield OptionList(id="history-list")
            with VerticalScroll(id="history-preview"):
                yield Static(
                    "Choose a conversation and press Enter.", id="history-text", markup=False
                )
        yield Footer()

    def on_mount(self) -> None:
        self.load_recent()

    @property
    def options(self) -> OptionList:
        return self.query_one("#history-list", OptionList)

    def _show_rows(self, heading: str, rows: list[tuple[str, str]]) -> None:
        """Fill the list; several search hits in one conversation make one row."""
        self.query_one("#history-heading", Label).update(heading)
        seen: set[str] = set()
        options = []
        for conversation_id, label in rows:
            if conversation_id not in seen:
                seen.add(conversation_id)
                options.append(Option(label, id=conversation_id))
        self.options.clear_options()
        self.options.add_options(options)
        if options:
            self.options.highlighted = 0

    def _failed(self, result: QueryResult) -> None:
        self.notify(result.error or "History is not available.", severity="error", markup=False)

    @work(exclusive=True, group="history-list")
    async def load_recent(self) -> None:
        result = await self._ask("conversations.list", {"limit": LIST_LIMIT})
        if not result.ok:
            self._failed(result)
            return
        rows = [(str(r["id"]), summary_label(r)) for r in result.data or []]
        self._show_rows("Recent conversations" if rows else "No conversations yet", rows)

    @work(exclusive=True, group="history-list")
    async def search(self, text: str) -> None:
        result = await self._ask("conversations.search", {"query": text})
        if not result.ok:
            self._failed(result)
            return
        rows = [(str(r["conversation_id"]), hit_label(r)) for r in result.data or []]
        heading = f"Matches for “{text}”" if rows else f"Nothing matches “{text}”"
        self._show_rows(heading, rows)

    @work(exclusive=True, group="history-show")
    async def show_conversation(self, conversation_id: str) -> None:
        result = await self._ask("conversations.show", {"id": conversation_id})
        if not result.ok:
            self._failed(result)
            return
        self._shown_id = str(result.data.get("id", conversation_id))
        self.query_one("#history-text", Static).update(conversation_text(result.data))

    def on_input_submitted(self, submitted: Input.Submitted) -> None:
        submitted.stop()
        text = submitted.value.strip()
        if text:
            self.search(text)
        else:
            self.load_recent()
        self.options.focus()

    def on_option_list_option_selected(self, selected: OptionList.OptionSelected) -> None:
        selected.stop()
        if selected.option.id:
            self.show_conversation(selected.option.id)

    def action_focus_search(self) -> None:
        self.query_one("#history-search", Input).focus()

    def action_back(self) -> None:
        self.dismiss(None)

    def action_resume(self) -> None:
        """Resume the highlighted conversation (or the one on show, from the preview)."""
        conversation_id = self._shown_id
        highlighted = self.options.highlighted
        if self.options.has_focus and highlighted is not None:
            conversation_id = self.options.get_option_at_index(highlighted).id
        if not conversation_id:
            self.notify("Choose a conversation first.", severity="warning")
            return
        self.dismiss(conversation_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Letters belong to the search box while it has focus.
        return not (action in ("resume", "focus_search") and isinstance(self.focused, Input))
