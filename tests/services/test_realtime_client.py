"""The Realtime client against the scripted OpenAI server, through real WebSockets.

Each test drives `RealtimeClient` as the app would and asserts what crossed the wire (the
fake server's records) or what a user would see (bus events, audio handed to playback).
Nothing sleeps to wait: tests wait for records or events, bounded by a generous timeout
that only matters when something is broken. Backoff and ping timings are injected tiny.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from openai import AsyncOpenAI

from src.config.settings import ApiSettings
from src.events.base import Event
from src.events.bus import ALL_EVENTS, EventBus
from src.events.conversation import (
    AssistantTextDelta,
    ErrorReported,
    ToolCallFinished,
    ToolCallStarted,
)
from src.events.realtime import RealtimeConnectionChanged
from src.events.session import SetupNeeded
from src.events.voice import (
    RealtimeFunctionCall,
    RealtimeResponseDone,
    RealtimeSessionReady,
    TranscriptCompleted,
    UserSpeechStarted,
    UserSpeechStopped,
)
from src.services.live_api_key import LiveApiKey
from src.services.realtime_client import RealtimeClient
from src.services.realtime_session_config import (
    DEFAULT_TRANSCRIPTION_MODEL,
    RESUME_FOOTER,
    SPOKEN_TOOL_GUIDANCE,
    TurnDetectionMode,
    pack_history,
)
from src.services.realtime_supervisor import RealtimeTiming
from src.services.realtime_turns import TurnState
from src.services.reconnect_policy import BackoffPolicy
from tests.fakes.openai_audio import BYTES_PER_MS, tone
from tests.fakes.openai_brain import ModelRequest, Reply, Rule, RuleBrain, Text, ToolCall
from tests.fakes.openai_server import ScriptedOpenAIServer

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance"
WAIT = 10.0  # only reached when something is broken
KEY = "sk-test-hark"
INSTRUCTIONS = "You are Hark, a voice assistant."
FAST_BACKOFF = BackoffPolicy(base_seconds=0.001, cap_seconds=0.01, max_attempts=5)


# -------------------------------------------------------------------------------------------
# Test doubles: an event log, tools, a clock, a playback sink, a network that can stall
# -------------------------------------------------------------------------------------------


class EventLog:
    """Every bus event, in order, with a way to wait for the ones a test expects."""

    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Condition()
        bus.subscribe(ALL_EVENTS, self._record, name="test-event-log")

    async def _record(self, event: Event) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of(self, cls: type[Any], **fields: Any) -> list[Any]:
        return [
            event
            for event in self.events
            if isinstance(event, cls) and all(getattr(event, k) == v for k, v in fields.items())
        ]

    async def wait(self, cls: type[Any], count: int = 1, **fields: Any) -> list[Any]:
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(lambda: len(self.of(cls, **fields)) >= count)
        return self.of(cls, **fields)

    def statuses(self) -> list[tuple[str, str]]:
        return [(e.status, e.reason) for e in self.of(RealtimeConnectionChanged)]


def function_schema(name: str, **properties: str) -> dict[str, Any]:
    return {
        "type": "function",
        "name": name,
        "description": f"The {name} tool.",
        "parameters": {
            "type": "object",
            "properties": {key: {"type": kind} for key, kind in properties.items()},
            "required": list(properties),
        },
    }


class FakeTools:
    """A ToolExecutor: canned results, a record of calls, and an optional meeting point.

    With `meet=n`, each call waits until n calls are running at once: the test only finishes
    if the client really runs them in parallel.
    """

    def __init__(
        self, results: Mapping[str, str] | None = None, *, meet: int = 0, explode: bool = False
    ) -> None:
        default = {"get_weather": "cold", "get_time": "noon"}
        self.results = dict(default if results is None else results)
        self.explode = explode
        self.calls: list[tuple[str, str]] = []
        self.meet = meet
        self._running = 0
        self._met = asyncio.Event()

    def tool_schemas(self) -> list[dict[str, Any]]:
        return [function_schema("get_weather", city="string"), function_schema("get_time")]

    def progress(self, name: str, arguments: Mapping[str, Any]) -> str:
        where = f" in {arguments['city']}" if "city" in arguments else ""
        return f"Checking {name.removeprefix('get_')}{where}..."

    async def run_tool(self, name: str, arguments: str, /) -> tuple[bool, str]:
        self.calls.append((name, arguments))
        self._running += 1
        if self._running >= self.meet:
            self._met.set()
        if self.meet:
            await self._met.wait()
        self._running -= 1
        if self.explode:
            raise RuntimeError("a connector bug")
        if name not in self.results:
            return False, f"[tool error] There is no tool called {name}."
        return True, self.results[name]


class FakeClock:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


class Playback:
    """The audio sink: what playback would have received, per item."""

    def __init__(self) -> None:
        self.items: dict[str, bytearray] = {}
        self.ended: list[str] = []
        self.arrived = asyncio.Event()

    def __call__(self, item_id: str, pcm: bytes) -> None:
        self.items.setdefault(item_id, bytearray()).extend(pcm)
        self.arrived.set()

    def end(self, item_id: str) -> None:
        self.ended.append(item_id)

    def ms(self, item_id: str) -> int:
        return len(self.items.get(item_id, b"")) // BYTES_PER_MS


class StallingProxy:
    """A TCP relay to the fake server whose open connections can turn into a black hole.

    `freeze()` makes every connection open at that moment silently swallow what either side
    sends (a dead route: no FIN, no RST, no pongs); later connections relay normally.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._frozen: set[int] = set()
        self._open: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self._frozen |= self._open

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        pair = id(writer)
        self._open.add(pair)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(pair, source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, pair: int, source: asyncio.StreamReader, sink: asyncio.StreamWriter
    ) -> None:
        try:
            while data := await source.read(65536):
                if pair in self._frozen:
                    continue
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            sink.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


