"""The conversation as it happens: both sides, streamed, with tools and handoffs inline.

Each typed or spoken turn gets a ``TurnView``: the user's words, then the answer's pieces in
the order they arrived (Markdown text, tool rows, handoff notes). Spoken words arrive as
transcripts keyed by item: a partial line is replaced in place by its final text.

When a turn streams text deltas, spoken transcripts of the assistant for that turn are not
shown a second time (the voice path may publish both). Partial transcripts are LATEST events
and can be delivered after the final one; a final line is never reverted to a partial.
"""

from __future__ import annotations

from typing import Any, Literal

from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from src.events.conversation import HandoffOccurred, ToolCallFinished, ToolCallStarted
from src.presentation.tui.widgets.streaming_markdown import StreamingMarkdown
from src.presentation.tui.widgets.tool_activity import HandoffNote, ToolActivity

Role = Literal["user", "assistant"]
TurnOutcome = Literal["completed", "cancelled", "failed"]


class SpeakerLine(Static):
    """What one side said, as plain text (never markup: it is the user's or model's words)."""

    def __init__(self, role: Role, text: str, *, partial: bool = False) -> None:
        super().__init__(text, markup=False, classes=f"-{role}")
        self.border_title = "You" if role == "user" else "Hark"
        self.set_class(partial, "-partial")

    def revise(self, text: str, *, partial: bool) -> None:
        self.update(text)
        self.set_class(partial, "-partial")


class TurnView(Vertical):
    """One turn: the request, then the answer's parts in arrival order."""

    def __init__(self, turn_id: str, *, user_text: str | None) -> None:
        super().__init__(classes="turn")
        self.turn_id = turn_id
        self._user_text = user_text
        self._tools: dict[str, ToolActivity] = {}
        self.streamed = False

    def compose(self) -> Any:
        if self._user_text is not None:
            yield SpeakerLine("user", self._user_text)

    def _open_answer(self) -> StreamingMarkdown | None:
        last = self.children[-1] if self.children else None
        return last if isinstance(last, StreamingMarkdown) else None

    async def add_text(self, delta: str) -> None:
        """Stream text into the current answer block, opening one after a tool row."""
        self.streamed = True
        block = self._open_answer()
        if block is None:
            block = StreamingMarkdown(classes="answer")
            await self.mount(block)
        block.feed(delta)

    async def set_text(self, text: str) -> None:
        """Show a whole answer that was not streamed (or replace nothing when it was)."""
        if self.streamed or not text:
            return
        await self.add_text(text)

    async def tool_started(self, event: ToolCallStarted) -> None:
        await self.flush()
        row = ToolActivity(event)
        self._tools[event.call_id] = row
        await self.mount(row)

    def tool_finished(self, event: ToolCallFinished) -> None:
        row = self._tools.get(event.call_id)
        if row is not None:
            row.finish(event)

    async def handoff(self, event: HandoffOccurred) -> None:
        await self.flush()
        await self.mount(HandoffNote(event))

    async def note(self, text: str, kind: str) -> None:
        await self.mount(Static(text, markup=False, classes=f"turn-note -{kind}"))

    async def flush(self) -> None:
        for block in self.query(StreamingMarkdown):
            await block.flush()

    def answer_text(self) -> str:
        return "".join(block.text for block in self.query(StreamingMarkdown))


class Transcript(VerticalScroll):
    """Scrolls with the conversation and stays pinned to the newest line until you scroll up."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, can_focus=True)
        self._turns: dict[str, TurnView] = {}
        self._speech: dict[str, SpeakerLine] = {}
        self._spoken_since_turn = False
        self._current: TurnView | None = None

    def on_mount(self) -> None:
        self.anchor()

    def turn(self, turn_id: str) -> TurnView | None:
        return self._turns.get(turn_id)

    async def reset(self, title: str) -> None:
        """A new or resumed conversation: start from a clean page."""
        await self.remove_children()
        self._turns.clear()
        self._speech.clear()
        self._current = None
        self._spoken_since_turn = False
        self.border_title = title

    async def begin_turn(self, turn_id: str, text: str, source: str) -> TurnView:
        # A spoken request is already on screen as its transcript.
        show_request = not (source == "voice" and self._spoken_since_turn)
        view = TurnView(turn_id, user_text=text if show_request else None)
        self._turns[turn_id] = view
        self._current = view
        self._spoken_since_turn = False
        await self.mount(view)
        return view

    async def speech(self, item_id: str, role: Role, text: str, *, final: bool) -> None:
        """A spoken transcript, partial or final, for either side."""
        if role == "assistant" and self._current is not None and self._current.streamed:
            return
        line = self._speech.get(item_id)
        if line is not None:
            # Partials are coalesced by the bus and may arrive after the final text: never let
            # a stale partial overwrite what was finally said.
            if final or line.has_class("-partial"):
                line.revise(text, partial=not final)
            return
        if not text:
            return
        line = SpeakerLine(role, text, partial=not final)
        self._speech[item_id] = line
        if role == "user":
            self._spoken_since_turn = True
        target: Widget = self._current if role == "assistant" and self._current else self
        await target.mount(line)

    async def show_past_turns(self, turns: list[dict[str, Any]]) -> None:
        """Draw a resumed conversation's stored turns (the JSON of ``conversations.show``)."""
        views = [
            TurnView(str(stored.get("id", "")), user_text=str(stored.get("user_text", "")))
            for stored in turns
        ]
        if not views:
            return
        await self.mount_all(views, before=0 if self.children else None)
        for view, stored in zip(views, turns, strict=True):
            answer = str(stored.get("assistant_text") or "")
            if answer:
                await view.set_text(answer)
            await view.flush()
            if stored.get("status") not in (None, "completed"):
                await view.note(f"({stored.get('status')})", "past")
