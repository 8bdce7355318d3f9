"""What the running session looks like: listening, mute, turn-taking mode, devices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.events.base import Event


@dataclass(frozen=True, kw_only=True)
class ListeningChanged(Event):
    type: Literal["session.listening"] = "session.listening"
    listening: bool
    muted: bool = False


@dataclass(frozen=True, kw_only=True)
class TurnDetectionChanged(Event):
    type: Literal["session.turn_detection"] = "session.turn_detection"
    mode: str


@dataclass(frozen=True, kw_only=True)
class VoiceAvailability(Event):
    """Whether voice can run, and if not, why in plain words (no device, no PortAudio...)."""

    type: Literal["session.voice_availability"] = "session.voice_availability"
    available: bool
    reason: str = ""
    input_device: str = ""
    output_device: str = ""


@dataclass(frozen=True, kw_only=True)
class SetupNeeded(Event):
    """Hark cannot answer until the user does something, e.g. adds an OpenAI key."""

    type: Literal["session.setup_needed"] = "session.setup_needed"
    what: Literal["openai_key"]
    message: str
