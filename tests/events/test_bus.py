"""The bus: delivery by type, isolation, bounds, coalescing and control overtaking data."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Literal

import pytest

from src.events.base import Delivery, Event
from src.events.bus import ALL_EVENTS, EventBus
from src.events.commands import CancelTurn, SubmitText
from src.events.conversation import AssistantTextDelta, InputLevel, PartialTranscript


@dataclass(frozen=True, kw_only=True)
class Ping(Event):
    type: Literal["test.ping"] = "test.ping"
    n: int


@dataclass(frozen=True, kw_only=True)
class Halt(Event):
    delivery = Delivery.CONTROL
    type: Literal["test.halt"] = "test.halt"


async def test_delivers_by_class_union_and_wildcard() -> None:
    bus = EventBus()
    pings: list[Event] = []
    texts: list[Event] = []
    everything: list[Event] = []
    bus.subscribe(Ping, pings.append)
    bus.subscribe(SubmitText | CancelTurn, texts.append)
    bus.subscribe(ALL_EVENTS, everything.append)
    await bus.publish(Ping(n=1))
    await bus.publish(SubmitText(text="hi"))
    await bus.publish(CancelTurn())
    await bus.drain()
    assert [e.n for e in pings if isinstance(e, Ping)] == [1]
    assert {type(e) for e in texts} == {SubmitText, CancelTurn}  # control may overtake
    assert len(everything) == 3
    await bus.close()


async def test_string_selectors_are_refused() -> None:
    bus = EventBus()
    with pytest.raises(TypeError):
        bus.subscribe("test.ping", print)


async def test_a_failing_subscriber_is_isolated(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[int] = []

    def broken(event: Ping) -> None:
        raise RuntimeError("boom")

    bus.subscribe(Ping, broken, name="broken")
    bus.subscribe(Ping, lambda e: seen.append(e.n))
    with caplog.at_level(logging.ERROR):
        for n in range(3):
            await bus.publish(Ping(n=n))
        await bus.drain()
    assert seen == [0, 1, 2]
    failures = [r for r in caplog.records if "broken" in r.getMessage()]
    assert len(failures) == 3 and "test.ping" in failures[0].getMessage()
    await bus.close()


async def test_blocking_subscription_applies_backpressure_and_loses_nothing() -> None:
    bus = EventBus()
    gate = asyncio.Event()
    got: list[int] = []

    async def slow(event: Ping) -> None:
        await gate.wait()
        got.append(event.n)

    sub = bus.subscribe(Ping, slow, maxsize=2)
    publisher = asyncio.create_task(_publish_many(bus, 10))
    # The publisher must get stuck: the mailbox holds 2 and the handler holds 1.
    for _ in range(50):
        await asyncio.sleep(0)
    assert not publisher.done()
    assert sub.pending() <= 2
    gate.set()
    await publisher
    await bus.drain()
    assert got == list(range(10))
    await bus.close()


async def test_drop_oldest_subscription_counts_what_it_drops() -> None:
    bus = EventBus()
    gate = asyncio.Event()
    got: list[int] = []

    async def slow(event: Ping) -> None:
        await gate.wait()
        got.append(event.n)

    sub = bus.subscribe(Ping, slow, maxsize=3, overflow="drop_oldest")
    await bus.publish(Ping(n=0))
    await asyncio.sleep(0)  # the handler takes 0 and waits on the gate
    for n in range(1, 20):
        await bus.publish(Ping(n=n))  # never blocks
    gate.set()
    await bus.drain()
    assert sub.dropped == 19 - 3
    assert got == [0, 17, 18, 19]
    await bus.close()


async def test_high_rate_events_coalesce_to_the_latest_value() -> None:
    bus = EventBus()
    gate = asyncio.Event()
    levels: list[float] = []
    partials: list[str] = []

    async def meter(event: Event) -> None:
        await gate.wait()
        if isinstance(event, InputLevel):
            levels.append(event.dbfs)
        elif isinstance(event, PartialTranscript):
            partials.append(f"{event.item_id}:{event.text}")

    bus.subscribe(InputLevel | PartialTranscript, meter, maxsize=1)
    await bus.publish(InputLevel(dbfs=-60.0))
    await asyncio.sleep(0)  # the handler takes the first and waits on the gate
    for i in range(1000):
        await bus.publish(InputLevel(dbfs=-float(i)))
    for text in ("h", "he", "hel"):
        await bus.publish(PartialTranscript(item_id="a", role="user", text=text))
    await bus.publish(PartialTranscript(item_id="b", role="user", text="x"))
    gate.set()
    await bus.drain()
    assert levels == [-60.0, -999.0]
    assert sorted(partials) == ["a:hel", "b:x"]
    await bus.close()


async def test_control_events_overtake_queued_data() -> None:
    bus = EventBus()
    gate = asyncio.Event()
    order: list[str] = []

    async def handler(event: Event) -> None:
        await gate.wait()
        order.append(event.type)

    bus.subscribe(ALL_EVENTS, handler)
    await bus.publish(AssistantTextDelta(turn_id="t", delta="a"))
    await asyncio.sleep(0)
    for _ in range(3):
        await bus.publish(AssistantTextDelta(turn_id="t", delta="b"))
    await bus.publish(Halt())
    gate.set()
    await bus.drain()
    assert order == ["assistant.text.delta", "test.halt"] + ["assistant.text.delta"] * 3
    await bus.close()


async def test_publish_from_another_thread() -> None:
    bus = EventBus()
    arrived = asyncio.Event()
    got: list[int] = []

    def handler(event: Ping) -> None:
        got.append(event.n)
        arrived.set()

    bus.subscribe(Ping, handler)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, bus.publish_threadsafe, Ping(n=7))
    await arrived.wait()
    assert got == [7]
    await bus.close()


async def test_next_event_waits_for_a_matching_event() -> None:
    bus = EventBus()
    waiter = asyncio.create_task(bus.next_event(Ping, predicate=lambda e: e.n == 2))
    await asyncio.sleep(0)
    for n in range(4):
        await bus.publish(Ping(n=n))
    result = await waiter
    assert result.n == 2
    await bus.close()


async def _publish_many(bus: EventBus, count: int) -> None:
    for n in range(count):
        await bus.publish(Ping(n=n))
