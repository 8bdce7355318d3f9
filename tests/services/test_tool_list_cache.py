"""Prepared tool lists: the server gets the same body, and a list is transformed once."""

from __future__ import annotations

from typing import Any

import httpx
from openai import AsyncOpenAI
from openai.types.responses import response_create_params

from src.config.settings import ApiSettings
from src.connectors.base import ConnectorContext
from src.connectors.orchestrator import Orchestrator
from src.connectors.registry import discover
from src.events.conversation import AssistantTextDelta
from src.services.openai_client import make_openai_client
from src.services.text_runner import RunFinished, TextTurnRunner
from src.services.tool_list_cache import PreparedTools, PreparedToolsOpenAI
from tests.fakes.openai_server import ScriptedOpenAIServer

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather and forecast for a place.",
    "parameters": {
        "type": "object",
        "properties": {
            "place": {"type": "string", "description": "City or town"},
            "days": {"type": "integer", "minimum": 1, "maximum": 16},
        },
        "required": ["place", "days"],
        "additionalProperties": False,
    },
    "strict": True,
}
CLOCK_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_time",
    "description": "The time now in a time zone.",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}},
    "strict": False,
}


def _responses_cache(capacity: int = 64) -> PreparedTools:
    return PreparedTools(response_create_params.ResponseCreateParamsStreaming, capacity)


async def _run_turn(runner: TextTurnRunner, text: str) -> tuple[str, RunFinished]:
    deltas: list[str] = []
    finished: RunFinished | None = None
    async for item in runner.stream("turn_1", [], text):
        if isinstance(item, AssistantTextDelta):
            deltas.append(item.delta)
        elif isinstance(item, RunFinished):
            finished = item
    assert finished is not None
    return "".join(deltas), finished


async def test_the_server_receives_the_same_responses_body_as_from_the_plain_sdk(
    openai_server: ScriptedOpenAIServer,
) -> None:
    # Hark's own tool list, as the orchestrator sends it, is the case that matters.
    api = ApiSettings(base_url=openai_server.base_url, max_retries=0)
    async with httpx.AsyncClient() as http:
        runner = TextTurnRunner(
            lambda: make_openai_client(api, "sk-test"),
            api,
            Orchestrator(discover(), ConnectorContext(http=http)),
        )
        await _run_turn(runner, "hello there")
    hark_body = openai_server.requests[-1].body
    assert len(hark_body["tools"]) > 20

    request = {k: v for k, v in hark_body.items() if k != "stream"}
    plain = AsyncOpenAI(api_key="sk-test", base_url=openai_server.base_url, max_retries=0)
    prepared = PreparedToolsOpenAI(
        api_key="sk-test", base_url=openai_server.base_url, max_retries=0
    )
    for client in (plain, prepared):
        stream = await client.responses.create(stream=True, **request)
        async for _event in stream:
            pass
        await client.close()
    from_plain, from_prepared = (r.body for r in openai_server.requests[-2:])
    assert from_prepared == from_plain == hark_body
    assert len(prepared.responses.prepared_tools) == 1


async def test_the_server_receives_the_same_chat_body_as_from_the_plain_sdk(
    openai_server: ScriptedOpenAIServer,
) -> None:
    chat_tools = [
        {"type": "function", "function": {k: v for k, v in tool.items() if k != "type"}}
        for tool in (WEATHER_TOOL, CLOCK_TOOL)
    ]
    request = {
        "model": "gpt-5-mini",
        "messages": [{"role": "user", "content": "weather in Paris?"}],
        "tools": chat_tools,
        "stream": True,
    }
    plain = AsyncOpenAI(api_key="sk-test", base_url=openai_server.base_url, max_retries=0)
    prepared = PreparedToolsOpenAI(
        api_key="sk-test", base_url=openai_server.base_url, max_retries=0
    )
    for client in (plain, prepared):
        stream = await client.chat.completions.create(**request)
        async for _chunk in stream:
            pass
        await client.close()
    from_plain, from_prepared = (r.body for r in openai_server.requests[-2:])
    assert from_prepared["tools"] == chat_tools
    assert from_prepared == from_plain
    assert len(prepared.chat.completions.prepared_tools) == 1