# -------------------------------------------------------------------------------------------
# Building a client
# -------------------------------------------------------------------------------------------


class Harness:
    """A client wired to a bus, an event log, fake tools and a playback sink."""

    def __init__(
        self,
        server: ScriptedOpenAIServer,
        *,
        base_url: str | None = None,
        key: str | LiveApiKey = KEY,
        mode: TurnDetectionMode = "semantic_vad",
        tools: FakeTools | None = None,
        timing: RealtimeTiming | None = None,
        backoff: BackoffPolicy = FAST_BACKOFF,
        history: list[dict[str, str]] | None = None,
    ) -> None:
        self.server = server
        self.bus = EventBus()
        self.log = EventLog(self.bus)
        self.tools = tools or FakeTools()
        self.playback = Playback()
        self.history = history if history is not None else []
        url = base_url or server.base_url
        self.client = RealtimeClient(
            self.bus,
            lambda: AsyncOpenAI(
                base_url=url,
                api_key=key.value if isinstance(key, LiveApiKey) else key,
                max_retries=0,
            ),
            ApiSettings(base_url=url),
            INSTRUCTIONS,
            self.tools,
            turn_detection=mode,
            on_audio=self.playback,
            on_audio_end=self.playback.end,
            context_provider=lambda: list(self.history),
            backoff=backoff,
            timing=timing or RealtimeTiming(ping_interval=None),
        )

    async def start(self) -> Harness:
        await self.client.start()
        async with asyncio.timeout(WAIT):
            await self.client.wait_until_connected()
        return self

    async def close(self) -> None:
        await self.client.close()
        await self.bus.close()

    async def answer(self, count: int = 1) -> RealtimeResponseDone:
        """Wait for the `count`-th completed response."""
        done: list[RealtimeResponseDone] = await self.log.wait(RealtimeResponseDone, count=count)
        return done[count - 1]

    def spoken(self) -> list[str]:
        return [e.text for e in self.log.of(TranscriptCompleted, role="assistant")]

    def remember_turns(self) -> None:
        """Persist turns as storage would: the history the client replays after a reconnect."""
        self.bus.subscribe(TranscriptCompleted, self._store, name="test-storage")

    def _store(self, event: TranscriptCompleted) -> None:
        self.history.append({"role": event.role, "content": event.text})

    async def say(self, text: str) -> None:
        """Typed input, stored like a user turn."""
        self.history.append({"role": "user", "content": text})
        await self.client.send_text(text)


