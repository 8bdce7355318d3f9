"""What the app knows about the running session, kept from bus events.

The toggles (mute, push-to-talk, turn-taking) need the current value to flip it, and the keys
need to know whether an answer is in progress; this is that picture, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

from src.presentation.tui.widgets.voice_bar import TURN_DETECTION_LABELS

BUSY_STATES = frozenset({"thinking", "tool_running", "assistant_speaking"})
"""``ConversationState`` values in which there is an answer to stop."""


@dataclass
class SessionView:
    conversation_id: str | None = None
    """None until the assistant is up and has opened a conversation."""
    state: str = "idle"
    turn_open: bool = False
    muted: bool = False
    talking: bool = False
    turn_detection: str = ""
    voice_off_reason: str | None = None
    input_device: str = ""
    output_device: str = ""
    suggestions: tuple[str, ...] = ()

    @property
    def answering(self) -> bool:
        """A typed turn is open, or the voice side is thinking, running a tool or speaking."""
        return self.turn_open or self.state in BUSY_STATES

    def next_turn_detection(self) -> str:
        modes = list(TURN_DETECTION_LABELS)
        if self.turn_detection not in modes:
            return modes[0]
        return modes[(modes.index(self.turn_detection) + 1) % len(modes)]
