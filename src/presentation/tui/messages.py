"""Textual messages the TUI's parts send upwards, each named for what happened.

Widgets and screens never touch the bus: they post one of these, and the app turns it into a
command event. Bus events come in the other way as ``BusEventReceived``.
"""

from __future__ import annotations

from typing import Literal

from textual.message import Message

from src.events.base import Event


class BusEventReceived(Message):
    """An event arrived from the bus; the app routes it to whatever renders it."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class PromptSubmitted(Message):
    """The user pressed Enter on a non-empty prompt."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class TurnDetectionPicked(Message):
    """The user chose a turn-taking mode on the settings screen."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode


class AudioDevicePicked(Message):
    """The user chose a microphone or speaker; an empty name means the system default."""

    def __init__(self, kind: Literal["input", "output"], name: str) -> None:
        super().__init__()
        self.kind: Literal["input", "output"] = kind
        self.name = name


class MuteSwitched(Message):
    """The user flipped the mute switch on the settings screen."""

    def __init__(self, muted: bool) -> None:
        super().__init__()
        self.muted = muted


class KeySaved(Message):
    """The key store accepted a key (only its name travels, never the value)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