@pytest.fixture
async def make(openai_server: ScriptedOpenAIServer) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def build(**options: Any) -> Harness:
        harness = Harness(openai_server, **options)
        made.append(harness)
        return harness

    yield build
    for harness in made:
        await harness.close()


def client_events(server: ScriptedOpenAIServer, connection: int = 0) -> list[dict[str, Any]]:
    return server.realtime[connection].client_events.snapshot()


async def wait_client_event(
    server: ScriptedOpenAIServer, kind: str, *, count: int = 1, connection: int = 0
) -> list[dict[str, Any]]:
    await server.realtime.wait_for_async(count=connection + 1)
    return await server.realtime[connection].client_events.wait_for_async(
        lambda event: event.get("type") == kind, count=count
    )


def user_turns(request: ModelRequest) -> list[str]:
    return [text for role, text in request.messages if role == "user"]


# -------------------------------------------------------------------------------------------
# Session configuration
# -------------------------------------------------------------------------------------------


async def test_session_update_has_the_ga_shape_with_tools(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    await make().start()
    (update,) = await wait_client_event(openai_server, "session.update")

    session = update["session"]
    assert session["type"] == "realtime"
    assert session["output_modalities"] == ["audio"]
    assert session["instructions"].startswith(INSTRUCTIONS)
    assert SPOKEN_TOOL_GUIDANCE in session["instructions"]
    audio_in, audio_out = session["audio"]["input"], session["audio"]["output"]
    assert audio_in["format"] == {"type": "audio/pcm", "rate": 24000}
    assert audio_in["transcription"] == {"model": DEFAULT_TRANSCRIPTION_MODEL}
    assert audio_in["turn_detection"]["type"] == "semantic_vad"
    assert audio_out == {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}
    assert [tool["name"] for tool in session["tools"]] == ["get_weather", "get_time"]
    assert session["tool_choice"] == "auto"
    record = openai_server.realtime[0]
    assert record.model == "gpt-realtime"
    assert record.authorization == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("server_vad", "server_vad"), ("client_vad", None), ("push_to_talk", None)],
)
async def test_turn_detection_per_mode_and_at_run_time(
    openai_server: ScriptedOpenAIServer,
    make: Callable[..., Harness],
    mode: TurnDetectionMode,
    expected: str | None,
) -> None:
    harness = await make(mode=mode).start()
    (update,) = await wait_client_event(openai_server, "session.update")
    detection = update["session"]["audio"]["input"]["turn_detection"]
    assert (detection or {}).get("type") == expected

    await harness.client.set_turn_detection("push_to_talk")
    updates = await wait_client_event(openai_server, "session.update", count=2)
    assert updates[1]["session"] == {
        "type": "realtime",
        "audio": {"input": {"turn_detection": None}},
    }
    assert harness.client.turn_detection == "push_to_talk"


def test_history_is_packed_newest_first_within_the_limit() -> None:
    messages = [
        {"role": "user", "content": "first question " * 5},
        {"role": "tool", "content": "raw tool output"},
        {"role": "assistant", "content": "first  answer\n"},
        {"role": "user", "content": "second"},
    ]
    assert pack_history(messages) == (
        "User: " + ("first question " * 5).strip() + "\nAssistant: first answer\nUser: second"
    )
    assert pack_history(messages, max_chars=40) == (
        "(Earlier turns omitted.)\nAssistant: first answer\nUser: second"
    )
    assert pack_history([]) == ""


# -------------------------------------------------------------------------------------------
# Audio in, audio out
# -------------------------------------------------------------------------------------------


