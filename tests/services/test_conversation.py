"""The conversation manager: commands in, events out, everything stored before it is shown."""

from __future__ import annotations

import asyncio
from pathlib import Path

from src.events.base import Event
from src.events.bus import ALL_EVENTS, EventBus
from src.events.commands import CancelTurn, SubmitText
from src.events.conversation import (
    StateChanged,
    TurnCancelled,
    TurnCompleted,
    TurnEnded,
    TurnFailed,
)
from src.events.session import SetupNeeded
from src.services.conversation import ConversationService
from src.services.live_api_key import LiveApiKey
from src.services.model_errors import ModelError
from src.services.storage import HistoryStore
from tests.fakes.scripted_runner import ScriptedRunner


async def _setup(
    tmp_path: Path, runner: ScriptedRunner, api_key: LiveApiKey | None = None
) -> tuple[EventBus, HistoryStore, ConversationService, list[Event]]:
    bus = EventBus()
    store = HistoryStore(tmp_path / "hark.db")
    seen: list[Event] = []
    bus.subscribe(ALL_EVENTS, seen.append)
    service = ConversationService(
        bus,
        store,
        runner,
        followups=lambda calls: ["What about Lyon?"] if calls else [],
        api_key=api_key,
        key_recheck_seconds=0.01,  # a refused key's watcher, without a test waiting long
    )
    await service.start()
    await service.open()
    return bus, store, service, seen


async def _turn(bus: EventBus, text: str) -> Event:
    waiter = asyncio.create_task(bus.next_event(TurnEnded))
    await asyncio.sleep(0)
    await bus.publish(SubmitText(text=text))
    return await waiter


async def test_a_turn_is_stored_before_it_is_announced(tmp_path: Path) -> None:
    runner = ScriptedRunner(tool="get_current_weather")
    bus, store, service, seen = await _setup(tmp_path, runner)
    stored_when_completed: list[object] = []

    def check(event: TurnCompleted) -> None:
        # A second connection sees the committed turn at the moment the event arrives.
        with HistoryStore(tmp_path / "hark.db") as other:
            conv = other.load_conversation(event.conversation_id)
            stored_when_completed.append(conv.turns[-1].status if conv else None)

    bus.subscribe(TurnCompleted, check)
    ended = await _turn(bus, "what's the weather in Paris?")
    await bus.drain()
    assert isinstance(ended, TurnCompleted)
    assert stored_when_completed == ["completed"]
    conv = store.load_conversation(ended.conversation_id)
    assert conv is not None and conv.title == "What's the weather in Paris"
    assert service.conversation is not None
    assert service.conversation.title == conv.title  # the live object agrees with the store
    turn = conv.turns[0]
    assert turn.assistant_text == "It is sunny."
    assert [(c.name, c.result, c.ok) for c in turn.tool_calls] == [
        ("get_current_weather", "Paris: 21°C, clear sky", True)
    ]
    assert (turn.usage.input_tokens, turn.usage.output_tokens) == (120, 30)
    states = [(e.previous, e.current) for e in seen if isinstance(e, StateChanged)]
    assert states == [
        ("idle", "thinking"),
        ("thinking", "tool_running"),
        ("tool_running", "thinking"),
        ("thinking", "assistant_speaking"),
        ("assistant_speaking", "idle"),
    ]
    types = [e.type for e in seen]
    assert types.index("followups.suggested") < types.index("turn.completed")
    await service.close()
    await bus.close()
    store.close()


async def test_cancel_keeps_what_was_said_and_the_program(tmp_path: Path) -> None:
    runner = ScriptedRunner(answer="Once upon a time there was a long story", hang_after_chars=8)
    bus, store, service, seen = await _setup(tmp_path, runner)
    waiter = asyncio.create_task(bus.next_event(TurnEnded))
    await bus.publish(SubmitText(text="tell me a story"))
    while not any(e.type == "assistant.text.delta" for e in seen):
        await asyncio.sleep(0)
    await bus.publish(CancelTurn())
    ended = await waiter
    assert isinstance(ended, TurnCancelled)
    conv = store.load_conversation(ended.conversation_id)
    assert conv is not None
    assert conv.turns[0].status == "cancelled"
    assert conv.turns[0].assistant_text == "Once upo"
    assert service.state.state.value == "idle"
    # The program carries on: the next turn runs and sees the cut-off answer as context.
    runner.hang_after_chars = None
    runner.answer = "Sure."
    second = await _turn(bus, "something shorter")
    assert isinstance(second, TurnCompleted)
    assert runner.contexts[-1][-1]["content"] == "Once upo [interrupted by the user]"
    await service.close()
    await bus.close()
    store.close()


