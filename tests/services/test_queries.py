"""Front ends' questions answered over the bus, with the same JSON for the TUI and the socket."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from src.domain.history import ToolCall, Turn, Usage
from src.events.bus import EventBus
from src.events.commands import NewConversation, ResumeConversation
from src.events.conversation import ConversationOpened, ErrorReported
from src.events.queries import Query, QueryResult
from src.services.conversation import ConversationService
from src.services.queries import QueryService
from src.services.storage import HistoryStore
from tests.fakes.scripted_runner import ScriptedRunner


@pytest.fixture
def store(tmp_path: Path) -> HistoryStore:
    store = HistoryStore(tmp_path / "hark.db")
    conv = store.create_conversation()
    turn = Turn(id="turn_1", conversation_id=conv.id, user_text="weather in Paris")
    store.start_turn(turn)
    call = ToolCall("call_1", "get_current_weather", "weather", '{"location": "Paris"}')
    store.record_tool_call(turn.id, call)
    store.finish_tool_call(turn.id, "call_1", "Paris: 12°C", True)
    turn.assistant_text, turn.status = "It is 12°C in Paris.", "completed"
    turn.usage = Usage(100, 20, 0.00008)
    store.finish_turn(turn)
    return store


async def ask(bus: EventBus, kind: str, **params: Any) -> QueryResult:
    request_id = f"r-{kind}"
    waiter = asyncio.create_task(
        bus.next_event(QueryResult, predicate=lambda e: e.request_id == request_id)
    )
    await asyncio.sleep(0)
    await bus.publish(Query(request_id=request_id, kind=kind, params=params))  # type: ignore[arg-type]
    result: QueryResult = await waiter
    json.dumps(result.to_json())  # every answer must be JSON as it stands
    return result


async def test_history_queries(store: HistoryStore) -> None:
    bus = EventBus()
    service = QueryService(
        bus,
        store,
        status=lambda: {"state": "idle"},
        tools=lambda: [{"name": "t"}],
        connections=lambda: [],
    )
    await service.start()
    listed = await ask(bus, "conversations.list", limit=5)
    assert listed.ok and listed.data[0]["title"] == "Weather in Paris"
    conv_id = listed.data[0]["id"]
    shown = await ask(bus, "conversations.show", id=conv_id[:8])
    assert shown.ok and shown.data["turns"][0]["tool_calls"][0]["result"] == "Paris: 12°C"
    assert shown.data["usage"]["input_tokens"] == 100
    found = await ask(bus, "conversations.search", query="paris")
    assert found.ok and {h["conversation_id"] for h in found.data} == {conv_id}
    assert (await ask(bus, "status")).data == {"state": "idle"}
    assert (await ask(bus, "tools.list")).data == [{"name": "t"}]
    await bus.close()


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("conversations.list", {"limit": "ten"}, "limit must be a whole number"),
        ("conversations.list", {"limit": 0}, "between 1 and 500"),
        ("conversations.show", {}, "id is required"),
        ("conversations.show", {"id": "conv_nope"}, "conv_nope"),
        ("conversations.search", {"query": ""}, "query is required"),
        ("devices.list", {}, "unknown query"),
    ],
)
async def test_bad_queries_get_a_sentence(
    store: HistoryStore, kind: str, params: dict[str, Any], message: str
) -> None:
    bus = EventBus()
    await QueryService(bus, store, status=dict, tools=list, connections=list).start()
    result = await ask(bus, kind, **params)
    assert not result.ok and message in result.error
    await bus.close()


async def test_new_and_resume_conversation_commands(store: HistoryStore) -> None:
    bus = EventBus()
    service = ConversationService(bus, store, ScriptedRunner())
    await service.start()
    first = await service.open()
    opened: list[ConversationOpened] = []
    errors: list[ErrorReported] = []
    bus.subscribe(ConversationOpened, opened.append)
    bus.subscribe(ErrorReported, errors.append)
    old = store.list_conversations()[-1].id
    await bus.publish(ResumeConversation(conversation_id=old))
    await bus.publish(NewConversation())
    await bus.publish(ResumeConversation(conversation_id="conv_doesnotexist"))
    while len(opened) < 2 or not errors:
        await asyncio.sleep(0)
    assert opened[0].conversation_id == old and opened[0].resumed and opened[0].turn_count == 1
    assert opened[1].conversation_id not in (old, first.id) and not opened[1].resumed
    assert "conv_doesnotexist" in errors[0].message
    await service.close()
    await bus.close()
