"""Server events of the Realtime API mapped onto Hark's bus events.

This is the one place that knows the Realtime wire format on the receiving side. Each frame
is validated against the ``openai`` SDK's own types; a frame that does not validate, or a
type Hark does not use, is logged and skipped, never fatal: servers add event types, and a
voice session must survive them. Audio comes back as ``AudioOut`` for the playback pipe
rather than as a bus event.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from typing import Any

from src.events.base import Event
from src.events.conversation import AssistantTextDelta, ErrorReported, PartialTranscript
from src.events.voice import (
    RealtimeFunctionCall,
    RealtimeResponseDone,
    RealtimeSessionReady,
    TranscriptCompleted,
    UserSpeechStarted,
    UserSpeechStopped,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioOut:
    """PCM16 24 kHz mono audio of one response item, for the playback buffer."""

    item_id: str
    pcm: bytes


class RealtimeEventMapper:
    """Turns raw server frames into bus events (and audio) for one voice session."""

    def __init__(self, turn_id: str = "") -> None:
        from openai.types.realtime import RealtimeServerEvent
        from pydantic import TypeAdapter

        self._adapter: TypeAdapter[Any] = TypeAdapter(RealtimeServerEvent)
        self.turn_id = turn_id
        self._partials: dict[str, str] = {}
        self.ignored: dict[str, int] = {}

    def map(self, frame: str | bytes | dict[str, Any]) -> list[Event | AudioOut]:
        event = self.parse(frame)
        return [] if event is None else self.map_event(event)

    def parse(self, frame: str | bytes | dict[str, Any]) -> Any | None:
        """The SDK's typed event for a raw frame, or None (logged) if it is not a valid one.

        Callers that also need the typed event (the Realtime client tracks responses and
        function calls from it) parse once and hand the result to ``map_event``.
        """
        try:
            data = json.loads(frame) if isinstance(frame, str | bytes) else frame
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("realtime: dropped a frame that is not JSON")
            return None
        if not isinstance(data, dict):
            log.warning("realtime: dropped a frame that is not a JSON object")
            return None
        kind = str(data.get("type", "")).strip()
        try:
            return self._adapter.validate_python({**data, "type": kind})
        except ValueError as exc:
            log.info(
                "realtime: skipped %r that the SDK types reject (%s errors)",
                kind,
                getattr(exc, "error_count", lambda: "?")(),
            )
            self.ignored[kind] = self.ignored.get(kind, 0) + 1
            return None

    def map_event(self, event: Any) -> list[Event | AudioOut]:
        """Bus events (and audio) for one event returned by ``parse``."""
        return self._map(str(event.type), event)

    def _map(self, kind: str, ev: Any) -> list[Event | AudioOut]:
        if kind == "session.created":
            return [
                RealtimeSessionReady(
                    session_id=ev.session.id or "",
                    model=str(getattr(ev.session, "model", "") or ""),
                )
            ]
        if kind == "input_audio_buffer.speech_started":
            return [UserSpeechStarted(item_id=ev.item_id, audio_start_ms=ev.audio_start_ms)]
        if kind == "input_audio_buffer.speech_stopped":
            return [UserSpeechStopped(item_id=ev.item_id, audio_end_ms=ev.audio_end_ms)]
        if kind == "conversation.item.input_audio_transcription.delta":
            text = self._partials.get(ev.item_id, "") + (ev.delta or "")
            self._partials[ev.item_id] = text
            return [PartialTranscript(item_id=ev.item_id, role="user", text=text)]
        if kind == "conversation.item.input_audio_transcription.completed":
            self._partials.pop(ev.item_id, None)
            return [TranscriptCompleted(item_id=ev.item_id, role="user", text=ev.transcript)]
        if kind == "response.output_audio_transcript.delta":
            text = self._partials.get(ev.item_id, "") + ev.delta
            self._partials[ev.item_id] = text
            return [PartialTranscript(item_id=ev.item_id, role="assistant", text=text)]
        if kind == "response.output_audio_transcript.done":
            self._partials.pop(ev.item_id, None)
            return [
                TranscriptCompleted(item_id=ev.item_id, role="assistant", text=ev.transcript or "")
            ]
        if kind == "response.output_text.delta":
            return [AssistantTextDelta(turn_id=self.turn_id, delta=ev.delta)]
        if kind == "response.output_audio.delta":
            try:
                pcm = base64.b64decode(ev.delta, validate=True)
            except (binascii.Error, ValueError):
                log.warning("realtime: audio delta for %s is not base64; skipped", ev.item_id)
                return []
            return [AudioOut(item_id=ev.item_id, pcm=pcm)]
        if kind == "response.function_call_arguments.done":
            return [
                RealtimeFunctionCall(call_id=ev.call_id, name=ev.name or "", arguments=ev.arguments)
            ]
        if kind == "response.done":
            usage = ev.response.usage
            return [
                RealtimeResponseDone(
                    response_id=ev.response.id or "",
                    status=ev.response.status or "",
                    input_tokens=(usage.input_tokens or 0) if usage else 0,
                    output_tokens=(usage.output_tokens or 0) if usage else 0,
                )
            ]
        if kind == "error":
            return [ErrorReported(source="realtime", message=ev.error.message)]
        self.ignored[kind] = self.ignored.get(kind, 0) + 1
        return []
