"""Hark's Realtime (speech-to-speech) client: one voice session that survives its WebSockets.

Built on the ``openai`` SDK's ``client.realtime.connect`` (see
docs/decisions/0001-realtime-transport.md). Hark owns what the SDK leaves to applications:

* **Reconnection.** A dropped stream, a server close (the 60-minute cap) or a stalled link
  (unanswered pings) leads to a new link after backoff with jitter; the session config and
  tools are sent again and the conversation so far is replayed, packed into the instructions.
  A rejected key or exhausted quota stops at once with a sentence the user can act on.
* **Recycling.** Before the server's cap, at a turn boundary, the session is renewed on
  purpose, so the hard close never cuts the assistant off mid-sentence.
* **Turns and tools.** Every server frame goes through ``RealtimeEventMapper`` onto the bus;
  audio goes straight to ``on_audio``. Function calls run beside the audio
  (``ToolCallCoordinator``) and the model is asked to continue once all are answered.
* **Interruptions.** ``cancel_response`` and ``truncate`` let the barge-in logic cut a reply
  and make the model forget what the user did not hear.
* **Asides.** ``speak_aside`` says something outside the conversation (an out-of-band
  response: an approval question); ``hold_replies`` keeps the server from answering the
  user's spoken reply to it, and ``forget_item`` removes that reply from the conversation.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from src.config.settings import ApiSettings
from src.events.bus import EventBus
from src.events.conversation import ErrorReported
from src.events.realtime import ConnectionStatus
from src.events.tasks import TaskOwner
from src.events.voice import RealtimeResponseDone
from src.services.realtime_events import AudioOut, RealtimeEventMapper
from src.services.realtime_link import LinkOpenError, RealtimeLink, open_link
from src.services.realtime_session_config import (
    DEFAULT_TRANSCRIPTION_MODEL,
    MANUAL_MODES,
    SessionConfigBuilder,
    TurnDetectionMode,
)
from src.services.realtime_supervisor import LinkSupervisor, RealtimeTiming
from src.services.realtime_tools import ToolCallCoordinator, ToolExecutor
from src.services.realtime_turns import ASIDE_KEY, TurnState
from src.services.reconnect_policy import BackoffPolicy, LinkEnd, end_from_error_event

if TYPE_CHECKING:
    from openai import AsyncOpenAI

log = logging.getLogger(__name__)

AudioSink = Callable[[str, bytes], Awaitable[None] | None]
"""Receives ``(item_id, pcm16_24khz)`` of the assistant's speech, for the playback buffer."""
AudioEndSink = Callable[[str], Awaitable[None] | None]
"""Told once per item when its audio is complete (or cut off), so a short item plays at once."""
History = Sequence[Mapping[str, Any]]
ContextProvider = Callable[[], History | Awaitable[History]]
"""Returns the conversation so far as ``{"role", "content"}`` messages (persisted history)."""

MIN_COMMIT_BYTES = 100 * 48  # the server refuses to commit less than 100 ms of 24 kHz PCM16
# Error codes that describe a race the client already handles; the user need not see them.
QUIET_ERROR_CODES = frozenset(
    {
        "response_cancel_not_active",
        "input_audio_buffer_commit_empty",
        "conversation_already_has_active_response",
        "session_expired",
    }
)
ASIDE_INSTRUCTIONS = """\
You are reading a short message from the assistant's software to the user. Say the user's \
message below aloud, word for word, in the same voice and language as the conversation. Add \
nothing before or after it, and do not answer it yourself."""