async def test_streamed_audio_reaches_the_server(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    harness = await make(mode="push_to_talk").start()
    chunks = [tone(20) for _ in range(10)]
    for chunk in chunks:
        await harness.client.send_audio(chunk)
    await harness.client.clear_input()  # handled after every append before it
    await wait_client_event(openai_server, "input_audio_buffer.clear")

    assert openai_server.realtime[0].input_audio_bytes == 10 * 960 == sum(map(len, chunks))
    assert harness.client.dropped_audio_bytes == 0


async def test_push_to_talk_turn_is_answered_in_voice_with_transcripts(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    openai_server.script_transcripts("what time is it")
    harness = await make(mode="push_to_talk").start()
    await harness.client.send_audio(tone(300))
    assert await harness.client.commit_and_respond()
    done = await harness.answer()

    heard = harness.log.of(TranscriptCompleted, role="user")
    assert [e.text for e in heard] == ["what time is it"]
    reply = "You said: what time is it"
    assert harness.spoken() == [reply]
    assert done.status == "completed" and done.output_tokens > 0
    item_id = harness.client.last_assistant_item_id
    assert item_id is not None
    assert harness.playback.ms(item_id) == len(reply) * openai_server.script.speech_ms_per_char
    assert harness.playback.ended == [item_id]
    assert not harness.client.response_active
    types = openai_server.realtime[0].client_event_types()
    assert types[-2:] == ["input_audio_buffer.commit", "response.create"]


async def test_too_short_push_to_talk_is_discarded_not_answered(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    harness = await make(mode="push_to_talk").start()
    await harness.client.send_audio(tone(40))
    assert not await harness.client.commit_and_respond()
    await wait_client_event(openai_server, "input_audio_buffer.clear")
    types = openai_server.realtime[0].client_event_types()
    assert "input_audio_buffer.commit" not in types and "response.create" not in types


async def test_typed_text_joins_the_voice_conversation(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    harness = await make().start()
    await harness.client.send_text("good morning")
    await harness.answer()

    assert harness.spoken() == ["You said: good morning"]
    assert harness.playback.items  # spoken, not only written
    (create,) = await wait_client_event(openai_server, "conversation.item.create")
    assert create["item"]["content"] == [{"type": "input_text", "text": "good morning"}]
    assert user_turns(openai_server.model_requests("realtime")[-1]) == ["good morning"]


async def test_text_sent_while_answering_waits_for_the_answer_to_end(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    gate = openai_server.hold_next_replies(after_deltas=1)
    harness = await make().start()
    await harness.client.send_text("first")
    await gate.wait_reached_async()
    await harness.client.send_text("second")
    gate.release()
    await harness.answer(count=2)

    assert harness.spoken() == ["You said: first", "You said: second"]
    assert openai_server.realtime[0].client_event_types().count("response.create") == 2


# -------------------------------------------------------------------------------------------
# Tools
# -------------------------------------------------------------------------------------------


async def test_function_call_round_trip(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    openai_server.brain = RuleBrain(
        [Rule(r"weather in (\w+)", "get_weather", lambda m: {"city": m.group(1)})]
    )
    harness = await make().start()
    await harness.client.send_text("what is the weather in Oslo")
    await harness.answer(count=2)

    (started,) = harness.log.of(ToolCallStarted)
    assert (started.tool, started.progress, started.agent) == (
        "get_weather",
        "Checking weather in Oslo...",
        "voice",
    )
    (finished,) = harness.log.of(ToolCallFinished)
    assert (finished.call_id, finished.ok, finished.result) == (started.call_id, True, "cold")
    assert harness.tools.calls == [("get_weather", '{"city": "Oslo"}')]
    assert harness.spoken() == ["Here is what I found: cold"]
    assert harness.playback.items
    events = client_events(openai_server)
    assert [e["type"] for e in events][1:] == [
        "conversation.item.create",
        "response.create",
        "conversation.item.create",
        "response.create",
    ]
    assert events[3]["item"] == {
        "type": "function_call_output",
        "call_id": started.call_id,
        "output": "cold",
    }
    # The progress sentence is on the bus before the tool's answer: never dead air on screen.
    assert harness.log.events.index(started) < harness.log.events.index(finished)


def parallel_brain(request: ModelRequest) -> Reply:
    outputs = request.trailing_tool_outputs()
    if outputs:
        return Reply([Text("; ".join(f"{o.name}: {o.text}" for o in outputs))])
    return Reply([ToolCall("get_weather", {"city": "Rome"}), ToolCall("get_time")])


async def test_parallel_calls_run_together_and_continue_once(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    openai_server.brain = parallel_brain
    harness = await make(tools=FakeTools(meet=2)).start()
    await harness.client.send_text("weather and time please")
    await harness.answer(count=2)

    assert {call[0] for call in harness.tools.calls} == {"get_weather", "get_time"}
    assert len(harness.log.of(ToolCallStarted)) == 2
    assert len(harness.log.of(ToolCallFinished)) == 2
    types = [e["type"] for e in client_events(openai_server)]
    assert types.count("response.create") == 2
    outputs = [
        e
        for e in client_events(openai_server)
        if e.get("item", {}).get("type") == "function_call_output"
    ]
    assert len(outputs) == 2
    assert types[-1] == "response.create"  # asked to continue once, after both outputs
    assert sorted(harness.spoken()[0].split("; ")) == ["get_time: noon", "get_weather: cold"]


@pytest.mark.parametrize("tools", [FakeTools({}), FakeTools(explode=True)], ids=["error", "raise"])
async def test_a_failing_tool_still_answers_the_model(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness], tools: FakeTools
) -> None:
    openai_server.brain = RuleBrain([Rule("weather", "get_weather", {"city": "Oslo"})])
    harness = await make(tools=tools).start()
    await harness.client.send_text("weather?")
    await harness.answer(count=2)

    (finished,) = harness.log.of(ToolCallFinished)
    assert not finished.ok
    assert harness.spoken() == [f"Here is what I found: {finished.result}"]


# -------------------------------------------------------------------------------------------
# Interruption
# -------------------------------------------------------------------------------------------


async def test_cancel_and_truncate_at_what_was_played(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    gate = openai_server.hold_next_replies(after_deltas=2)
    harness = await make().start()
    assert not await harness.client.cancel_response()  # nothing live yet: nothing sent
    await harness.client.send_text("tell me a long story")
    await gate.wait_reached_async()
    async with asyncio.timeout(WAIT):
        await harness.playback.arrived.wait()  # audio sent before the hold point
    response_id = harness.client.current_response_id
    item_id = harness.client.last_assistant_item_id
    assert response_id is not None and item_id is not None

    assert await harness.client.cancel_response()
    (done,) = await harness.log.wait(RealtimeResponseDone)
    played_ms = harness.playback.ms(item_id) // 2  # the user heard half of what arrived
    assert await harness.client.truncate(item_id, played_ms)
    await openai_server.realtime[0].truncations.wait_for_async()

    assert done.status == "cancelled"
    (cancel,) = await wait_client_event(openai_server, "response.cancel")
    assert cancel["response_id"] == response_id
    (truncation,) = openai_server.realtime[0].truncations
    assert (truncation.item_id, truncation.content_index, truncation.audio_end_ms) == (
        item_id,
        0,
        played_ms,
    )
    assert not harness.client.response_active
    assert harness.playback.ended == [item_id]  # the cut-off item is over: play what is queued
    assert not harness.log.of(ErrorReported)


# -------------------------------------------------------------------------------------------
# Reconnection
# -------------------------------------------------------------------------------------------


async def converse_then_lose_the_link(
    server: ScriptedOpenAIServer, harness: Harness, lose: Callable[[], object], reason: str
) -> None:
    harness.remember_turns()
    await harness.start()
    await harness.say("hello there")
    await harness.answer()
    lose()
    await harness.log.wait(RealtimeConnectionChanged, status="reconnecting", reason=reason)
    await harness.log.wait(RealtimeConnectionChanged, count=2, status="connected")
    await server.realtime.wait_for_async(count=2)


async def assert_context_replayed_in_one_place(server: ScriptedOpenAIServer) -> None:
    await wait_client_event(server, "session.update", connection=1)
    (first, *rest) = client_events(server, connection=1)
    assert first["type"] == "session.update"
    instructions = first["session"]["instructions"]
    assert "User: hello there\nAssistant: You said: hello there" in instructions
    assert instructions.rstrip().endswith(RESUME_FOOTER)
    assert "in voice" in RESUME_FOOTER
    assert first["session"]["tools"]  # tools re-sent
    assert not [e for e in rest if e["type"] == "conversation.item.create"]  # not item by item


async def carry_on(server: ScriptedOpenAIServer, harness: Harness) -> None:
    await harness.say("and again")
    await harness.answer(count=2)
    assert harness.spoken()[-1] == "You said: and again"
    request = server.model_requests("realtime")[-1]
    assert "User: hello there" in request.instructions


async def test_server_close_for_maximum_duration_reconnects_with_context(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    harness = make()
    await converse_then_lose_the_link(
        openai_server,
        harness,
        lambda: openai_server.close_realtime(1001, "maximum duration"),
        "closed",
    )
    (reconnecting,) = harness.log.of(RealtimeConnectionChanged, status="reconnecting")
    assert reconnecting.attempt == 1 and "1001 maximum duration" in reconnecting.message
    assert openai_server.realtime[0].close_code == 1001
    await assert_context_replayed_in_one_place(openai_server)
    await carry_on(openai_server, harness)
    assert harness.client.connected and harness.client.status == "connected"


async def test_abrupt_drop_reconnects_with_context(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    harness = make()
    await converse_then_lose_the_link(
        openai_server, harness, openai_server.drop_realtime, "dropped"
    )
    await assert_context_replayed_in_one_place(openai_server)
    await carry_on(openai_server, harness)


async def test_stalled_link_is_detected_by_ping_and_replaced(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    proxy = StallingProxy(openai_server.port)
    await proxy.start()
    harness = make(
        base_url=f"http://127.0.0.1:{proxy.port}/v1",
        timing=RealtimeTiming(ping_interval=0.02, ping_timeout=0.2),
    )
    try:
        await converse_then_lose_the_link(openai_server, harness, proxy.freeze, "stalled")
        await assert_context_replayed_in_one_place(openai_server)
        await carry_on(openai_server, harness)
        (reconnecting,) = harness.log.of(RealtimeConnectionChanged, status="reconnecting")
        assert "no answer to a ping" in reconnecting.message
    finally:
        await harness.close()  # before the proxy goes, so the client does not retry into it
        await proxy.close()


async def test_session_is_renewed_at_a_turn_boundary_before_the_cap(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    clock = FakeClock()
    gate = openai_server.hold_next_replies(after_deltas=1)
    harness = make(timing=RealtimeTiming(ping_interval=0.01, session_max_age=100.0, now=clock))
    harness.remember_turns()
    await harness.start()
    await harness.say("hello there")
    await gate.wait_reached_async()
    clock.value += 101  # old enough, but mid-answer: renewal waits for the turn to end
    gate.release()
    await harness.log.wait(RealtimeConnectionChanged, status="reconnecting", reason="recycle")
    await harness.log.wait(RealtimeConnectionChanged, count=2, status="connected")

    first = openai_server.realtime[0]
    await asyncio.to_thread(first.closed.wait, WAIT)
    done = [e for e in first.server_events if e["type"] == "response.done"]
    assert [e["response"]["status"] for e in done] == ["completed"]  # not cut off
    assert first.close_code == 1000
    await assert_context_replayed_in_one_place(openai_server)
    await carry_on(openai_server, harness)


# -------------------------------------------------------------------------------------------
# Failures that must not be retried, and ones that must
# -------------------------------------------------------------------------------------------


async def test_rejected_key_stops_with_a_clear_error_and_no_retry(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    openai_server.rejected_keys.add("sk-revoked")
    harness = make(key="sk-revoked")
    await harness.client.start()
    (gone,) = await harness.log.wait(RealtimeConnectionChanged, status="disconnected")

    (error,) = harness.log.of(ErrorReported)
    assert "rejected the OpenAI key" in error.message and "keys set openai" in error.message
    assert gone.reason == "rejected" and gone.message == error.message
    assert harness.log.statuses() == [("connecting", ""), ("disconnected", "rejected")]
    assert [r.status for r in openai_server.requests] == [401]
    assert not harness.client.connected
    (needed,) = harness.log.of(SetupNeeded)
    assert needed.what == "openai_key" and needed.message == error.message


async def test_a_new_key_brings_a_refused_voice_link_back(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    openai_server.rejected_keys.add("sk-revoked")
    key = LiveApiKey("sk-revoked")
    harness = make(key=key)
    key.on_change(harness.client.resume)
    harness.client.resume()  # not started yet: nothing to resume
    await harness.client.start()
    await harness.log.wait(SetupNeeded)
    harness.client.resume()  # the same key again would be refused again: nothing happens
    assert len(openai_server.requests) == 1

    assert key.replace("sk-fresh")
    await harness.log.wait(RealtimeConnectionChanged, status="connected")
    assert [r.api_key for r in openai_server.requests] == ["sk-revoked", "sk-fresh"]
    assert harness.log.statuses() == [
        ("connecting", ""),
        ("disconnected", "rejected"),
        ("connecting", ""),
        ("connected", ""),
    ]
    harness.client.resume()  # connected: a second supervisor must not start
    await harness.say("still there?")
    await harness.answer()
    assert len(openai_server.realtime) == 1


async def test_exhausted_quota_at_the_handshake_is_not_retried(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    openai_server.fail_next(429, "insufficient_quota")
    harness = make()
    await harness.client.start()
    await harness.log.wait(RealtimeConnectionChanged, status="disconnected")

    (error,) = harness.log.of(ErrorReported)
    assert "run out of quota" in error.message
    assert len(openai_server.requests) == 1
    assert not harness.log.of(SetupNeeded)  # a new key would not help


async def test_auth_error_event_mid_session_ends_it_for_good(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    harness = await make().start()
    await harness.client.handle_frame(
        {
            "type": "error",
            "event_id": "e1",
            "error": {"type": "invalid_request_error", "code": "invalid_api_key", "message": "no"},
        }
    )
    await harness.log.wait(RealtimeConnectionChanged, status="disconnected")
    (error,) = harness.log.of(ErrorReported)
    assert "rejected the OpenAI key" in error.message
    assert len(openai_server.realtime) == 1


async def test_a_server_error_at_the_handshake_is_retried(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    openai_server.fail_next(500, "server_error")
    harness = await make().start()
    await harness.log.wait(RealtimeConnectionChanged, status="connected")

    assert harness.log.statuses() == [
        ("connecting", ""),
        ("reconnecting", "rejected"),
        ("connected", ""),
    ]
    assert [r.status for r in openai_server.requests][:1] == [500]
    await openai_server.realtime.wait_for_async(count=1)


async def test_gives_up_after_the_last_allowed_attempt(make: Callable[..., Harness]) -> None:
    with socket.socket() as probe:  # a port nothing listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    harness = make(
        base_url=f"http://127.0.0.1:{port}/v1",
        backoff=BackoffPolicy(base_seconds=0.001, cap_seconds=0.001, max_attempts=2),
    )
    await harness.client.start()
    await harness.log.wait(RealtimeConnectionChanged, status="disconnected")

    assert [s for s, _ in harness.log.statuses()] == [
        "connecting",
        "reconnecting",
        "reconnecting",
        "disconnected",
    ]
    assert [
        e.attempt for e in harness.log.of(RealtimeConnectionChanged, status="reconnecting")
    ] == [1, 2]
    (error,) = harness.log.of(ErrorReported)
    assert "after 2 attempts" in error.message


async def test_typed_text_while_disconnected_is_sent_after_connecting(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    harness = make()
    await harness.client.send_text("are you there")
    await harness.client.send_audio(tone(20))
    await harness.start()
    await harness.answer()

    assert harness.spoken() == ["You said: are you there"]
    assert harness.client.dropped_audio_bytes == 960


async def test_close_ends_the_session_politely(
    openai_server: ScriptedOpenAIServer, make: Callable[..., Harness]
) -> None:
    harness = await make(timing=RealtimeTiming(ping_interval=0.01)).start()
    await harness.client.close()

    assert harness.log.statuses()[-1] == ("disconnected", "client_closed")
    await asyncio.to_thread(openai_server.realtime[0].closed.wait, WAIT)
    assert openai_server.realtime[0].close_code == 1000
    assert len(openai_server.realtime) == 1


# -------------------------------------------------------------------------------------------
# Every documented server event goes through the client's own handling path
# -------------------------------------------------------------------------------------------


async def test_every_conformance_event_goes_through_the_client(
    make: Callable[..., Harness],
) -> None:
    path = CONFORMANCE / "realtime_server_events.jsonl"
    if not path.exists():
        pytest.skip(f"conformance corpus not found at {path}")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    harness = make()  # not started: the handling path, with nowhere to send answers

    for record in records:
        await harness.client.handle_frame(json.dumps(record["event"]))
    await harness.bus.drain()

    produced = {type(event) for event in harness.log.events}
    assert {
        RealtimeSessionReady,
        UserSpeechStarted,
        UserSpeechStopped,
        TranscriptCompleted,
        AssistantTextDelta,
        RealtimeFunctionCall,
        RealtimeResponseDone,
        ToolCallStarted,
        ErrorReported,
    } <= produced
    assert len(records) == 47


# -------------------------------------------------------------------------------------------
# Turn state: one reply at a time, and when renewal is safe
# -------------------------------------------------------------------------------------------


def created(response_id: str) -> Any:
    return SimpleNamespace(response=SimpleNamespace(id=response_id, metadata=None))


def test_a_reply_asked_for_during_another_waits_for_it() -> None:
    turns = TurnState()
    assert turns.request_reply()  # send now
    assert not turns.request_reply()  # the first has not even been created yet
    turns.observe("response.created", created("r1"))
    assert turns.response_active and not turns.requested
    assert turns.response_finished("r1")  # now ask for the deferred one
    assert not turns.response_active and not turns.deferred


def test_a_refused_request_is_retried_after_the_live_response() -> None:
    turns = TurnState()
    assert turns.request_reply()
    turns.observe("response.created", created("server-vad"))  # the server started its own
    turns.request_refused()
    assert not turns.response_finished("other")  # not the live one: keep waiting
    assert turns.response_finished("server-vad")


def test_turn_boundary_needs_silence_and_nothing_pending() -> None:
    turns = TurnState()
    assert turns.at_boundary(manual_turns=False, tools_running=0)
    assert not turns.at_boundary(manual_turns=False, tools_running=1)
    turns.observe("input_audio_buffer.speech_started", SimpleNamespace())
    assert not turns.at_boundary(manual_turns=False, tools_running=0)
    turns.observe("input_audio_buffer.speech_stopped", SimpleNamespace())
    turns.uncommitted_bytes = 960  # push-to-talk key held: the user is mid-turn
    assert turns.at_boundary(manual_turns=False, tools_running=0)
    assert not turns.at_boundary(manual_turns=True, tools_running=0)
    turns.observe("input_audio_buffer.committed", SimpleNamespace())
    assert turns.at_boundary(manual_turns=True, tools_running=0)
