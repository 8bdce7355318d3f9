"""The Realtime API (GA protocol) over a WebSocket, answered by the scripted brain.

One `RealtimeConnection` per socket holds what the real server holds: the session config, the
conversation, the input audio buffer, at most one live response. The conversation is kept
exactly as the events sent to the client describe it (`conversation.item.added/done/deleted`),
so what the brain sees is what the client was told. Replies are rendered by
`RealtimeResponseTurn` (openai_realtime_turn), paced and held like the HTTP APIs, and can be
cancelled part-way by `response.cancel` or by the server VAD hearing the user barge in.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.openai_audio import BYTES_PER_MS, EnergyVad, VadEvent
from tests.fakes.openai_brain import ModelRequest, realtime_items, tool_names
from tests.fakes.openai_http_turns import TokenCounts, new_id
from tests.fakes.openai_realtime_turn import (
    RealtimeResponseTurn,
    default_session,
    merge_session,
)
from tests.fakes.openai_records import RealtimeConnectionRecord, Truncation, WireLog
from tests.fakes.openai_script import ReplyPacer, ServerScript
from tests.fakes.openai_wire import WireKind, WireValidationError

log = logging.getLogger(__name__)
ClientEventHandler = Callable[[dict[str, Any]], Awaitable[None]]


class Conversation:
    """The default conversation, kept exactly as the server's events describe it to the client.

    It changes only through the events sent (`track`), so what the brain is shown is what the
    client was told. Audio items also remember what the test said they contained (`hear`).
    """

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._heard: dict[str, str] = {}
        self._truncated: set[str] = set()

    @property
    def last_id(self) -> str | None:
        return self.items[-1]["id"] if self.items else None

    def index_of(self, item_id: str) -> int | None:
        for index, item in enumerate(self.items):
            if item.get("id") == item_id:
                return index
        return None

    def get(self, item_id: str) -> dict[str, Any] | None:
        index = self.index_of(item_id)
        return None if index is None else self.items[index]

    def track(self, payload: Mapping[str, Any]) -> None:
        kind = payload["type"]
        if kind == "conversation.item.added":
            self._insert(self._copy(payload["item"]), payload.get("previous_item_id"))
        elif kind == "conversation.item.done":
            index = self.index_of(payload["item"]["id"])
            if index is not None:
                self.items[index] = self._copy(payload["item"])
        elif kind == "conversation.item.deleted":
            index = self.index_of(payload["item_id"])
            if index is not None:
                del self.items[index]

    def _copy(self, item: Mapping[str, Any]) -> dict[str, Any]:
        kept = copy.deepcopy(dict(item))
        if kept.get("id") in self._truncated:
            _forget_transcript(kept)
        return kept

    def _insert(self, item: dict[str, Any], previous_item_id: str | None) -> None:
        if previous_item_id is None:
            self.items.append(item)
        elif previous_item_id == "root":
            self.items.insert(0, item)
        else:
            index = self.index_of(previous_item_id)
            self.items.insert(len(self.items) if index is None else index + 1, item)

    def truncate(self, item_id: str) -> None:
        """Drop an audio item's transcript, as OpenAI does, so no unheard text stays in context.

        Remembered, so a cancelled response's closing `conversation.item.done` (which may come
        after the client's truncate) cannot bring the transcript back.
        """
        self._truncated.add(item_id)
        item = self.get(item_id)
        if item is not None:
            _forget_transcript(item)

    def hear(self, item_id: str, text: str) -> None:
        self._heard[item_id] = text

    def as_heard(self, items: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """`items` with each audio turn replaced by the text it was scripted to contain."""
        heard = []
        for item in items:
            text = self._heard.get(str(item.get("id")))
            if text is not None:
                item = {**item, "content": [{"type": "input_text", "text": text}]}
            heard.append(item)
        return heard


def _forget_transcript(item: dict[str, Any]) -> None:
    for part in item.get("content", []):
        if part.get("type") == "output_audio":
            part["transcript"] = None


def _setting(config: Mapping[str, Any], key: str, default: float) -> Any:
    value = config.get(key)
    return default if value is None else value


class _ActiveResponse:
    def __init__(self, turn: RealtimeResponseTurn, pacer: ReplyPacer) -> None:
        self.turn = turn
        self.pacer = pacer
        self.reason = "client_cancelled"
        self.task: asyncio.Task[None] | None = None

    def interrupt(self, reason: str) -> None:
        self.reason = reason
        self.pacer.interrupted.set()


class RealtimeConnection:
    """One client's Realtime session on the fake server."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
        record: RealtimeConnectionRecord,
        *,
        script: ServerScript,
        wire: WireLog,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.record = record
        self.script = script
        self.wire = wire
        self.session = default_session(record.model)
        self.conversation = Conversation()
        self._audio_bytes: dict[str, int] = {}  # assistant item id -> audio sent, for truncation
        self._buffer = bytearray()
        self._vad = self._make_vad()
        self._speech_item_id: str | None = None
        self._active: _ActiveResponse | None = None
        self._send_lock = asyncio.Lock()
        self._event_ids = itertools.count(1)
        self._prefix = new_id("event")[:18]
        self._dispatch = self._handlers()

    # -- plumbing -----------------------------------------------------------------------------

    async def run(self) -> None:
        await self.send({"type": "session.created", "session": self.session})
        async for message in self.ws:
            if message.type == WSMsgType.TEXT:
                await self._receive(message.data)
            elif message.type == WSMsgType.BINARY:
                await self.send_error("invalid_event", "Binary frames are not supported.")
        await self._stop_response()

    async def send(self, payload: dict[str, Any]) -> None:
        """Validate, record and send one server event; keep the conversation in step with it."""
        payload = {"event_id": f"{self._prefix}{next(self._event_ids):06d}", **payload}
        text = self.wire.checked_json(WireKind.REALTIME_SERVER_EVENT, payload)
        self.record.server_events.append(payload)
        self.conversation.track(payload)
        async with self._send_lock:
            await self.ws.send_str(text)

    async def send_error(
        self, code: str, message: str, *, event_id: str | None = None, param: str | None = None
    ) -> None:
        error = {
            "type": "invalid_request_error",
            "code": code,
            "message": message,
            "param": param,
            "event_id": event_id,
        }
        await self.send({"type": "error", "error": error})

    async def close(self, code: int, reason: str) -> None:
        self.record.close_code = code
        await self.ws.close(code=code, message=reason.encode())

    def drop(self) -> None:
        """Cut the TCP connection with no close frame, as a network failure would."""
        self.record.close_code = 1006
        if self.transport is not None:
            self.transport.abort()

    # -- client events ------------------------------------------------------------------------

    async def _receive(self, data: str) -> None:
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            self.wire.check_client_event(data)
            await self.send_error("invalid_json", "The message is not valid JSON.")
            return
        if not isinstance(event, dict):
            self.wire.check_client_event(event)
            await self.send_error("invalid_event", "A client event must be a JSON object.")
            return
        self.record.client_events.append(event)
        problem = self.wire.check_client_event(event)
        event_type = event.get("type")
        handler = self._dispatch.get(str(event_type))
        if handler is None:
            await self.send_error(
                "invalid_event",
                f"Invalid value: '{event_type}'. Supported values are: "
                + ", ".join(sorted(self.wire.validator.realtime_client_event_types)),
                event_id=event.get("event_id"),
                param="type",
            )
        elif problem is not None:
            # Like OpenAI, refuse a malformed event rather than echo it back into the session.
            await self.send_error(
                "invalid_value",
                f"Invalid '{event_type}' event: {problem}",
                event_id=event.get("event_id"),
            )
        else:
            await handler(event)

    def _handlers(self) -> dict[str, ClientEventHandler]:
        return {
            "session.update": self._session_update,
            "conversation.item.create": self._item_create,
            "conversation.item.delete": self._item_delete,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.truncate": self._item_truncate,
            "input_audio_buffer.append": self._audio_append,
            "input_audio_buffer.commit": self._audio_commit,
            "input_audio_buffer.clear": self._audio_clear,
            "output_audio_buffer.clear": self._output_audio_clear,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    async def _session_update(self, event: dict[str, Any]) -> None:
        update = event.get("session") or {}
        if update.get("type") not in (None, "realtime"):
            await self.send_error(
                "invalid_value", "Only realtime sessions are supported.", param="session.type"
            )
            return
        previous = self._turn_detection()
        self.session = merge_session(self.session, update)
        self._refresh_vad(previous)
        await self.send({"type": "session.updated", "session": self.session})

    async def _item_create(self, event: dict[str, Any]) -> None:
        item = copy.deepcopy(event.get("item") or {})
        previous = event.get("previous_item_id")
        if previous not in (None, "root") and self.conversation.index_of(previous) is None:
            await self.send_error(
                "item_not_found",
                f"Item with item_id '{previous}' not found",
                event_id=event.get("event_id"),
                param="previous_item_id",
            )
            return
        item.setdefault("id", new_id("item"))
        item.setdefault("status", "completed")
        if previous is None:
            previous = self.conversation.last_id
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        )

    async def _item_delete(self, event: dict[str, Any]) -> None:
        item_id = str(event.get("item_id"))
        if self.conversation.index_of(item_id) is None:
            await self._item_not_found(event, item_id)
            return
        await self.send({"type": "conversation.item.deleted", "item_id": item_id})

    async def _item_retrieve(self, event: dict[str, Any]) -> None:
        item_id = str(event.get("item_id"))
        item = self.conversation.get(item_id)
        if item is None:
            await self._item_not_found(event, item_id)
            return
        await self.send({"type": "conversation.item.retrieved", "item": item})

    async def _item_not_found(self, event: Mapping[str, Any], item_id: str) -> None:
        await self.send_error(
            "item_not_found",
            f"Item with item_id '{item_id}' not found",
            event_id=event.get("event_id"),
            param="item_id",
        )

    async def _item_truncate(self, event: dict[str, Any]) -> None:
        item_id = str(event.get("item_id"))
        content_index = int(event.get("content_index", 0))
        audio_end_ms = int(event.get("audio_end_ms", 0))
        self.record.truncations.append(Truncation(item_id, content_index, audio_end_ms))
        item = self.conversation.get(item_id)
        if item is None:
            await self._item_not_found(event, item_id)
            return
        available = self._assistant_audio_ms(item_id)
        if audio_end_ms > available:
            await self.send_error(
                "invalid_value",
                f"Audio content of {available}ms is already shorter than {audio_end_ms}ms",
                event_id=event.get("event_id"),
                param="audio_end_ms",
            )
            return
        self.conversation.truncate(item_id)
        await self.send(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": audio_end_ms,
            }
        )

    def _assistant_audio_ms(self, item_id: str) -> int:
        sent = self._audio_bytes.get(item_id, 0)
        if self._active is not None:
            sent += self._active.turn.audio_bytes.get(item_id, 0)
        return sent // BYTES_PER_MS

    async def _audio_append(self, event: dict[str, Any]) -> None:
        try:
            pcm = base64.b64decode(str(event.get("audio", "")), validate=True)
        except binascii.Error:
            await self.send_error(
                "invalid_value", "Invalid base64 audio.", event_id=event.get("event_id")
            )
            return
        self.record.input_audio.extend(pcm)
        self._buffer.extend(pcm)
        if self._vad is not None:
            for vad_event in self._vad.feed(pcm):
                await self._on_vad(vad_event)

    async def _audio_commit(self, event: dict[str, Any]) -> None:
        if len(self._buffer) < 100 * BYTES_PER_MS:
            await self.send_error(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"100ms of audio, but buffer only has {len(self._buffer) // BYTES_PER_MS}ms "
                "of audio.",
                event_id=event.get("event_id"),
            )
            return
        await self._commit(new_id("item"))

    async def _commit(self, item_id: str) -> None:
        self._buffer.clear()
        heard = self.script.transcripts.take()
        self.conversation.hear(item_id, heard or "")
        transcribing = bool((self.session.get("audio") or {}).get("input", {}).get("transcription"))
        previous = self.conversation.last_id
        item = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        committed = {"type": "input_audio_buffer.committed", "item_id": item_id}
        await self.send({**committed, "previous_item_id": previous})
        await self.send(
            {"type": "conversation.item.added", "previous_item_id": previous, "item": item}
        )
        await self.send(
            {"type": "conversation.item.done", "previous_item_id": previous, "item": item}
        )
        if transcribing:
            await self._send_transcription(item_id, heard or "")

    async def _send_transcription(self, item_id: str, transcript: str) -> None:
        tokens = max(1, len(transcript) // 4)
        usage = {"type": "tokens", "input_tokens": tokens, "output_tokens": tokens}
        await self.send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": transcript,
                "usage": {**usage, "total_tokens": 2 * tokens},
            }
        )
        item = self.conversation.get(item_id)
        if item is not None:
            item["content"][0]["transcript"] = transcript

    async def _audio_clear(self, event: dict[str, Any]) -> None:
        self._buffer.clear()
        if self._vad is not None:
            self._vad.reset()
        self._speech_item_id = None
        await self.send({"type": "input_audio_buffer.cleared"})

    async def _output_audio_clear(self, event: dict[str, Any]) -> None:
        await self.send_error(
            "invalid_event",
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections.",
            event_id=event.get("event_id"),
        )

    # -- server VAD ---------------------------------------------------------------------------

    def _turn_detection(self) -> Mapping[str, Any] | None:
        audio_input = (self.session.get("audio") or {}).get("input") or {}
        detection = audio_input.get("turn_detection")
        return detection if isinstance(detection, Mapping) else None

    def _make_vad(self) -> EnergyVad | None:
        """An energy gate standing in for `server_vad`/`semantic_vad`; None when turned off.

        OpenAI's `threshold` (0..1, default 0.5) maps to an RMS gate of 0.04 x threshold, so the
        default gate is 0.02 of full scale (about -34 dBFS): speech from espeak-ng through a
        virtual microphone passes, room noise and silence do not.
        """
        detection = self._turn_detection()
        if detection is None:
            return None
        threshold = _setting(detection, "threshold", 0.5)
        return EnergyVad(
            rms_threshold=0.04 * float(threshold),
            prefix_padding_ms=int(_setting(detection, "prefix_padding_ms", 300)),
            silence_duration_ms=int(_setting(detection, "silence_duration_ms", 500)),
        )

    def _refresh_vad(self, previous: Mapping[str, Any] | None) -> None:
        """Rebuild the VAD only if turn detection changed, so its audio clock keeps running."""
        if self._turn_detection() != previous:
            self._vad = self._make_vad()

    async def _on_vad(self, vad_event: VadEvent) -> None:
        detection = self._turn_detection() or {}
        if vad_event.kind == "speech_started":
            self._speech_item_id = new_id("item")
            await self.send(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": vad_event.audio_ms,
                    "item_id": self._speech_item_id,
                }
            )
            if self._active is not None and detection.get("interrupt_response", True):
                self._active.interrupt("turn_detected")
            return
        item_id = self._speech_item_id or new_id("item")
        self._speech_item_id = None
        await self.send(
            {
                "type": "input_audio_buffer.speech_stopped",
                "audio_end_ms": vad_event.audio_ms,
                "item_id": item_id,
            }
        )
        await self._commit(item_id)
        if detection.get("create_response", True):
            await self._start_response({})

    # -- responses ----------------------------------------------------------------------------

    async def _response_create(self, event: dict[str, Any]) -> None:
        await self._start_response(event.get("response") or {}, event_id=event.get("event_id"))

    async def _response_cancel(self, event: dict[str, Any]) -> None:
        active = self._active
        wanted = event.get("response_id")
        if active is None or (wanted and wanted != active.turn.response_id):
            await self.send_error(
                "response_cancel_not_active",
                "Cancellation failed: no active response found",
                event_id=event.get("event_id"),
            )
            return
        active.interrupt("client_cancelled")

    def _request_for(self, options: Mapping[str, Any]) -> ModelRequest:
        items: Sequence[Mapping[str, Any]] = self.conversation.items
        if "input" in options:
            items = [self._resolve_reference(item) for item in options.get("input") or []]
        heard = self.conversation.as_heard(items)
        instructions = options.get("instructions", self.session.get("instructions"))
        tools = options["tools"] if "tools" in options else self.session.get("tools")
        return ModelRequest(
            api="realtime",
            model=str(self.session.get("model") or self.record.model),
            instructions=str(instructions or ""),
            items=realtime_items(heard),
            tool_names=tool_names(tools),
            raw={"session": self.session, "response": dict(options)},
        )

    def _resolve_reference(self, item: Mapping[str, Any]) -> Mapping[str, Any]:
        if item.get("type") == "item_reference":
            return self.conversation.get(str(item.get("id"))) or {"type": "unknown"}
        return item

    async def _start_response(
        self, options: Mapping[str, Any], event_id: str | None = None
    ) -> None:
        if self._active is not None:
            await self.send_error(
                "conversation_already_has_active_response",
                "Conversation already has an active response in progress: "
                f"{self._active.turn.response_id}. Wait until the response is finished before "
                "creating a new one.",
                event_id=event_id,
            )
            return
        request = self._request_for(options)
        try:
            reply = self.script.ask(request)
        except Exception as exc:  # a scripted brain's bug must reach the test, not kill the socket
            self.wire.fail("brain", f"brain raised {exc!r}", request.messages)
            await self.send_error("server_error", f"The scripted brain failed: {exc!r}")
            return
        modalities = options.get("output_modalities") or self.session.get("output_modalities")
        output_audio = (self.session.get("audio") or {}).get("output") or {}
        in_conversation = options.get("conversation", "auto") != "none"
        turn = RealtimeResponseTurn(
            reply,
            TokenCounts.of(request, reply),
            audio="audio" in (modalities or ["audio"]),
            voice=str(output_audio.get("voice") or "marin"),
            in_conversation=in_conversation,
            previous_item_id=self.conversation.last_id,
            chunk_size=self.script.chunk_size,
            speech_ms_per_char=self.script.speech_ms_per_char,
            metadata=options.get("metadata"),
        )
        active = _ActiveResponse(turn, self.script.pacer())
        self._active = active
        active.task = asyncio.create_task(self._play(active), name=f"realtime {turn.response_id}")

    async def _play(self, active: _ActiveResponse) -> None:
        turn, pacer = active.turn, active.pacer
        emits = list(turn.events())
        try:
            for position, emit in enumerate(emits):
                is_last = position == len(emits) - 1
                if not await pacer.before(emit, is_last=is_last):
                    tail = turn.cancelled_tail(active.reason)
                    for payload in tail[:-1]:
                        await self.send(payload)
                    self._finish(active)
                    await self.send(tail[-1])
                    return
                if is_last:
                    self._finish(active)  # a client may answer response.done at once
                await self.send(emit.payload)
                turn.mark_sent(emit.payload)
                pacer.after(emit)
        except ConnectionResetError:
            log.debug("client went away during %s", turn.response_id)
        except WireValidationError:
            await self.ws.close(code=1011, message=b"fake server sent an invalid event")
        finally:
            self._finish(active)

    def _finish(self, active: _ActiveResponse) -> None:
        """Retire the response: keep how much audio each item got, free the slot."""
        if self._active is active:
            for item_id, size in active.turn.audio_bytes.items():
                self._audio_bytes[item_id] = self._audio_bytes.get(item_id, 0) + size
            self._active = None

    async def _stop_response(self) -> None:
        active = self._active
        if active is not None and active.task is not None:
            active.task.cancel()
            await asyncio.gather(active.task, return_exceptions=True)