class RealtimeClient:
    """A voice session over the Realtime API; see the module docstring for what it owns."""

    def __init__(
        self,
        bus: EventBus,
        client_factory: Callable[[], AsyncOpenAI],
        api: ApiSettings,
        instructions: str,
        tools: ToolExecutor,
        *,
        turn_detection: TurnDetectionMode = "semantic_vad",
        on_audio: AudioSink | None = None,
        on_audio_end: AudioEndSink | None = None,
        context_provider: ContextProvider | None = None,
        backoff: BackoffPolicy | None = None,
        timing: RealtimeTiming | None = None,
        transcription_model: str = DEFAULT_TRANSCRIPTION_MODEL,
    ) -> None:
        self._bus = bus
        self._client_factory = client_factory
        self._api = api
        self._executor = tools
        self._mode: TurnDetectionMode = turn_detection
        self._on_audio = on_audio
        self._on_audio_end = on_audio_end
        self._audio_items: set[str] = set()  # items with audio whose end was not yet told
        self._context_provider = context_provider
        self._config = SessionConfigBuilder(
            instructions=instructions, voice=api.voice, transcription_model=transcription_model
        )
        self._mapper = RealtimeEventMapper()
        self._tasks = TaskOwner("realtime")
        self._tools = ToolCallCoordinator(
            bus,
            tools,
            self._tasks,
            deliver=self._deliver_output,
            continue_response=self._continue_after_tools,
        )
        self._tool_schemas: list[dict[str, Any]] | None = None
        self._timing = timing or RealtimeTiming()
        self._links = LinkSupervisor(
            bus,
            self._tasks,
            self,
            self._open_configured,
            backoff=backoff or BackoffPolicy(),
            timing=self._timing,
            base_url=api.base_url,
        )
        self._pending_texts: list[str] = []
        self._pending_asides: list[Any] = []  # response.create options, oldest first
        self._replies_held = False
        self.dropped_audio_bytes = 0
        """Microphone audio that arrived while no link was open (it cannot be sent later)."""
        self._turns = TurnState()

    # -- state --------------------------------------------------------------------------------

    @property
    def _link(self) -> RealtimeLink | None:
        link = self._links.link
        return link if link is not None and link.open else None

    @property
    def _generation(self) -> int:
        return self._links.generation

    @property
    def status(self) -> ConnectionStatus:
        return self._links.status

    @property
    def connected(self) -> bool:
        return self._link is not None

    @property
    def response_active(self) -> bool:
        return self._turns.response_active

    @property
    def current_response_id(self) -> str | None:
        return self._turns.response_id

    @property
    def last_assistant_item_id(self) -> str | None:
        """The assistant message item last started: what ``truncate`` usually cuts."""
        return self._turns.last_assistant_item_id

    @property
    def turn_detection(self) -> TurnDetectionMode:
        return self._mode

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Begin connecting in the background; progress arrives as RealtimeConnectionChanged."""
        self._links.start()

    async def wait_until_connected(self) -> None:
        """Wait for an open, configured link (wrap in ``asyncio.timeout`` to bound it)."""
        await self._links.wait_until_connected()

    def resume(self) -> None:
        """Connect again if the link gave up (called when the OpenAI key is replaced)."""
        if self._links.resume():
            log.info("realtime: connecting again with the new key")

    async def close(self) -> None:
        """End the session: close the link politely, stop retrying, cancel running tools."""
        await self._links.close()
        await self._tasks.close()

    # -- what the audio pipeline and front ends call ------------------------------------------

    async def send_audio(self, pcm24k: bytes) -> None:
        """Stream microphone audio (PCM16, 24 kHz, mono) into the input buffer."""
        link = self._link
        if link is None or not pcm24k:
            self.dropped_audio_bytes += len(pcm24k)
            return
        self._turns.uncommitted_bytes += len(pcm24k)
        # The hot path: 50 frames a second. The SDK's typed sender re-validates each dict
        # (about 0.7 ms a call here), so the one fixed-shape event is serialised directly;
        # the scripted server still checks it against the SDK's types in the tests.
        frame = json.dumps(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm24k).decode()}
        )
        await link.send(lambda c: c.send_raw(frame))

    async def commit_and_respond(self) -> bool:
        """End of the user's speech (client VAD, push-to-talk): commit it and ask for a reply.

        Less than 100 ms of audio is discarded instead (the server would refuse the commit,
        and a reply to nothing repeats the last answer). Returns whether a reply was asked for.
        """
        link = self._link
        if link is None:
            return False
        if self._turns.uncommitted_bytes < MIN_COMMIT_BYTES:
            await self.clear_input()
            return False
        self._turns.uncommitted_bytes = 0
        await link.send(lambda c: c.input_audio_buffer.commit())
        if self._replies_held:
            return False  # the speech answers Hark's question; the transcript carries it
        await self._request_response()
        return True

    async def clear_input(self) -> None:
        """Discard uncommitted microphone audio (a cough, a cancelled push-to-talk)."""
        self._turns.uncommitted_bytes = 0
        if self._link is not None:
            await self._link.send(lambda c: c.input_audio_buffer.clear())

    async def send_text(self, text: str) -> None:
        """Typed input joins the voice conversation; the answer is spoken like any other.

        Sent at once when connected, else queued and sent after the next connect. If the
        assistant is still answering, the new reply is requested when that answer ends.
        """
        if self._link is None:
            self._pending_texts.append(text)
            return
        await self._send_text(self._link, text)

    async def cancel_response(self) -> bool:
        """Stop the reply being generated (barge-in); no-op when none is live."""
        link, response_id = self._link, self._turns.response_id
        if link is None or response_id is None:
            return False
        return await link.send(lambda c: c.response.cancel(response_id=response_id))

    async def truncate(self, item_id: str, audio_end_ms: int) -> bool:
        """Make the model forget the part of ``item_id`` the user never heard."""
        link = self._link
        if link is None or item_id in self._turns.aside_items:
            return False  # an aside is not in the conversation: there is nothing to forget
        end_ms = max(0, int(audio_end_ms))
        return await link.send(
            lambda c: c.conversation.item.truncate(
                item_id=item_id, content_index=0, audio_end_ms=end_ms
            )
        )

    async def set_turn_detection(self, mode: TurnDetectionMode) -> None:
        """Switch who detects the end of a turn; applies now and to every later session."""
        self._mode = mode
        self._turns.uncommitted_bytes = 0
        if self._link is not None:
            update = self._config.turn_detection_only(mode, replies=not self._replies_held)
            await self._link.send(lambda c: c.session.update(session=update))

    @property
    def replies_held(self) -> bool:
        return self._replies_held

    async def hold_replies(self, held: bool) -> None:
        """While held, the user's speech is committed and transcribed but not answered.

        A spoken approval needs the user's "yes" as an answer to Hark, not as a new request
        to the model; with server turn detection the server would otherwise reply by itself.
        Kept across reconnections until released.
        """
        if held == self._replies_held:
            return
        self._replies_held = held
        if self._link is not None and self._mode not in MANUAL_MODES:
            update = self._config.turn_detection_only(self._mode, replies=not held)
            await self._link.send(lambda c: c.session.update(session=update))

    async def speak_aside(self, text: str, *, purpose: str) -> None:
        """Say ``text`` aloud outside the conversation (the model will not remember it).

        Sent as an out-of-band response (``conversation: "none"``) once no reply is live, so
        it never collides with the assistant's own answer; its audio plays like any other,
        its transcript is not recorded as a turn, and a barge-in simply cuts it short.
        """
        message: Any = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        self._pending_asides.append(
            {
                "conversation": "none",
                "metadata": {ASIDE_KEY: purpose},
                "output_modalities": ["audio"],
                "instructions": ASIDE_INSTRUCTIONS,
                "input": [message],
                "tools": [],
                "tool_choice": "none",
            }
        )
        await self._send_asides()

    def drop_asides(self) -> int:
        """Forget asides not yet sent (their question was answered meanwhile); how many."""
        dropped, self._pending_asides = len(self._pending_asides), []
        return dropped

    async def forget_item(self, item_id: str) -> bool:
        """Delete an item from the conversation (the user's spoken answer to an aside)."""
        link = self._link
        if link is None or not item_id:
            return False
        return await link.send(lambda c: c.conversation.item.delete(item_id=item_id))

    # -- the receiving side -------------------------------------------------------------------

    async def handle_frame(self, frame: str | bytes | dict[str, Any]) -> None:
        """Process one server frame: track state, publish bus events, play audio, run tools.

        The receive loop calls this for every frame; anything the SDK types reject is logged
        and skipped, so a server that adds event types cannot break a voice session.
        """
        event = self._mapper.parse(frame)
        if event is None:
            return
        kind = str(event.type)
        if kind == "error":
            await self._on_error(event)
            return
        self._turns.observe(kind, event)
        aside = self._turns.is_aside(kind, event)
        for out in self._mapper.map_event(event):
            if isinstance(out, AudioOut):
                await self._play(out)
            elif not aside:
                await self._bus.publish(out)
            elif isinstance(out, RealtimeResponseDone):
                # Its tokens still count (and cost); its words are not the assistant's answer.
                await self._bus.publish(replace(out, aside=True))
        await self._track_after(kind, event)

    async def _track_after(self, kind: str, event: Any) -> None:
        generation = self._generation
        if kind == "response.output_audio.done":
            await self._end_audio(event.item_id)
        elif kind == "response.output_item.done":
            await self._end_audio(event.item.id or "")  # a cut-off item gets no audio.done
        elif kind == "response.function_call_arguments.done":
            await self._tools.begin(
                generation, event.response_id, event.call_id, event.name or "", event.arguments
            )
        elif kind == "response.done":
            await self._on_response_done(generation, event.response)

    async def _on_response_done(self, generation: int, response: Any) -> None:
        response_id = response.id or "response"
        for item in response.output or []:
            # A server that skipped function_call_arguments.done still gets its calls run.
            if item.type == "function_call" and item.status == "completed" and item.call_id:
                await self._tools.begin(
                    generation, response_id, item.call_id, item.name or "", item.arguments or ""
                )
        ask_now = self._turns.response_finished(response_id)
        self._turns.asides.discard(response_id)
        await self._tools.response_done(response_id)
        if self._pending_asides:
            # An aside waiting for this reply to end goes first; a deferred reply follows it.
            self._turns.deferred = self._turns.deferred or ask_now
            await self._send_asides()
        elif ask_now:
            await self._request_response()
        self._links.recycle_if_due()

    async def _on_error(self, event: Any) -> None:
        error = event.error
        fatal = end_from_error_event(error.code, error.type)
        if fatal is not None:
            if self._link is not None:
                self._link.end(fatal)
            return
        if error.code == "conversation_already_has_active_response":
            # Our response.create raced one the server started itself: ask again after it.
            self._turns.request_refused()
        if error.code in QUIET_ERROR_CODES:
            log.info("realtime: %s (%s)", error.code, error.message)
            return
        log.warning("realtime error %s: %s", error.code, error.message)
        await self._bus.publish(ErrorReported(source="realtime", message=error.message))

    async def _play(self, audio: AudioOut) -> None:
        self._audio_items.add(audio.item_id)
        if self._on_audio is not None:
            await self._call_sink(self._on_audio, audio.item_id, audio.pcm)

    async def _end_audio(self, item_id: str) -> None:
        if item_id not in self._audio_items:
            return
        self._audio_items.discard(item_id)
        if self._on_audio_end is not None:
            await self._call_sink(self._on_audio_end, item_id)

    async def _call_sink(self, sink: Callable[..., Awaitable[None] | None], *args: Any) -> None:
        try:
            result = sink(*args)
            if inspect.isawaitable(result):
                await result
        except Exception:
            # A playback fault must not end the voice session; the log says what it was.
            log.exception("realtime: the audio sink failed on item %s", args[0])

    # -- requests the client makes on its own -------------------------------------------------

    async def _send_text(self, link: RealtimeLink, text: str) -> None:
        item: Any = {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        }
        await link.send(lambda c: c.conversation.item.create(item=item))
        await self._request_response()

    async def _request_response(self) -> None:
        """Ask for a reply now, or as soon as the reply in progress ends (one at a time)."""
        link = self._link
        if link is None:
            return
        if self._turns.request_reply() and not await link.send(lambda c: c.response.create()):
            self._turns.request_failed()

    async def _send_asides(self) -> None:
        """Send the next waiting aside if nothing is live (one response at a time)."""
        link = self._link
        if link is None or not self._pending_asides or not self._turns.claim():
            return
        options = self._pending_asides.pop(0)
        if not await link.send(lambda c: c.response.create(response=options)):
            self._pending_asides.insert(0, options)
            self._turns.request_failed()

    async def _deliver_output(self, generation: int, call_id: str, output: str) -> bool:
        link = self._link
        if link is None or generation != self._generation:
            return False
        item: Any = {"type": "function_call_output", "call_id": call_id, "output": output}
        return await link.send(lambda c: c.conversation.item.create(item=item))

    async def _continue_after_tools(self, generation: int) -> None:
        if generation == self._generation:
            await self._request_response()

    # -- the supervisor's callbacks (LinkUser) ------------------------------------------------

    async def _open_configured(self) -> RealtimeLink:
        """A new link, configured: session, tools and the conversation so far."""
        from openai import OpenAIError

        try:
            client = self._client_factory()
        except OpenAIError as exc:  # no key, bad options: retrying cannot fix it
            raise LinkOpenError(LinkEnd("rejected", False, str(exc))) from exc
        link = await open_link(client, self._api.realtime_model, opened_at=self._timing.now)
        if self._tool_schemas is None:
            self._tool_schemas = self._executor.tool_schemas()
        config = self._config.full(
            self._mode, self._tool_schemas, await self._history(), replies=not self._replies_held
        )
        await link.send(lambda c: c.session.update(session=config))
        return link

    async def link_up(self, link: RealtimeLink, generation: int) -> None:
        """A fresh session has no turn in progress; typed input queued meanwhile goes now."""
        self._turns.reset()
        pending, self._pending_texts = self._pending_texts, []
        for text in pending:
            await self._send_text(link, text)
        await self._send_asides()

    def link_down(self, generation: int) -> None:
        self._turns.reset()
        self._tools.forget(generation)

    def at_turn_boundary(self) -> bool:
        return self._turns.at_boundary(
            manual_turns=self._mode in MANUAL_MODES, tools_running=self._tools.running
        )

    async def _history(self) -> History:
        if self._context_provider is None:
            return ()
        try:
            result = self._context_provider()
            if inspect.isawaitable(result):
                return await result
            return result
        except Exception:
            # Without history the session still works; it just starts with no memory.
            log.exception("realtime: the conversation history could not be read")
            return ()
