"""The main screen: voice bar, transcript, follow-ups, the prompt and the turn's figures.

The app hands it bus events (``show``); it routes each to the widget that draws it. The prompt
is always there, also while Hark answers; pressing Enter posts ``PromptSubmitted`` upwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Input

from src.events.base import Event
from src.events.conversation import (
    AssistantMessageCompleted,
    AssistantTextDelta,
    ConversationOpened,
    FollowUpsSuggested,
    HandoffOccurred,
    InputLevel,
    PartialTranscript,
    StateChanged,
    ToolCallFinished,
    ToolCallStarted,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from src.events.voice import TranscriptCompleted
from src.presentation.tui.messages import PromptSubmitted
from src.presentation.tui.widgets.figures_bar import FiguresBar
from src.presentation.tui.widgets.follow_ups import FollowUps
from src.presentation.tui.widgets.transcript import Transcript, TurnView
from src.presentation.tui.widgets.voice_bar import VoiceBar

PROMPT_PLACEHOLDER = "Ask Hark anything, press Enter  ·  Ctrl+G help  ·  Ctrl+P all actions"
HANDOFF_TOOL_PREFIX = "transfer_to_"


class ConversationScreen(Screen[None]):
    """Where the conversation happens; every other screen is pushed over it."""

    AUTO_FOCUS = "#prompt"

    def __init__(self) -> None:
        super().__init__()
        self._routes: dict[type[Event], Callable[[Any], Awaitable[None]]] = self._handlers()

    def compose(self) -> ComposeResult:
        yield VoiceBar()
        yield Transcript(id="transcript")
        yield FollowUps()
        yield Input(placeholder=PROMPT_PLACEHOLDER, id="prompt")
        yield FiguresBar()
        yield Footer()

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def voice_bar(self) -> VoiceBar:
        return self.query_one(VoiceBar)

    @property
    def follow_ups(self) -> FollowUps:
        return self.query_one(FollowUps)

    @property
    def figures_bar(self) -> FiguresBar:
        return self.query_one(FiguresBar)

    def on_input_submitted(self, submitted: Input.Submitted) -> None:
        submitted.stop()
        text = submitted.value.strip()
        if not text:
            return
        submitted.input.clear()
        self.post_message(PromptSubmitted(text))

    async def show(self, event: Event) -> None:
        """Draw one bus event; events this screen does not draw are ignored."""
        handler = self._routes.get(type(event))
        if handler is not None:
            await handler(event)

    def _handlers(self) -> dict[type[Event], Callable[[Any], Awaitable[None]]]:
        return {
            ConversationOpened: self._opened,
            TurnStarted: self._turn_started,
            AssistantTextDelta: self._delta,
            ToolCallStarted: self._tool_started,
            ToolCallFinished: self._tool_finished,
            HandoffOccurred: self._handoff,
            AssistantMessageCompleted: self._message_completed,
            FollowUpsSuggested: self._follow_ups,
            TurnCompleted: self._turn_completed,
            TurnCancelled: self._turn_cancelled,
            TurnFailed: self._turn_failed,
            StateChanged: self._state,
            PartialTranscript: self._partial,
            TranscriptCompleted: self._final_transcript,
            InputLevel: self._level,
        }

    def _turn(self, turn_id: str) -> TurnView | None:
        return self.transcript.turn(turn_id)

    async def _opened(self, event: ConversationOpened) -> None:
        self.follow_ups.suggestions = ()
        await self.transcript.reset(event.title or "New conversation")

    async def _turn_started(self, event: TurnStarted) -> None:
        self.follow_ups.suggestions = ()
        await self.transcript.begin_turn(event.turn_id, event.text, event.source)

    async def _delta(self, event: AssistantTextDelta) -> None:
        view = self._turn(event.turn_id)
        if view is not None:
            await view.add_text(event.delta)

    async def _tool_started(self, event: ToolCallStarted) -> None:
        view = self._turn(event.turn_id)
        if view is not None and not event.tool.startswith(HANDOFF_TOOL_PREFIX):
            await view.tool_started(event)

    async def _tool_finished(self, event: ToolCallFinished) -> None:
        view = self._turn(event.turn_id)
        if view is not None:
            view.tool_finished(event)

    async def _handoff(self, event: HandoffOccurred) -> None:
        view = self._turn(event.turn_id)
        if view is not None:
            await view.handoff(event)

    async def _message_completed(self, event: AssistantMessageCompleted) -> None:
        view = self._turn(event.turn_id)
        if view is not None:
            await view.set_text(event.text)
            await view.flush()

    async def _follow_ups(self, event: FollowUpsSuggested) -> None:
        self.follow_ups.suggestions = tuple(event.suggestions)

    async def _turn_completed(self, event: TurnCompleted) -> None:
        view = self._turn(event.turn_id)
        if view is not None:
            await view.flush()

    async def _turn_cancelled(self, event: TurnCancelled) -> None:
        view = self._turn(event.turn_id)
        if view is not None:
            await view.flush()
            await view.note("(answer stopped)", "cancelled")

    async def _turn_failed(self, event: TurnFailed) -> None:
        view = self._turn(event.turn_id)
        if view is not None:
            await view.flush()
            await view.note(f"Not answered: {event.message}", "failed")

    async def _state(self, event: StateChanged) -> None:
        self.voice_bar.state = event.current

    async def _partial(self, event: PartialTranscript) -> None:
        await self.transcript.speech(event.item_id, event.role, event.text, final=False)

    async def _final_transcript(self, event: TranscriptCompleted) -> None:
        await self.transcript.speech(event.item_id, event.role, event.text, final=True)

    async def _level(self, event: InputLevel) -> None:
        self.voice_bar.level_dbfs = event.dbfs