async def test_model_errors_become_a_failed_turn_and_an_error_record(tmp_path: Path) -> None:
    runner = ScriptedRunner(
        fail_with=ModelError("The model server rejected the key.", retryable=False)
    )
    bus, store, service, _ = await _setup(tmp_path, runner)
    ended = await _turn(bus, "hello")
    assert isinstance(ended, TurnFailed) and "rejected the key" in ended.message
    conv = store.load_conversation(ended.conversation_id)
    assert conv is not None and conv.turns[0].status == "failed"
    assert conv.turns[0].user_text == "hello"
    assert any("rejected the key" in e.message for e in store.recent_errors())
    await service.close()
    await bus.close()
    store.close()


async def test_a_refused_key_asks_for_setup_and_a_key_stored_later_is_found_unasked(
    tmp_path: Path,
) -> None:
    stored: list[str | None] = [None]
    key = LiveApiKey("sk-test-refused", read_stored=lambda: stored[0])
    replaced = asyncio.Event()
    key.on_change(replaced.set)
    runner = ScriptedRunner(
        fail_with=ModelError("The server rejected the OpenAI key.", retryable=False, status=401)
    )
    bus, store, service, _ = await _setup(tmp_path, runner, api_key=key)

    needed = asyncio.create_task(bus.next_event(SetupNeeded))
    ended = await _turn(bus, "hello")
    assert isinstance(ended, TurnFailed) and ended.setup_needed == "openai_key"
    assert (await needed).what == "openai_key" and key.refused
    # Nobody types: the watcher finds the key stored from another terminal on its own.
    stored[0] = "sk-test-stored-later"
    async with asyncio.timeout(10):
        await replaced.wait()
    assert key.value == "sk-test-stored-later" and not key.refused
    await service.close()
    await bus.close()
    store.close()


def _of(events: list[Event], kind: type[Event]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


async def test_other_model_errors_do_not_ask_for_a_key(tmp_path: Path) -> None:
    key = LiveApiKey("sk-test-fine", read_stored=lambda: "sk-test-other")
    runner = ScriptedRunner(
        fail_with=ModelError("The model server is rate-limiting.", retryable=True, status=429)
    )
    bus, store, service, seen = await _setup(tmp_path, runner, api_key=key)
    ended = await _turn(bus, "hello")
    assert isinstance(ended, TurnFailed) and ended.setup_needed == ""
    await _turn(bus, "hello again")
    assert not _of(seen, SetupNeeded) and not key.refused
    assert key.value == "sk-test-fine"  # the store was not even read
    await service.close()
    await bus.close()
    store.close()


async def test_resume_replays_the_stored_context(tmp_path: Path) -> None:
    runner = ScriptedRunner(answer="Paris is sunny.")
    bus, store, service, _ = await _setup(tmp_path, runner)
    first = await _turn(bus, "weather in Paris")
    assert isinstance(first, TurnCompleted)
    await service.close()
    await bus.close()

    bus2 = EventBus()
    service2 = ConversationService(bus2, store, runner)
    await service2.start()
    conv = await service2.open(first.conversation_id[:9])
    assert conv.id == first.conversation_id
    second = await _turn(bus2, "and tomorrow?")
    assert isinstance(second, TurnCompleted) and second.conversation_id == first.conversation_id
    assert runner.contexts[-1] == [
        {"role": "user", "content": "weather in Paris"},
        {"role": "assistant", "content": "Paris is sunny."},
    ]
    await service2.close()
    await bus2.close()
    store.close()
