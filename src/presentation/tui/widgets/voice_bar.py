"""Voice at a glance: what the assistant is doing, the microphone level, mute and turn-taking.

The app sets the attributes from bus events; the bar only draws them. Connection trouble
(``RealtimeConnectionChanged``) wins over the conversation state, because "thinking" while the
link is down would be a lie.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label

STATE_LABELS: dict[str, str] = {
    "idle": "Idle",
    "listening": "Listening",
    "user_speaking": "You are speaking",
    "thinking": "Thinking",
    "tool_running": "Running a tool",
    "assistant_speaking": "Speaking",
    "interrupted": "Interrupted",
}

CONNECTION_LABELS: dict[str, str] = {
    "connecting": "Connecting",
    "reconnecting": "Reconnecting",
    "disconnected": "Voice link lost",
}

TURN_DETECTION_LABELS: dict[str, str] = {
    "server_vad": "server VAD",
    "semantic_vad": "semantic VAD",
    "client_vad": "local VAD",
    "push_to_talk": "push-to-talk",
}
"""The turn-taking modes ``SetTurnDetection`` accepts, in the order F7 cycles them."""

METER_CELLS = 10
METER_FLOOR_DBFS = -60.0


def level_meter(dbfs: float | None, cells: int = METER_CELLS) -> str:
    """A bar of ``cells`` characters: -60 dBFS (or silence) is empty, 0 dBFS is full."""
    if dbfs is None:
        return "░" * cells
    span = -METER_FLOOR_DBFS
    filled = round(max(0.0, min(span, dbfs - METER_FLOOR_DBFS)) / span * cells)
    return "█" * filled + "░" * (cells - filled)


class VoiceBar(Horizontal):
    """One line: state, level meter, microphone, turn-taking mode, push-to-talk."""

    state: reactive[str] = reactive("idle", init=False)
    connection: reactive[str] = reactive("", init=False)
    reconnect_attempt: reactive[int] = reactive(0, init=False)
    level_dbfs: reactive[float | None] = reactive(None, init=False)
    muted: reactive[bool] = reactive(False, init=False)
    turn_detection: reactive[str] = reactive("", init=False)
    talking: reactive[bool] = reactive(False, init=False)
    voice_off_reason: reactive[str | None] = reactive(None, init=False)
    """None while voice is (or may be) available; a sentence once it is known to be off."""

    _labels_ready = False

    def compose(self) -> ComposeResult:
        yield Label(id="voice-state")
        yield Label(id="voice-meter")
        yield Label(id="voice-mic")
        yield Label(id="voice-mode")
        yield Label(id="voice-note")

    def on_mount(self) -> None:
        # Watchers do not run at initialisation (init=False: one reading another's value would
        # recurse), and ``is_mounted`` turns true only after this handler: draw once here.
        self._labels_ready = True
        self._redraw()

    def watch_state(self) -> None:
        self._redraw()

    def watch_connection(self) -> None:
        self._redraw()

    def watch_reconnect_attempt(self) -> None:
        self._redraw()

    def watch_level_dbfs(self) -> None:
        if self._labels_ready:
            self.query_one("#voice-meter", Label).update(self._meter_text())

    def watch_muted(self) -> None:
        self._redraw()

    def watch_turn_detection(self) -> None:
        self._redraw()

    def watch_talking(self) -> None:
        self._redraw()

    def watch_voice_off_reason(self) -> None:
        self._redraw()

    def _meter_text(self) -> str:
        return "muted     " if self.muted else level_meter(self.level_dbfs)

    def _state_text(self) -> tuple[str, str]:
        """The label and its CSS class: connection trouble first, then the state."""
        if self.connection in CONNECTION_LABELS:
            label = CONNECTION_LABELS[self.connection]
            if self.connection == "reconnecting" and self.reconnect_attempt:
                label += f" (attempt {self.reconnect_attempt})"
            return f"● {label}…", "-reconnecting"
        label = STATE_LABELS.get(self.state, self.state.replace("_", " ").capitalize())
        return f"● {label}", f"-{self.state.replace('_', '-')}"

    def _redraw(self) -> None:
        if not self._labels_ready:
            return
        text, state_class = self._state_text()
        state = self.query_one("#voice-state", Label)
        state.update(text)
        state.set_classes(state_class)
        off = self.voice_off_reason is not None
        for name in ("#voice-meter", "#voice-mic", "#voice-mode"):
            self.query_one(name, Label).display = not off
        self.query_one("#voice-meter", Label).update(self._meter_text())
        mic = self.query_one("#voice-mic", Label)
        mic.update("mic off (F6)" if self.muted else "mic on")
        mic.set_class(self.muted, "-muted")
        mode = TURN_DETECTION_LABELS.get(self.turn_detection, self.turn_detection)
        self.query_one("#voice-mode", Label).update(f"turns: {mode}" if mode else "")
        note = self.query_one("#voice-note", Label)
        if off:
            note.update(f"Voice off: {self.voice_off_reason} — type below.")
        elif self.talking:
            note.update("● talking — F5 to send")
        else:
            note.update("")
        note.set_class(off, "-voice-off")
        note.set_class(self.talking and not off, "-talking")
