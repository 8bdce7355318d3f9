"""Command events: what front ends ask for. They publish these; services act on them.

Cancel and shutdown are CONTROL events so they overtake any data still queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.events.base import Delivery, Event


@dataclass(frozen=True, kw_only=True)
class SubmitText(Event):
    """The user typed (or piped) a message for the current conversation."""

    type: Literal["command.submit_text"] = "command.submit_text"
    text: str
    request_id: str = ""


@dataclass(frozen=True, kw_only=True)
class CancelTurn(Event):
    """Stop the answer in progress, keep the program and the conversation."""

    delivery = Delivery.CONTROL
    type: Literal["command.cancel_turn"] = "command.cancel_turn"
    reason: str = "cancelled by the user"


@dataclass(frozen=True, kw_only=True)
class Shutdown(Event):
    """Finish what must be stored and stop."""

    delivery = Delivery.CONTROL
    type: Literal["command.shutdown"] = "command.shutdown"
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class NewConversation(Event):
    """Start a fresh conversation; the current one stays in history."""

    type: Literal["command.new_conversation"] = "command.new_conversation"


@dataclass(frozen=True, kw_only=True)
class ResumeConversation(Event):
    """Make a stored conversation current (an id, a unique prefix, or "latest")."""

    type: Literal["command.resume_conversation"] = "command.resume_conversation"
    conversation_id: str
    request_id: str = ""


@dataclass(frozen=True, kw_only=True)
class StartListening(Event):
    type: Literal["command.start_listening"] = "command.start_listening"


@dataclass(frozen=True, kw_only=True)
class StopListening(Event):
    delivery = Delivery.CONTROL
    type: Literal["command.stop_listening"] = "command.stop_listening"


@dataclass(frozen=True, kw_only=True)
class SetMuted(Event):
    """Mute or unmute the microphone (nothing is sent while muted)."""

    delivery = Delivery.CONTROL
    type: Literal["command.set_muted"] = "command.set_muted"
    muted: bool


@dataclass(frozen=True, kw_only=True)
class PushToTalk(Event):
    """The push-to-talk key went down (``pressed``) or up."""

    delivery = Delivery.CONTROL
    type: Literal["command.push_to_talk"] = "command.push_to_talk"
    pressed: bool


@dataclass(frozen=True, kw_only=True)
class SetTurnDetection(Event):
    """Switch turn-taking at run time: server_vad, semantic_vad, client_vad or push_to_talk."""

    type: Literal["command.set_turn_detection"] = "command.set_turn_detection"
    mode: str


@dataclass(frozen=True, kw_only=True)
class SelectAudioDevice(Event):
    """Use another microphone or speaker, by a part of its name (empty: the system default)."""

    type: Literal["command.select_audio_device"] = "command.select_audio_device"
    kind: Literal["input", "output"]
    name: str


@dataclass(frozen=True, kw_only=True)
class ResolveApproval(Event):
    """The user's answer to a pending side-effecting tool call."""

    delivery = Delivery.CONTROL
    type: Literal["command.resolve_approval"] = "command.resolve_approval"
    approval_id: str
    decision: Literal["approve", "reject", "always"]


Command = (
    SubmitText
    | CancelTurn
    | Shutdown
    | NewConversation
    | ResumeConversation
    | StartListening
    | StopListening
    | SetMuted
    | PushToTalk
    | SetTurnDetection
    | SelectAudioDevice
    | ResolveApproval
)
"""Everything a front end may ask for."""
