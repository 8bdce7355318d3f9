"""The scripted OpenAI server, driven by the real `openai` SDK (and openai-agents) clients.

These tests prove two things the rest of the suite relies on: that clients built on the SDK
work against the fake exactly as against OpenAI, and that everything the fake sends validates
against the SDK's own types (checked live by the server, re-checked here independently, and
calibrated against OpenAI's published example events).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus

from tests.fakes.openai_audio import BYTES_PER_MS, pcm_duration_ms, silence, tone
from tests.fakes.openai_brain import (
    InputItem,
    ModelRequest,
    Reply,
    Rule,
    RuleBrain,
    Text,
    ToolCall,
)
from tests.fakes.openai_records import WireLog
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.fakes.openai_wire import WireKind, WireValidationError, WireValidator, wire_validator

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance"
# Typed as Any: the SDK's TypedDict params reject plain dict constants under mypy.
WEATHER_TOOL: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
CHAT_WEATHER_TOOL: Any = {
    "type": "function",
    "function": {k: v for k, v in WEATHER_TOOL.items() if k != "type"},
}


def weather_brain() -> RuleBrain:
    return RuleBrain(
        [
            Rule(r"\bweather\b", "transfer_to_weather_agent"),
            Rule(r"weather in (\w+)", "get_weather", lambda match: {"city": match.group(1)}),
        ]
    )


def async_client(server: ScriptedOpenAIServer, api_key: str = "sk-test") -> AsyncOpenAI:
    return AsyncOpenAI(base_url=server.base_url, api_key=api_key, max_retries=0)


# -------------------------------------------------------------------------------------------
# The validator is real
# -------------------------------------------------------------------------------------------


def conformance_cases(name: str) -> list[dict[str, Any]]:
    path = CONFORMANCE / name
    if not path.exists():
        pytest.skip(f"conformance corpus not found at {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("corpus", "kind"),
    [
        ("responses_stream_events.jsonl", WireKind.RESPONSES_EVENT),
        ("realtime_server_events.jsonl", WireKind.REALTIME_SERVER_EVENT),
        ("realtime_client_events.jsonl", WireKind.REALTIME_CLIENT_EVENT),
    ],
)
def test_validator_agrees_with_the_sdk_check_of_openais_own_examples(
    corpus: str, kind: WireKind
) -> None:
    validator = wire_validator()
    cases = conformance_cases(corpus)
    accepted = 0
    for case in cases:
        check = case["sdk_check"]
        if check["ok"]:
            result = validator.validate(kind, case["event"])
            assert result.model_name == check["model"], case["schema"]
            assert sorted(result.extra_fields) == sorted(check["extra_fields"]), case["schema"]
            accepted += 1
        else:
            with pytest.raises(WireValidationError):
                validator.validate(kind, case["event"])
    assert accepted > 0


@pytest.mark.parametrize(
    ("kind", "event", "complaint"),
    [
        (
            WireKind.RESPONSES_EVENT,
            {
                "type": "response.output_text.delta",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": "Hi",
                "sequence_number": 3,
            },
            "logprobs",
        ),
        (
            WireKind.RESPONSES_EVENT,
            {"type": "response.output_text.delta", "delta": 7, "sequence_number": 1},
            "delta",
        ),
        (WireKind.RESPONSES_EVENT, {"type": "response.teleported", "sequence_number": 1}, "type"),
        (
            WireKind.REALTIME_SERVER_EVENT,
            {
                "type": "response.content_part.added",
                "event_id": "event_1",
                "response_id": "resp_1",
                "item_id": "item_1",
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_audio", "transcript": ""},
            },
            "part.type",
        ),
        (
            WireKind.CHAT_CHUNK,
            {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": []},
            "object",
        ),
    ],
)
def test_validator_rejects_malformed_events(
    kind: WireKind, event: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(WireValidationError) as caught:
        wire_validator().validate(kind, event)
    assert complaint in caught.value.detail


def test_server_check_also_rejects_fields_the_sdk_does_not_know() -> None:
    event = {"type": "response.audio.done", "sequence_number": 1, "response_id": "resp_1"}
    assert wire_validator().validate(WireKind.RESPONSES_EVENT, event).extra_fields == (
        "response_id",
    )
    with pytest.raises(WireValidationError, match="response_id"):
        wire_validator().check_emitted(WireKind.RESPONSES_EVENT, event)


def test_wire_log_records_and_refuses_an_invalid_payload() -> None:
    wire = WireLog(wire_validator())
    with pytest.raises(WireValidationError):
        wire.checked_json(WireKind.CHAT_CHUNK, {"object": "chat.completion.chunk"})
    assert [failure.kind for failure in wire.failures] == ["wire"]
    assert len(wire.emitted) == 0


# -------------------------------------------------------------------------------------------
# Responses API
# -------------------------------------------------------------------------------------------


async def test_streamed_responses_turn_with_text(openai_server: ScriptedOpenAIServer) -> None:
    client = async_client(openai_server)
    stream = await client.responses.create(
        model="gpt-5-mini", instructions="Be brief.", input="hello there", stream=True
    )
    events: list[Any] = [event async for event in stream]

    types = [event.type for event in events]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == "You said: hello there"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    completed = events[-1].response
    assert completed.output_text == "You said: hello there"
    assert completed.usage is not None
    assert completed.usage.total_tokens == completed.usage.input_tokens + (
        completed.usage.output_tokens
    )
    request = openai_server.model_requests()[0]
    assert (request.instructions, request.messages) == ("Be brief.", [("user", "hello there")])


def test_responses_tool_call_then_final_answer(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.brain = weather_brain()
    client = OpenAI(base_url=openai_server.base_url, api_key="sk-test", max_retries=0)
    question: Any = [{"role": "user", "content": "what is the weather in Paris"}]

    with client.responses.stream(model="gpt-5-mini", input=question, tools=[WEATHER_TOOL]) as s:
        argument_deltas = [e.delta for e in s if e.type == "response.function_call_arguments.delta"]
        first = s.get_final_response()
    call = first.output[0]
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
    assert "".join(argument_deltas) == call.arguments

    follow_up: Any = [
        *question,
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": "{}"},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21 C"},
    ]
    answer = client.responses.create(model="gpt-5-mini", input=follow_up, tools=[WEATHER_TOOL])
    assert answer.output_text == "Here is what I found: sunny, 21 C"
    assert openai_server.model_requests()[1].tool_outputs == [("get_weather", "sunny, 21 C")]
    assert [r.authorization for r in openai_server.requests] == ["Bearer sk-test"] * 2


async def test_agents_runner_hands_off_calls_a_tool_and_answers(
    openai_server: ScriptedOpenAIServer,
) -> None:
    from agents import Agent, OpenAIResponsesModel, RunConfig, Runner, function_tool

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return f"sunny in {city}"

    openai_server.brain = weather_brain()
    model = OpenAIResponsesModel(model="gpt-5-mini", openai_client=async_client(openai_server))
    weather = Agent(name="Weather agent", instructions="Weather.", tools=[get_weather], model=model)
    orchestrator = Agent(name="Hark", instructions="Route.", handoffs=[weather], model=model)

    result = Runner.run_streamed(
        orchestrator, "what is the weather in Paris", run_config=RunConfig(tracing_disabled=True)
    )
    item_events = [
        event.name
        async for event in result.stream_events()
        if event.type == "run_item_stream_event"
    ]

    assert result.final_output == "Here is what I found: sunny in Paris"
    assert item_events == [
        "handoff_requested",
        "handoff_occured",
        "tool_called",
        "tool_output",
        "message_output_created",
    ]
    offered = [request.tool_names for request in openai_server.model_requests()]
    assert offered == [("transfer_to_weather_agent",), ("get_weather",), ("get_weather",)]


def two_cities(request: ModelRequest) -> Reply:
    """A brain that calls one tool twice in parallel, then sums up both outputs."""
    if request.last_item_kind == "tool_output":
        return Reply([Text(" / ".join(output for _, output in request.tool_outputs))])
    calls = [ToolCall("get_weather", {"city": city}) for city in ("Paris", "Rome")]
    return Reply(calls, input_tokens=11, output_tokens=7)


async def test_parallel_tool_calls_in_both_http_apis(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.brain = two_cities
    client = async_client(openai_server)
    stream = await client.responses.create(
        model="gpt-5-mini", input="Paris and Rome?", tools=[WEATHER_TOOL], stream=True
    )
    events: list[Any] = [event async for event in stream]
    response = events[-1].response
    assert [(item.type, item.name) for item in response.output] == [
        ("function_call", "get_weather")
    ] * 2
    assert [e.output_index for e in events if e.type == "response.output_item.added"] == [0, 1]
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 7)

    chunks = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Paris and Rome?"}],
        tools=[CHAT_WEATHER_TOOL],
        stream=True,
    )
    arguments: dict[int, str] = {}
    async for chunk in chunks:
        deltas = chunk.choices[0].delta.tool_calls if chunk.choices else None
        for call in deltas or []:
            fragment = call.function.arguments if call.function else ""
            arguments[call.index] = arguments.get(call.index, "") + (fragment or "")
    assert {index: json.loads(text) for index, text in arguments.items()} == {
        0: {"city": "Paris"},
        1: {"city": "Rome"},
    }


# -------------------------------------------------------------------------------------------
# Chat Completions
# -------------------------------------------------------------------------------------------


async def test_chat_completions_stream_with_tool_call_and_usage(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.brain = weather_brain()
    client = async_client(openai_server)
    stream = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "weather in Rome?"}],
        tools=[CHAT_WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    assert chunks[0].choices[0].delta.role == "assistant"
    calls: list[Any] = [
        call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []
    ]
    assert (calls[0].index, calls[0].type, calls[0].function.name) == (0, "function", "get_weather")
    assert calls[0].id and calls[0].id.startswith("call_")
    arguments = "".join(call.function.arguments or "" for call in calls)
    assert json.loads(arguments) == {"city": "Rome"}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert openai_server.emitted[-1]["usage"]["total_tokens"] == chunks[-1].usage.total_tokens


def test_chat_completion_answers_a_tool_result_without_streaming(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.brain = weather_brain()
    client = OpenAI(base_url=openai_server.base_url, api_key="sk-test", max_retries=0)
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You are Hark."},
            {"role": "user", "content": "weather in Rome?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "rainy"},
        ],
        tools=[CHAT_WEATHER_TOOL],
    )
    assert completion.choices[0].message.content == "Here is what I found: rainy"
    assert completion.choices[0].finish_reason == "stop"
    request = openai_server.model_requests("chat")[0]
    assert request.instructions == "You are Hark."
    assert request.last_item_kind == "tool_output"


# -------------------------------------------------------------------------------------------
# Errors, keys, odd paths
# -------------------------------------------------------------------------------------------


async def test_rejected_key_is_an_authentication_error(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.rejected_keys.add("sk-revoked-123456")
    client = async_client(openai_server, api_key="sk-revoked-123456")
    with pytest.raises(openai.AuthenticationError) as caught:
        await client.responses.create(model="gpt-5-mini", input="hi")
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    body: Any = caught.value.body
    assert (body["type"], body["param"]) == ("invalid_request_error", None)
    assert "sk-revoked-123456" not in caught.value.message
    assert openai_server.requests[0].api_key == "sk-revoked-123456"
    assert openai_server.requests[0].outcome == "rejected"


def test_scripted_quota_error_is_a_rate_limit_error(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.fail_next(429, "insufficient_quota")
    client = OpenAI(base_url=openai_server.base_url, api_key="sk-test")  # default retries
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.code == "insufficient_quota"
    body: Any = caught.value.body
    assert body["type"] == "insufficient_quota"
    assert len(openai_server.requests) == 1  # x-should-retry: false spared the retries
    again = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert again.choices[0].message.content == "You said: hi"


def test_missing_key_unknown_path_and_model_list(openai_server: ScriptedOpenAIServer) -> None:
    with httpx.Client(base_url=openai_server.base_url) as http:
        anonymous = http.post("/responses", json={"model": "gpt-5-mini", "input": "hi"})
        lost = http.get("/nowhere", headers={"Authorization": "Bearer sk-test"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "invalid_request_error"
    assert lost.status_code == 404
    assert lost.json()["error"]["message"] == "Invalid URL (GET /v1/nowhere)"

    client = OpenAI(base_url=openai_server.base_url, api_key="sk-test")
    assert "gpt-realtime" in [model.id for model in client.models.list()]


def test_a_subprocess_finds_the_server_through_the_environment(
    openai_env: ScriptedOpenAIServer,
) -> None:
    script = (
        "from openai import OpenAI\n"
        "r = OpenAI().responses.create(model='gpt-5-mini', input='from a child process')\n"
        "print(r.output_text)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=os.environ, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "You said: from a child process"
    assert openai_env.requests[0].api_key == "sk-test-hark"


# -------------------------------------------------------------------------------------------
# Holding replies (for cancellation tests without sleeps)
# -------------------------------------------------------------------------------------------


async def test_held_reply_waits_for_release(openai_server: ScriptedOpenAIServer) -> None:
    gate = openai_server.hold_next_replies(after_deltas=2)
    client = async_client(openai_server)
    stream = await client.responses.create(model="gpt-5-mini", input="one two three", stream=True)
    seen: list[str] = []
    async for event in stream:
        seen.append(event.type)
        if seen.count("response.output_text.delta") == 2:
            break
    await gate.wait_reached_async()
    assert gate.reached_count == 1
    gate.release()
    async for event in stream:
        seen.append(event.type)
    assert seen[-1] == "response.completed"
    await openai_server.requests.wait_for_async(lambda request: request.outcome == "completed")


async def test_client_can_abandon_a_held_stream(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.chunk_delay = 0.001
    gate = openai_server.hold_next_replies(after_deltas=1)
    client = async_client(openai_server)
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}], stream=True
    )
    first_text = None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            first_text = chunk.choices[0].delta.content
            break
    await gate.wait_reached_async()
    await stream.close()

    abandoned = await openai_server.requests.wait_for_async(
        lambda request: request.outcome == "client_disconnected"
    )
    assert abandoned[0].api == "chat"
    assert first_text == "You "


# -------------------------------------------------------------------------------------------
# Realtime
# -------------------------------------------------------------------------------------------


async def events_until(connection: Any, event_type: str) -> list[Any]:
    """Read server events up to and including the first of `event_type`."""
    events = []
    async for event in connection:
        events.append(event)
        if event.type == event_type:
            return events
    raise AssertionError(f"connection ended before {event_type}: {[e.type for e in events]}")


def user_text(text: str) -> Any:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def test_realtime_text_turn(openai_server: ScriptedOpenAIServer) -> None:
    client = async_client(openai_server)
    async with client.realtime.connect(model="gpt-realtime") as connection:
        created = await connection.recv()
        assert created.type == "session.created"
        await connection.session.update(
            session={
                "type": "realtime",
                "instructions": "Be Hark.",
                "output_modalities": ["text"],
                "audio": {"input": {"turn_detection": None}},
            }
        )
        updated = await events_until(connection, "session.updated")
        assert updated[-1].session.instructions == "Be Hark."
        assert updated[-1].session.audio.output.voice == "marin"  # merged, not replaced

        await connection.conversation.item.create(item=user_text("good morning"))
        await connection.response.create()
        events = await events_until(connection, "response.done")

    types = [event.type for event in events]
    assert types[:2] == ["conversation.item.added", "conversation.item.done"]
    assert "response.content_part.added" in types
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == "You said: good morning"
    done = events[-1].response
    assert done.status == "completed"
    assert done.output[0].content[0].text == "You said: good morning"
    assert done.usage is not None and done.usage.total_tokens > 0
    record = openai_server.realtime[0]
    assert record.model == "gpt-realtime"
    assert record.authorization == "Bearer sk-test"
    assert record.client_event_types() == [
        "session.update",
        "conversation.item.create",
        "response.create",
    ]


async def test_realtime_tool_call_round_trip_with_audio(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.brain = weather_brain()
    client = async_client(openai_server)
    realtime_tool: Any = {k: v for k, v in WEATHER_TOOL.items() if k != "strict"}
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "tools": [realtime_tool],
                "audio": {"input": {"turn_detection": None}},
            }
        )
        await connection.conversation.item.create(item=user_text("weather in Oslo?"))
        await connection.response.create()
        first = await events_until(connection, "response.done")
        call = first[-1].response.output[0]
        assert (call.type, call.name, call.arguments) == (
            "function_call",
            "get_weather",
            '{"city": "Oslo"}',
        )
        fragments = [e.delta for e in first if e.type == "response.function_call_arguments.delta"]
        assert "".join(fragments) == call.arguments

        output: Any = {"type": "function_call_output", "call_id": call.call_id, "output": "cold"}
        await connection.conversation.item.create(item=output)
        await connection.response.create()
        second = await events_until(connection, "response.done")

    transcript = "".join(
        e.delta for e in second if e.type == "response.output_audio_transcript.delta"
    )
    audio = b"".join(
        base64.b64decode(e.delta) for e in second if e.type == "response.output_audio.delta"
    )
    assert transcript == "Here is what I found: cold"
    assert pcm_duration_ms(audio) == len(transcript) * openai_server.script.speech_ms_per_char
    parts = [e.part.type for e in second if e.type.startswith("response.content_part")]
    assert parts == ["audio", "audio"]
    assert second[-1].response.output[0].content[0].type == "output_audio"


async def test_realtime_server_vad_turn_from_streamed_audio(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.script_transcripts("what is the weather in Paris")
    speech = silence(200) + tone(800, amplitude=0.4) + silence(700)
    client = async_client(openai_server)
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await events_until(connection, "session.created")
        for start in range(0, len(speech), 20 * BYTES_PER_MS):
            chunk = speech[start : start + 20 * BYTES_PER_MS]
            await connection.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        events = await events_until(connection, "response.done")

    types = [event.type for event in events]
    assert types[:3] == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
    started, stopped = events[0], events[1]
    assert started.item_id == stopped.item_id == events[2].item_id
    assert 0 <= started.audio_start_ms <= 200
    assert 1000 <= stopped.audio_end_ms <= 1700
    transcript = "".join(
        e.delta for e in events if e.type == "response.output_audio_transcript.delta"
    )
    assert transcript == "You said: what is the weather in Paris"
    record = openai_server.realtime[0]
    assert record.input_audio_bytes == len(speech)
    assert record.input_audio_ms == 1700
    assert 0.15 < record.input_audio_rms < 0.25  # a 0.4 sine (rms 0.28) for 800 of 1700 ms


async def test_realtime_cancel_then_truncate_at_what_was_heard(
    openai_server: ScriptedOpenAIServer,
) -> None:
    gate = openai_server.hold_next_replies(after_deltas=2)
    client = async_client(openai_server)
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(
            session={"type": "realtime", "audio": {"input": {"turn_detection": None}}}
        )
        await connection.conversation.item.create(item=user_text("tell me a long story"))
        await connection.response.create()
        await gate.wait_reached_async()
        await connection.response.cancel()
        events = await events_until(connection, "response.done")

        audio = b"".join(
            base64.b64decode(e.delta) for e in events if e.type == "response.output_audio.delta"
        )
        heard_ms = pcm_duration_ms(audio)
        done = events[-1].response
        item = done.output[0]
        await connection.conversation.item.truncate(
            item_id=item.id, content_index=0, audio_end_ms=heard_ms // 2
        )
        truncated = await events_until(connection, "conversation.item.truncated")
        await connection.conversation.item.truncate(
            item_id=item.id, content_index=0, audio_end_ms=heard_ms + 1000
        )
        refused = await events_until(connection, "error")
        await connection.response.create()
        await events_until(connection, "response.done")

    assert (done.status, done.status_details.reason) == ("cancelled", "client_cancelled")
    assert item.status == "incomplete"
    assert item.content[0].transcript == "You said: tell me a long story"[:8]
    assert heard_ms == 8 * openai_server.script.speech_ms_per_char
    assert truncated[-1].audio_end_ms == heard_ms // 2
    assert refused[-1].error.param == "audio_end_ms"
    assert [t.audio_end_ms for t in openai_server.realtime[0].truncations] == [
        heard_ms // 2,
        heard_ms + 1000,
    ]
    # The model no longer "remembers" words the user did not hear: the transcript is gone.
    assert openai_server.model_requests("realtime")[-1].messages == [
        ("user", "tell me a long story"),
        ("assistant", ""),
    ]


async def test_realtime_barge_in_cancels_the_reply_with_turn_detected(
    openai_server: ScriptedOpenAIServer,
) -> None:
    gate = openai_server.hold_next_replies(after_deltas=1)
    client = async_client(openai_server)
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.conversation.item.create(item=user_text("read me the news"))
        await connection.response.create()
        await gate.wait_reached_async()
        speech = tone(200, amplitude=0.5)
        await connection.input_audio_buffer.append(audio=base64.b64encode(speech).decode())
        events = await events_until(connection, "response.done")

    types = [event.type for event in events]
    assert "input_audio_buffer.speech_started" in types
    done = events[-1].response
    assert (done.status, done.status_details.reason) == ("cancelled", "turn_detected")


async def test_realtime_unknown_client_event_gets_an_error(
    openai_server: ScriptedOpenAIServer,
) -> None:
    client = async_client(openai_server)
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await events_until(connection, "session.created")
        await connection.send_raw(json.dumps({"type": "response.teleport", "event_id": "e1"}))
        error = (await events_until(connection, "error"))[-1]
    assert error.error.code == "invalid_event"
    assert error.error.event_id == "e1"
    assert [p.event["type"] for p in openai_server.client_event_problems] == ["response.teleport"]
    openai_server.client_event_problems.clear()  # deliberate: keep the fixture's check green


async def test_realtime_refuses_a_malformed_event_but_takes_item_references(
    openai_server: ScriptedOpenAIServer,
) -> None:
    client = async_client(openai_server)
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.send_raw(json.dumps({"type": "conversation.item.create", "item": {}}))
        refused = (await events_until(connection, "error"))[-1]
        await connection.conversation.item.create(item=user_text("remember me"))
        added = (await events_until(connection, "conversation.item.done"))[-1]
        reference: Any = {"type": "item_reference", "id": added.item.id}
        await connection.response.create(
            response={"conversation": "none", "output_modalities": ["text"], "input": [reference]}
        )
        answer = (await events_until(connection, "response.done"))[-1]

    assert refused.error.code == "invalid_value"
    assert answer.response.conversation_id is None
    assert answer.response.output[0].content[0].text == "You said: remember me"
    assert [p.event["type"] for p in openai_server.client_event_problems] == [
        "conversation.item.create"
    ]
    openai_server.client_event_problems.clear()  # deliberate: keep the fixture's check green


async def test_realtime_handshake_with_a_rejected_key_is_refused(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.rejected_keys.add("sk-revoked")
    client = async_client(openai_server, api_key="sk-revoked")
    with pytest.raises(InvalidStatus) as caught:
        async with client.realtime.connect(model="gpt-realtime"):
            pass
    assert caught.value.response.status_code == 401
    assert openai_server.requests[0].api == "realtime"
    assert len(openai_server.realtime) == 0


async def test_realtime_close_for_maximum_duration(openai_server: ScriptedOpenAIServer) -> None:
    client = async_client(openai_server)
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await events_until(connection, "session.created")
        closing = openai_server.close_realtime(code=1001, reason="maximum duration")
        with pytest.raises(ConnectionClosedOK) as caught:
            await connection.recv()
    close = caught.value.rcvd
    assert close is not None and (close.code, close.reason) == (1001, "maximum duration")
    assert closing.result(timeout=10) == 1
    assert openai_server.realtime[0].close_code == 1001


async def test_realtime_abrupt_drop(openai_server: ScriptedOpenAIServer) -> None:
    client = async_client(openai_server)
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await events_until(connection, "session.created")
        openai_server.drop_realtime()
        with pytest.raises(ConnectionClosedError) as caught:
            await connection.recv()
    assert caught.value.rcvd is None  # no close frame: the TCP stream just ended


def is_response_done(event: dict[str, Any]) -> bool:
    return bool(event["type"] == "response.done")


async def test_agents_realtime_session_calls_a_tool(openai_server: ScriptedOpenAIServer) -> None:
    from agents import function_tool
    from agents.realtime import RealtimeAgent, RealtimeRunner

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return f"sunny in {city}"

    openai_server.brain = weather_brain()
    agent = RealtimeAgent(name="Hark", instructions="Help.", tools=[get_weather])
    runner = RealtimeRunner(agent, config={"tracing_disabled": True})
    session = await runner.run(
        model_config={"url": f"{openai_server.realtime_url}?model=gpt-realtime", "api_key": "k"}
    )
    tool_ends: list[str] = []
    async with session:
        await session.send_message("what is the weather in Lima")
        async for event in session:
            if event.type == "tool_end":
                tool_ends.append(str(event.output))
            if event.type == "error":
                raise AssertionError(event.error)
            if event.type == "audio_end" and tool_ends:
                break  # the answer after the tool has been voiced
        await openai_server.realtime[0].server_events.wait_for_async(is_response_done, count=2)
    assert tool_ends == ["sunny in Lima"]
    transcripts = [
        e["delta"]
        for e in openai_server.realtime[0].server_events
        if e["type"] == "response.output_audio_transcript.delta"
    ]
    assert "".join(transcripts) == "Here is what I found: sunny in Lima"


# -------------------------------------------------------------------------------------------
# Everything emitted re-validates
# -------------------------------------------------------------------------------------------


async def drive_every_endpoint(server: ScriptedOpenAIServer) -> None:
    client = async_client(server)
    tools = [WEATHER_TOOL]
    realtime_tool: Any = {k: v for k, v in WEATHER_TOOL.items() if k != "strict"}
    stream = await client.responses.create(
        model="gpt-5-mini", input="weather in Paris", tools=tools, stream=True
    )
    _ = [event async for event in stream]
    await client.responses.create(model="gpt-5-mini", input="hello")
    chunks = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "weather in Rome"}],
        tools=[CHAT_WEATHER_TOOL],
        stream=True,
        stream_options={"include_usage": True},
    )
    _ = [chunk async for chunk in chunks]
    await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    await client.models.list()
    async with client.realtime.connect(model="gpt-realtime") as connection:
        await connection.session.update(
            session={
                "type": "realtime",
                "tools": [realtime_tool],
                "audio": {"input": {"transcription": {"model": "gpt-4o-transcribe"}}},
            }
        )
        await connection.conversation.item.create(item=user_text("weather in Oslo"))
        await connection.response.create()
        await events_until(connection, "response.done")
        server.script_transcripts("thanks")
        speech = tone(300, amplitude=0.4) + silence(600)
        await connection.input_audio_buffer.append(audio=base64.b64encode(speech).decode())
        await events_until(connection, "response.done")
        await connection.input_audio_buffer.clear()
        await events_until(connection, "input_audio_buffer.cleared")


async def test_everything_the_server_emitted_revalidates(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.brain = weather_brain()
    await drive_every_endpoint(openai_server)

    independent = WireValidator()  # not the server's instance: a second, separate check
    kinds = set()
    for emitted in openai_server.emitted_events:
        result = independent.check_emitted(emitted.kind, emitted.payload)
        assert result.model is not None
        kinds.add(emitted.kind)
    assert kinds == set(WireKind) - {WireKind.REALTIME_CLIENT_EVENT}
    realtime_types = set(openai_server.realtime[0].server_event_types())
    assert {
        "session.created",
        "session.updated",
        "response.function_call_arguments.done",
        "input_audio_buffer.committed",
        "conversation.item.input_audio_transcription.completed",
        "response.output_audio.delta",
        "input_audio_buffer.cleared",
    } <= realtime_types
    assert list(openai_server.failures) == []


# -------------------------------------------------------------------------------------------
# The rule brain
# -------------------------------------------------------------------------------------------


def request(*items: InputItem, tools: tuple[str, ...]) -> ModelRequest:
    return ModelRequest("responses", "m", "", items, tools)


def test_rule_brain_follows_a_handoff_to_a_tool_and_an_answer() -> None:
    brain = weather_brain()
    ask = InputItem("message", "user", "weather in Paris?")
    handoff = [
        InputItem("tool_call", name="transfer_to_weather_agent", call_id="c1"),
        InputItem("tool_output", text='{"assistant": "Weather"}', name="transfer_to_weather_agent"),
    ]
    tool = [
        InputItem("tool_call", name="get_weather", call_id="c2"),
        InputItem("tool_output", text="sunny", name="get_weather", call_id="c2"),
    ]
    assert brain(request(ask, tools=("transfer_to_weather_agent",))).steps == [
        ToolCall("transfer_to_weather_agent", {})
    ]
    assert brain(request(ask, *handoff, tools=("get_weather",))).steps == [
        ToolCall("get_weather", {"city": "Paris"})
    ]
    answer = brain(request(ask, *handoff, *tool, tools=("get_weather",)))
    assert answer.steps == [Text("Here is what I found: sunny")]


def test_rule_brain_skips_tools_not_offered_or_already_answered() -> None:
    brain = RuleBrain([Rule("news", "get_news"), Rule("news", "get_weather")], default=echo_reply)
    ask = InputItem("message", "user", "any news?")
    assert brain(request(ask, tools=("get_weather",))).steps == [ToolCall("get_weather")]
    answered_earlier = InputItem("tool_output", text="old", name="get_weather")
    later_ask = InputItem("message", "user", "more news?")
    assert brain(request(answered_earlier, later_ask, tools=("get_weather",))).steps == [
        ToolCall("get_weather")
    ]
    assert brain(request(ask, tools=())).steps == [Text("echo: any news?")]


def echo_reply(request: ModelRequest) -> Reply:
    return Reply([Text(f"echo: {request.latest_user_text}")])
