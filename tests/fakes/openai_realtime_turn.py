"""A scripted reply rendered as one Realtime API response, and the session it runs in.

`RealtimeResponseTurn` builds the GA event sequence of a response (created, per item: added,
content part, transcript/audio or text deltas, done; function calls with argument deltas; then
response.done with usage) and knows how far the client got, so a cancelled response ends with
exactly what was sent. `default_session` / `merge_session` are the session the server announces
and how `session.update` changes it.
"""

from __future__ import annotations

import base64
import copy
import itertools
import time
from collections.abc import Iterator, Mapping
from typing import Any

from tests.fakes.openai_audio import BYTES_PER_MS, split_by_fraction, tone
from tests.fakes.openai_brain import Reply, Text, ToolCall
from tests.fakes.openai_http_turns import Emit, TokenCounts, new_id, text_chunks

DEFAULT_INSTRUCTIONS = "You are a helpful, witty, and friendly AI. (scripted test server)"
SESSION_SECONDS = 60 * 60
AUDIO_MS_PER_TOKEN = 50
# Session keys whose values are merged key by key on session.update; all others are replaced.
_MERGED_SESSION_PATHS = {("audio",), ("audio", "input"), ("audio", "output")}


def default_session(model: str) -> dict[str, Any]:
    """The session a new connection opens with, as the GA server announces it."""
    pcm = {"type": "audio/pcm", "rate": 24000}
    return {
        "type": "realtime",
        "object": "realtime.session",
        "id": new_id("sess"),
        "model": model,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "prompt": None,
        "truncation": "auto",
        "expires_at": int(time.time()) + SESSION_SECONDS,
        "audio": {
            "input": {
                "format": dict(pcm),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": dict(pcm), "voice": "marin", "speed": 1.0},
        },
        "include": None,
    }


def merge_session(
    current: Mapping[str, Any], update: Mapping[str, Any], path: tuple[str, ...] = ()
) -> dict[str, Any]:
    """`session.update` semantics: given fields replace, the audio sections merge."""
    merged = dict(current)
    for key, value in update.items():
        here = (*path, key)
        if here in _MERGED_SESSION_PATHS and isinstance(value, Mapping):
            merged[key] = merge_session(current.get(key) or {}, value, here)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def realtime_usage(tokens: TokenCounts, audio_ms: int) -> dict[str, Any]:
    audio_tokens = audio_ms // AUDIO_MS_PER_TOKEN
    output = tokens.output_tokens + audio_tokens
    return {
        "total_tokens": tokens.input_tokens + output,
        "input_tokens": tokens.input_tokens,
        "output_tokens": output,
        "input_token_details": {
            "text_tokens": tokens.input_tokens,
            "audio_tokens": 0,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": tokens.output_tokens, "audio_tokens": audio_tokens},
    }


class RealtimeResponseTurn:
    """One Realtime response for a scripted reply: its events, and how far they got.

    `events()` is the whole response as OpenAI streams it. The connection reports each sent
    payload back through `mark_sent`, so if the response is cut short `cancelled_tail()` can
    close it with exactly the text and audio the client received.
    """

    def __init__(
        self,
        reply: Reply,
        tokens: TokenCounts,
        *,
        audio: bool,
        voice: str,
        in_conversation: bool,
        previous_item_id: str | None,
        chunk_size: int,
        speech_ms_per_char: int,
        metadata: Any = None,
    ) -> None:
        self.reply = reply
        self.tokens = tokens
        self.audio = audio
        self.voice = voice
        self.in_conversation = in_conversation
        self.previous_item_id = previous_item_id
        self.chunk_size = chunk_size
        self.speech_ms_per_char = speech_ms_per_char
        self.metadata = metadata
        self.response_id = new_id("resp")
        self.conversation_id = new_id("conv") if in_conversation else None
        self.audio_bytes: dict[str, int] = {}
        self._open_item: dict[str, Any] | None = None
        self._open_text = ""
        self._finished: list[dict[str, Any]] = []

    # -- shapes -------------------------------------------------------------------------------

    def response_object(
        self,
        status: str,
        output: list[dict[str, Any]],
        *,
        usage: dict[str, Any] | None = None,
        status_details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "object": "realtime.response",
            "id": self.response_id,
            "status": status,
            "status_details": status_details,
            "output": output,
            "conversation_id": self.conversation_id,
            "output_modalities": ["audio"] if self.audio else ["text"],
            "max_output_tokens": "inf",
            "audio": {
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": self.voice}
            },
            "usage": usage,
            "metadata": self.metadata,
        }

    def _message_item(self, item_id: str, status: str, text: str | None) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if text is not None:
            content = [
                {"type": "output_audio", "transcript": text}
                if self.audio
                else {"type": "output_text", "text": text}
            ]
        return {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def _part(self, text: str) -> dict[str, Any]:
        return (
            {"type": "audio", "transcript": text} if self.audio else {"type": "text", "text": text}
        )

    def _voiced(self, step: Text) -> bytes:
        if step.audio is not None:
            return step.audio
        return tone(max(1, len(step.text)) * self.speech_ms_per_char)

    # -- the stream ---------------------------------------------------------------------------

    def events(self) -> Iterator[Emit]:
        yield Emit(
            {"type": "response.created", "response": self.response_object("in_progress", [])}
        )
        output: list[dict[str, Any]] = []
        audio_ms = 0
        for index, step in enumerate(self.reply.steps):
            if isinstance(step, Text):
                item, events, step_audio_ms = self._message(index, step)
                audio_ms += step_audio_ms
            else:
                item, events = self._function_call(index, step)
            yield from events
            output.append(item)
        done = self.response_object(
            "completed", output, usage=realtime_usage(self.tokens, audio_ms)
        )
        yield Emit({"type": "response.done", "response": done})

    def _added(self, index: int, item: dict[str, Any]) -> list[Emit]:
        emits = [
            Emit(
                {
                    "type": "response.output_item.added",
                    "response_id": self.response_id,
                    "output_index": index,
                    "item": item,
                }
            )
        ]
        if self.in_conversation:
            emits.append(
                Emit(
                    {
                        "type": "conversation.item.added",
                        "previous_item_id": self.previous_item_id,
                        "item": item,
                    }
                )
            )
        return emits

    def _done(self, index: int, item: dict[str, Any]) -> list[Emit]:
        emits = [
            Emit(
                {
                    "type": "response.output_item.done",
                    "response_id": self.response_id,
                    "output_index": index,
                    "item": item,
                }
            )
        ]
        if self.in_conversation:
            emits.append(
                Emit(
                    {
                        "type": "conversation.item.done",
                        "previous_item_id": self.previous_item_id,
                        "item": item,
                    }
                )
            )
            self.previous_item_id = item["id"]
        return emits

    def _message(self, index: int, step: Text) -> tuple[dict[str, Any], list[Emit], int]:
        item_id = new_id("item")
        where = {
            "response_id": self.response_id,
            "item_id": item_id,
            "output_index": index,
            "content_index": 0,
        }
        emits = self._added(index, self._message_item(item_id, "in_progress", None))
        emits.append(Emit({"type": "response.content_part.added", **where, "part": self._part("")}))
        pieces = text_chunks(step.text, self.chunk_size) or [""]
        audio_ms = 0
        if self.audio:
            voiced = self._voiced(step)
            audio_ms = len(voiced) // BYTES_PER_MS
            total = max(1, len(step.text))
            ends = list(itertools.accumulate(len(piece) for piece in pieces))
            slices = split_by_fraction(voiced, [end / total for end in ends])
            if not step.text:
                slices = [voiced]
            for piece, pcm in zip(pieces, slices, strict=True):
                if piece:
                    delta = {"type": "response.output_audio_transcript.delta", **where}
                    emits.append(Emit({**delta, "delta": piece}, is_delta=True))
                if pcm:
                    encoded = base64.b64encode(pcm).decode("ascii")
                    audio = {"type": "response.output_audio.delta", **where, "delta": encoded}
                    emits.append(Emit(audio, is_delta=not piece))
            emits.append(Emit({"type": "response.output_audio.done", **where}))
            emits.append(
                Emit(
                    {
                        "type": "response.output_audio_transcript.done",
                        **where,
                        "transcript": step.text,
                    }
                )
            )
        else:
            for piece in pieces:
                if piece:
                    delta = {"type": "response.output_text.delta", **where, "delta": piece}
                    emits.append(Emit(delta, is_delta=True))
            emits.append(Emit({"type": "response.output_text.done", **where, "text": step.text}))
        part_done = {"type": "response.content_part.done", **where, "part": self._part(step.text)}
        emits.append(Emit(part_done))
        item = self._message_item(item_id, "completed", step.text)
        emits.extend(self._done(index, item))
        return item, emits, audio_ms

    def _function_call(self, index: int, step: ToolCall) -> tuple[dict[str, Any], list[Emit]]:
        item_id, call_id = new_id("item"), new_id("call")
        arguments = step.arguments_json
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": step.name,
            "call_id": call_id,
            "arguments": "",
        }
        where = {
            "response_id": self.response_id,
            "item_id": item_id,
            "output_index": index,
            "call_id": call_id,
        }
        emits = self._added(index, item)
        for piece in text_chunks(arguments, self.chunk_size):
            delta = {"type": "response.function_call_arguments.delta", **where, "delta": piece}
            emits.append(Emit(delta, is_delta=True))
        emits.append(
            Emit(
                {
                    "type": "response.function_call_arguments.done",
                    **where,
                    "name": step.name,
                    "arguments": arguments,
                }
            )
        )
        finished = {**item, "status": "completed", "arguments": arguments}
        emits.extend(self._done(index, finished))
        return finished, emits

    # -- progress and cancellation ------------------------------------------------------------

    def mark_sent(self, payload: Mapping[str, Any]) -> None:
        """Track what the client has received, for an honest `cancelled_tail`."""
        kind = payload["type"]
        if kind == "response.output_item.added":
            self._open_item = copy.deepcopy(payload["item"])
            self._open_text = ""
        elif kind in ("response.output_audio_transcript.delta", "response.output_text.delta"):
            self._open_text += payload["delta"]
        elif kind == "response.function_call_arguments.delta" and self._open_item is not None:
            self._open_item["arguments"] += payload["delta"]
        elif kind == "response.output_audio.delta":
            item_id = payload["item_id"]
            size = len(base64.b64decode(payload["delta"]))
            self.audio_bytes[item_id] = self.audio_bytes.get(item_id, 0) + size
        elif kind == "response.output_item.done":
            self._finished.append(payload["item"])
            self._open_item = None

    def cancelled_tail(self, reason: str) -> list[dict[str, Any]]:
        """The events that end this response early, as `response.cancel` or a barge-in does."""
        tail: list[dict[str, Any]] = []
        output = list(self._finished)
        if self._open_item is not None:
            item = self._open_item
            if item["type"] == "message":
                item = self._message_item(item["id"], "incomplete", self._open_text)
            else:
                item = {**item, "status": "incomplete"}
            index = len(output)
            tail.extend(emit.payload for emit in self._done(index, item))
            output.append(item)
        audio_ms = sum(self.audio_bytes.values()) // BYTES_PER_MS
        details = {"type": "cancelled", "reason": reason}
        response = self.response_object(
            "cancelled", output, usage=realtime_usage(self.tokens, audio_ms), status_details=details
        )
        tail.append({"type": "response.done", "response": response})
        return tail
