"""Events of a voice session: who is speaking, final transcripts, Realtime responses.

Audio samples themselves do not travel on the bus (they take a direct pipe); these events
carry what the state machine, storage and the front ends need to know about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.events.base import Delivery, Event


@dataclass(frozen=True, kw_only=True)
class UserSpeechStarted(Event):
    """Speech onset (server or local VAD); may mean barge-in while the assistant talks."""

    delivery = Delivery.CONTROL
    type: Literal["voice.speech_started"] = "voice.speech_started"
    item_id: str = ""
    audio_start_ms: int = 0


@dataclass(frozen=True, kw_only=True)
class UserSpeechStopped(Event):
    type: Literal["voice.speech_stopped"] = "voice.speech_stopped"
    item_id: str = ""
    audio_end_ms: int = 0


@dataclass(frozen=True, kw_only=True)
class TranscriptCompleted(Event):
    """The final transcript of one spoken item; replaces its partial transcripts."""

    type: Literal["transcript.completed"] = "transcript.completed"
    item_id: str
    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True, kw_only=True)
class RealtimeFunctionCall(Event):
    """The voice model asked for a tool; the same connectors as the text path serve it."""

    type: Literal["voice.function_call"] = "voice.function_call"
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, kw_only=True)
class RealtimeResponseDone(Event):
    type: Literal["voice.response_done"] = "voice.response_done"
    response_id: str
    status: str
    input_tokens: int = 0
    output_tokens: int = 0
    aside: bool = False
    """An out-of-band response (an approval question): its cost counts, it is no answer."""


@dataclass(frozen=True, kw_only=True)
class RealtimeSessionReady(Event):
    type: Literal["voice.session_ready"] = "voice.session_ready"
    session_id: str
    model: str = ""