async def test_a_repeated_tool_list_is_transformed_once() -> None:
    cache = _responses_cache()
    first = await cache.apply({"model": "m", "tools": [WEATHER_TOOL, CLOCK_TOOL]})
    # An equal list built afresh, as the agents SDK does on every run.
    again = await cache.apply({"model": "m", "tools": [dict(WEATHER_TOOL), dict(CLOCK_TOOL)]})
    assert "tools" not in first
    assert first["extra_body"]["tools"] == [WEATHER_TOOL, CLOCK_TOOL]
    assert again["extra_body"]["tools"] is first["extra_body"]["tools"]
    assert len(cache) == 1

    other = await cache.apply({"model": "m", "tools": [CLOCK_TOOL]})
    assert other["extra_body"]["tools"] == [CLOCK_TOOL]
    assert len(cache) == 2


async def test_the_least_recently_used_list_is_dropped_first() -> None:
    cache = _responses_cache(capacity=2)
    one = await cache.apply({"tools": [WEATHER_TOOL]})
    await cache.apply({"tools": [CLOCK_TOOL]})
    # Using the first list again makes the second the oldest.
    assert (await cache.apply({"tools": [WEATHER_TOOL]}))["extra_body"]["tools"] is (
        one["extra_body"]["tools"]
    )
    await cache.apply({"tools": [WEATHER_TOOL, CLOCK_TOOL]})
    assert len(cache) == 2
    kept = await cache.apply({"tools": [WEATHER_TOOL]})
    assert kept["extra_body"]["tools"] is one["extra_body"]["tools"]


async def test_the_callers_other_extra_body_fields_are_kept() -> None:
    cache = _responses_cache()
    params = {"tools": [WEATHER_TOOL], "extra_body": {"service_hint": "fast"}}
    prepared = await cache.apply(params)
    assert prepared["extra_body"] == {"service_hint": "fast", "tools": [WEATHER_TOOL]}
    assert params["extra_body"] == {"service_hint": "fast"}  # the caller's dict is not changed


async def test_what_it_cannot_key_or_must_not_touch_takes_the_sdks_usual_path() -> None:
    cache = _responses_cache()
    not_json = {"tools": [{**WEATHER_TOOL, "description": object()}]}
    not_finite = {"tools": [{**WEATHER_TOOL, "parameters": {"maximum": float("inf")}}]}
    callers_tools = {"tools": [WEATHER_TOOL], "extra_body": {"tools": [CLOCK_TOOL]}}
    no_tools: dict[str, Any] = {"model": "m", "input": "hi"}
    empty: dict[str, Any] = {"tools": []}
    for params in (not_json, not_finite, callers_tools, no_tools, empty):
        assert await cache.apply(params) is params
    assert len(cache) == 0


async def test_a_turn_through_the_agents_sdk_reuses_the_prepared_list(
    openai_server: ScriptedOpenAIServer,
) -> None:
    api = ApiSettings(base_url=openai_server.base_url, max_retries=0)
    client = make_openai_client(api, "sk-test")
    assert isinstance(client, PreparedToolsOpenAI)
    async with httpx.AsyncClient() as http:
        runner = TextTurnRunner(
            lambda: client, api, Orchestrator(discover(), ConnectorContext(http=http))
        )
        first_text, _ = await _run_turn(runner, "hello there")
        second_text, _ = await _run_turn(runner, "and again")
    await client.close()
    assert first_text and second_text
    bodies = [r.body for r in openai_server.requests[-2:]]
    assert bodies[0]["tools"] == bodies[1]["tools"]
    names = {tool["name"] for tool in bodies[0]["tools"]}
    assert {"transfer_to_weather", "transfer_to_web_reader"} <= names
    assert len(client.responses.prepared_tools) == 1
