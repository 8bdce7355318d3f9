"""Hark's Textual app: one front end on the event bus, built by ``make_app``.

The app is the only part of the TUI that talks to the bus (through ``BusBridge``). Bus events
arrive as ``BusEventReceived`` messages and are handed down to the screen that draws them;
widgets and screens post messages up, and the app turns those into command events. It never
constructs a service: ``main.py`` gives it the bus and a few small objects.

Nothing heavy is imported here (no OpenAI, no agents SDK), so the first screen paints fast;
``on_ready`` lets the composition root start the heavy work once that screen is up.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App
from textual.binding import BindingType
from textual.screen import Screen

from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.base import Event
from src.events.bus import EventBus
from src.events.commands import (
    CancelTurn,
    NewConversation,
    PushToTalk,
    ResumeConversation,
    SelectAudioDevice,
    SetMuted,
    SetTurnDetection,
    SubmitText,
)
from src.events.conversation import (
    ConversationOpened,
    ErrorReported,
    FollowUpsSuggested,
    StateChanged,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from src.events.realtime import RealtimeConnectionChanged
from src.events.session import (
    ListeningChanged,
    SetupNeeded,
    TurnDetectionChanged,
    VoiceAvailability,
)
from src.presentation.tui.actions import app_bindings
from src.presentation.tui.approval_desk import ApprovalDesk
from src.presentation.tui.bridge import BusBridge
from src.presentation.tui.figures import ConversationTotals, FiguresTracker
from src.presentation.tui.keystore import Connections, KeyStore
from src.presentation.tui.messages import (
    AudioDevicePicked,
    BusEventReceived,
    KeySaved,
    MuteSwitched,
    PromptSubmitted,
    TurnDetectionPicked,
)
from src.presentation.tui.palette import HarkCommands
from src.presentation.tui.screens.approval import ARM_SECONDS, ApprovalScreen
from src.presentation.tui.screens.conversation import ConversationScreen
from src.presentation.tui.screens.help import HelpScreen
from src.presentation.tui.screens.history import HistoryScreen
from src.presentation.tui.screens.keys import KeysScreen
from src.presentation.tui.screens.settings import SettingsScreen
from src.presentation.tui.session_view import SessionView

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STYLESHEETS = [
    HERE / "app.tcss",
    *sorted((HERE / "widgets").glob("*.tcss")),
    *sorted((HERE / "screens").glob("*.tcss")),
]

DARK_THEME = "textual-dark"
LIGHT_THEME = "textual-light"

StartHook = Callable[[], Awaitable[None]]
KeySavedHook = Callable[[str], Awaitable[None]]


class HarkApp(App[None]):
    """The full-screen front end. Build it with ``make_app``."""

    TITLE = "Hark"
    CSS_PATH: ClassVar[Any] = STYLESHEETS
    BINDINGS: ClassVar[list[BindingType]] = list(app_bindings())
    COMMANDS = App.COMMANDS | {HarkCommands}

    def __init__(
        self,
        bus: EventBus,
        *,
        key_store: KeyStore | None = None,
        connections: Connections | None = None,
        settings_view: Mapping[str, Any] | None = None,
        first_run: bool = False,
        on_ready: StartHook | None = None,
        on_key_saved: KeySavedHook | None = None,
        approval_arm_seconds: float = ARM_SECONDS,
    ) -> None:
        super().__init__()
        self.theme = DARK_THEME
        self._bridge = BusBridge(bus, self._receive)
        self._key_store = key_store
        self._connections = connections
        self._settings_view: Mapping[str, Any] = settings_view or {}
        self._awaiting_key = first_run
        self._on_ready_hook = on_ready
        self._on_key_saved = on_key_saved
        self._figures = FiguresTracker()
        self.session = SessionView()
        self._conversation = ConversationScreen()
        self._approvals = ApprovalDesk(
            self.push_screen, self._bridge.publish, arm_seconds=approval_arm_seconds
        )
        self._held_prompts: list[str] = []

    # -- lifecycle ---------------------------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        return self._conversation

    @property
    def conversation(self) -> ConversationScreen:
        return self._conversation

    def on_mount(self) -> None:
        self._bridge.attach()
        if self._awaiting_key:
            self._open_keys(first_run=True)

    def on_ready(self) -> None:
        if self._on_ready_hook is not None:
            self.run_worker(
                self._run_hook(self._on_ready_hook), name="on-ready", exit_on_error=False
            )

    async def on_unmount(self) -> None:
        await self._bridge.detach()

    async def _run_hook(self, hook: StartHook) -> None:
        """Start-up work of the composition root; a failure is told, never a traceback."""
        try:
            await hook()
        except Exception as exc:
            log.exception("start-up of the assistant failed")
            self.notify(
                str(exc) or type(exc).__name__,
                title="Hark could not start",
                severity="error",
                timeout=30,
                markup=False,
            )

    # -- events in ---------------------------------------------------------------------------
    def _receive(self, event: Event) -> None:
        """Bus handler: runs in the bus's task, so it only queues the event for the app."""
        self.post_message(BusEventReceived(event))

    async def on_bus_event_received(self, message: BusEventReceived) -> None:
        try:
            await self._route(message.event)
        except Exception:
            # One bad event must not take the whole front end down with a traceback.
            log.exception("the TUI could not show %s", message.event.type)
            self.notify(
                f"Could not show a {message.event.type} event; see the log.",
                severity="warning",
                markup=False,
            )

    async def _route(self, event: Event) -> None:
        if self._figures.observe(event):
            self.conversation.figures_bar.figures = (self._figures.last, self._figures.total)
        if isinstance(event, ApprovalRequested):
            self._approvals.requested(event)
            return
        if isinstance(event, ApprovalResolved):
            self._approvals.settled_elsewhere(event.approval_id)
            return
        self._note_session(event)
        await self.conversation.show(event)

    def _note_session(self, event: Event) -> None:
        """Keep the session picture (mute, mode, voice, answering) and tell what went wrong."""
        bar = self.conversation.voice_bar
        session = self.session
        if isinstance(event, TurnStarted):
            session.turn_open = True
            session.suggestions = ()
        elif isinstance(event, TurnCompleted | TurnCancelled):
            session.turn_open = False
        elif isinstance(event, TurnFailed):
            session.turn_open = False
            self.notify(event.message, title="Not answered", severity="error", markup=False)
        elif isinstance(event, ErrorReported):
            self.notify(
                event.message, title=event.source or "Error", severity="error", markup=False
            )
        elif isinstance(event, StateChanged):
            session.state = event.current
        elif isinstance(event, FollowUpsSuggested):
            session.suggestions = tuple(event.suggestions)
        elif isinstance(event, ConversationOpened):
            session.suggestions = ()
            session.conversation_id = event.conversation_id
            if event.resumed:
                self.load_past_turns(event.conversation_id)
            if self._held_prompts:
                self.run_worker(
                    self._send_held_prompts(), group="held-prompts", exit_on_error=False
                )
        elif isinstance(event, ListeningChanged):
            session.muted = bar.muted = event.muted
        elif isinstance(event, TurnDetectionChanged):
            session.turn_detection = bar.turn_detection = event.mode
        elif isinstance(event, RealtimeConnectionChanged):
            bar.connection = event.status
            bar.reconnect_attempt = event.attempt
        elif isinstance(event, VoiceAvailability):
            self._voice_availability(event)
        elif isinstance(event, SetupNeeded):
            self._open_keys(first_run=True, reason=event.message)
        self.refresh_bindings()

    def _voice_availability(self, event: VoiceAvailability) -> None:
        session, bar = self.session, self.conversation.voice_bar
        session.input_device = event.input_device
        session.output_device = event.output_device
        if event.available:
            session.voice_off_reason = bar.voice_off_reason = None
            return
        reason = event.reason or "no audio device was found"
        already = session.voice_off_reason == reason
        session.voice_off_reason = bar.voice_off_reason = reason
        if not already:
            self.notify(
                f"{reason} You can still type your questions.",
                title="Voice is off",
                severity="warning",
                timeout=10,
                markup=False,
            )

    def load_past_turns(self, conversation_id: str) -> None:
        self.run_worker(
            self._load_past_turns(conversation_id),
            group="past-turns",
            exclusive=True,
            exit_on_error=False,
        )

    async def _load_past_turns(self, conversation_id: str) -> None:
        result = await self._bridge.ask("conversations.show", {"id": conversation_id})
        if not result.ok or not isinstance(result.data, dict):
            self.notify(
                result.error or "The earlier turns could not be loaded.",
                severity="warning",
                markup=False,
            )
            return
        turns = list(result.data.get("turns", []))
        usage = result.data.get("usage", {})
        self._figures.seed(
            ConversationTotals(
                turns=len(turns),
                input_tokens=int(usage.get("input_tokens", 0)),
                output_tokens=int(usage.get("output_tokens", 0)),
                cost_usd=float(usage.get("cost_usd", 0.0)),
            )
        )
        self.conversation.figures_bar.figures = (self._figures.last, self._figures.total)
        await self.conversation.transcript.show_past_turns(turns)

    # -- screens -------------------------------------------------------------------------------
    def _open(self, screen: Screen[Any], callback: Callable[[Any], Any] | None = None) -> None:
        """Show a screen over the conversation; never over a pending approval."""
        top = self.screen
        if isinstance(top, ApprovalScreen):
            self.notify("Answer the approval first: y, n or a.", severity="warning")
            return
        if type(top) is type(screen):
            return
        if top is not self._conversation and len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(screen, callback)

    def _open_keys(self, *, first_run: bool = False, reason: str = "") -> None:
        self._awaiting_key = self._awaiting_key or first_run
        if any(isinstance(s, KeysScreen) for s in self.screen_stack):
            return
        self._open(
            KeysScreen(
                self._bridge.ask,
                self._key_store,
                connections=self._connections,
                first_run=first_run,
                reason=reason,
            )
        )

    # -- actions (keys, palette) -----------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "follow_up":
            index = parameters[0] if parameters else 0
            return isinstance(index, int) and index < len(self.session.suggestions)
        if action == "cancel_turn":
            return self.session.answering
        return True

    async def action_cancel_turn(self) -> None:
        if self.session.answering:
            await self._bridge.publish(CancelTurn())

    async def action_interrupt(self) -> None:
        if self.session.answering:
            await self._bridge.publish(CancelTurn())
        else:
            self.notify("Nothing to stop. Press Ctrl+Q to quit.")

    async def action_follow_up(self, index: int) -> None:
        suggestions = self.session.suggestions
        if 0 <= index < len(suggestions):
            self.session.suggestions = ()
            self.conversation.follow_ups.suggestions = ()
            self.refresh_bindings()
            await self._bridge.publish(SubmitText(text=suggestions[index]))

    async def action_push_to_talk(self) -> None:
        if self.session.voice_off_reason is not None:
            self.notify(self.session.voice_off_reason, title="Voice is off", markup=False)
            return
        talking = not self.session.talking
        self.session.talking = self.conversation.voice_bar.talking = talking
        await self._bridge.publish(PushToTalk(pressed=talking))

    async def action_toggle_mute(self) -> None:
        await self._set_muted(not self.session.muted)

    async def _set_muted(self, muted: bool) -> None:
        self.session.muted = self.conversation.voice_bar.muted = muted
        await self._bridge.publish(SetMuted(muted=muted))

    async def action_next_turn_detection(self) -> None:
        await self._set_turn_detection(self.session.next_turn_detection())

    async def _set_turn_detection(self, mode: str) -> None:
        self.session.turn_detection = self.conversation.voice_bar.turn_detection = mode
        await self._bridge.publish(SetTurnDetection(mode=mode))

    async def action_new_conversation(self) -> None:
        await self._bridge.publish(NewConversation())

    def action_open_history(self) -> None:
        self._open(HistoryScreen(self._bridge.ask), self._resume_picked)

    async def _resume_picked(self, conversation_id: str | None) -> None:
        if conversation_id:
            await self._bridge.publish(ResumeConversation(conversation_id=conversation_id))

    def action_open_keys(self) -> None:
        self._open_keys(first_run=self._awaiting_key)

    async def action_on_keys_screen(self, action: str) -> None:
        """A keys-screen action from the palette: run it there, or open that screen first."""
        screen = self.screen
        if isinstance(screen, KeysScreen):
            await screen.run_action(action)
            return
        self._open_keys(first_run=self._awaiting_key)
        self.notify("Choose a row on this screen, then press the key again.")

    def action_open_settings(self) -> None:
        session = self.session
        self._open(
            SettingsScreen(
                self._bridge.ask,
                self._settings_view,
                turn_detection=session.turn_detection,
                muted=session.muted,
                input_device=session.input_device,
                output_device=session.output_device,
            )
        )

    def action_open_help(self) -> None:
        self._open(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME

    # -- messages up -----------------------------------------------------------------------------
    async def on_prompt_submitted(self, message: PromptSubmitted) -> None:
        if self.session.conversation_id is None:
            # Nobody would hear it yet: the assistant opens a conversation once it is up.
            self._held_prompts.append(message.text)
            if len(self._held_prompts) == 1 and self._awaiting_key:
                self.notify("Add your OpenAI key first (Ctrl+O); your message goes out then.")
            elif len(self._held_prompts) == 1:
                self.notify("Hark is still starting; your message goes out as soon as it is up.")
            return
        await self._bridge.publish(SubmitText(text=message.text))

    async def _send_held_prompts(self) -> None:
        held, self._held_prompts = self._held_prompts, []
        for text in held:
            await self._bridge.publish(SubmitText(text=text))

    async def on_turn_detection_picked(self, message: TurnDetectionPicked) -> None:
        await self._set_turn_detection(message.mode)

    async def on_mute_switched(self, message: MuteSwitched) -> None:
        await self._set_muted(message.muted)

    async def on_audio_device_picked(self, message: AudioDevicePicked) -> None:
        await self._bridge.publish(SelectAudioDevice(kind=message.kind, name=message.name))

    async def on_key_saved(self, message: KeySaved) -> None:
        if message.name != "openai":
            return
        if self._awaiting_key:
            self._awaiting_key = False
            if isinstance(self.screen, KeysScreen):
                self.pop_screen()
        if self._on_key_saved is not None:
            hook = functools.partial(self._on_key_saved, message.name)
            self.run_worker(self._run_hook(hook), name="on-key-saved", exit_on_error=False)


def make_app(
    bus: EventBus,
    *,
    key_store: KeyStore | None = None,
    connections: Connections | None = None,
    settings_view: Mapping[str, Any] | None = None,
    first_run: bool = False,
    on_ready: StartHook | None = None,
    on_key_saved: KeySavedHook | None = None,
    approval_arm_seconds: float = ARM_SECONDS,
) -> HarkApp:
    """Build the TUI over ``bus``; shared by ``main.py`` and the tests.

    ``key_store`` stores and deletes keys on the keys screen (secrets never go on the bus);
    ``connections`` connects and disconnects connectors from there, for the same reason.
    ``settings_view`` is the effective settings, secrets masked, for the settings screen.
    ``first_run`` opens the keys screen at once, for a user with no OpenAI key yet.
    ``on_ready`` runs once the first screen is painted: start the assistant there, so heavy
    imports never delay the first paint. ``on_key_saved(name)`` runs after a key was stored
    from the keys screen (e.g. to start the assistant once the OpenAI key exists).
    """
    return HarkApp(
        bus,
        key_store=key_store,
        connections=connections,
        settings_view=settings_view,
        first_run=first_run,
        on_ready=on_ready,
        on_key_saved=on_key_saved,
        approval_arm_seconds=approval_arm_seconds,
    )
