"""The ``session.update`` Hark sends on every (re)connection, and how past turns are replayed.

A Realtime session keeps no memory across WebSockets: after a drop or the server's 60-minute
cap the new session knows nothing. Hark therefore sends the whole configuration (voice, audio
formats, transcription, turn detection, tools) on every connect, and packs the conversation so
far into the instructions. Packing matters: replaying many text items makes the model drift
into answering in text only, so the history goes in as one block, followed by a line that
re-anchors the model on speaking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from openai.types.realtime import RealtimeSessionCreateRequestParam
    from openai.types.realtime.realtime_audio_input_turn_detection_param import (
        RealtimeAudioInputTurnDetectionParam,
    )

TurnDetectionMode = Literal["server_vad", "semantic_vad", "client_vad", "push_to_talk"]
MANUAL_MODES: frozenset[str] = frozenset({"client_vad", "push_to_talk"})
"""Modes where the server does not detect turns: Hark commits audio and asks for responses."""

DEFAULT_TRANSCRIPTION_MODEL = "gpt-4o-mini-transcribe"
DEFAULT_MAX_CONTEXT_CHARS = 12_000

SPOKEN_TOOL_GUIDANCE = """\
Tools and waiting: before you call a tool that may take more than a second (anything online:
weather, web pages, accounts), first say a short filler in your own words, such as "One moment,
let me check." so the user never hears dead silence. After the tool answers, give the result
briefly."""

RESUME_HEADER = """\
# Conversation so far
This is a spoken conversation that is continuing on a new connection. The transcript below is
what was already said, for your memory only: do not read it out and do not mention the
connection. Keep answering aloud, in voice, exactly as before."""

RESUME_FOOTER = "(End of transcript. Continue the conversation, speaking in voice.)"
_OMITTED = "(Earlier turns omitted.)"
_ROLE_LABELS = {"user": "User", "assistant": "Assistant"}


def turn_detection(
    mode: TurnDetectionMode, *, replies: bool = True
) -> RealtimeAudioInputTurnDetectionParam | None:
    """The ``audio.input.turn_detection`` value of a mode; None hands turns to the client.

    ``interrupt_response`` is off: the server would cut the assistant off at any sound,
    "mhm" and coughs included. Hark decides barge-in locally (echo-cancelled audio, VAD and
    the backchannel policy in ``src.domain.barge_in``) and cancels and truncates itself.
    ``replies=False`` keeps the server from answering speech on its own: while a spoken
    approval is pending, the user's "yes" is an answer to Hark, not a new request.
    """
    if mode == "server_vad":
        return {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
            "create_response": replies,
            "interrupt_response": False,
        }
    if mode == "semantic_vad":
        return {
            "type": "semantic_vad",
            "eagerness": "auto",
            "create_response": replies,
            "interrupt_response": False,
        }
    return None


def pack_history(
    messages: Sequence[Mapping[str, Any]], max_chars: int = DEFAULT_MAX_CONTEXT_CHARS
) -> str:
    """Past user/assistant messages as one transcript block, newest kept when it is too long.

    Other roles (system notes, tool output) are left out: the model should remember what was
    said, not re-run what was done. Returns "" when there is nothing to replay.
    """
    lines: list[str] = []
    used = 0
    omitted = False
    for message in reversed(messages):
        label = _ROLE_LABELS.get(str(message.get("role", "")))
        text = " ".join(str(message.get("content") or "").split())
        if label is None or not text:
            continue
        line = f"{label}: {text}"
        if used + len(line) + 1 > max_chars:
            omitted = True
            break
        lines.append(line)
        used += len(line) + 1
    if not lines:
        return ""
    lines.reverse()
    if omitted:
        lines.insert(0, _OMITTED)
    return "\n".join(lines)


@dataclass(frozen=True)
class SessionConfigBuilder:
    """Builds Hark's GA ``session.update`` payloads from settings that do not change per link."""

    instructions: str
    voice: str
    transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL
    max_context_chars: int = DEFAULT_MAX_CONTEXT_CHARS

    def full(
        self,
        mode: TurnDetectionMode,
        tools: Sequence[Mapping[str, Any]],
        history: Sequence[Mapping[str, Any]] = (),
        *,
        replies: bool = True,
    ) -> RealtimeSessionCreateRequestParam:
        """Everything a fresh session needs, with ``history`` packed into the instructions."""
        return {
            "type": "realtime",
            "output_modalities": ["audio"],
            "instructions": self.instructions_with(history),
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": self.transcription_model},
                    "turn_detection": turn_detection(mode, replies=replies),
                },
                "output": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "voice": self.voice,
                },
            },
            "tools": cast(Any, [dict(tool) for tool in tools]),
            "tool_choice": "auto",
        }

    def turn_detection_only(
        self, mode: TurnDetectionMode, *, replies: bool = True
    ) -> RealtimeSessionCreateRequestParam:
        """A partial update that changes turn detection and leaves the rest as it is."""
        detection = turn_detection(mode, replies=replies)
        return {"type": "realtime", "audio": {"input": {"turn_detection": detection}}}

    def instructions_with(self, history: Sequence[Mapping[str, Any]]) -> str:
        parts = [self.instructions.strip(), SPOKEN_TOOL_GUIDANCE]
        transcript = pack_history(history, self.max_context_chars)
        if transcript:
            parts += [RESUME_HEADER, transcript, RESUME_FOOTER]
        return "\n\n".join(part for part in parts if part)
