"""Pictures of the main states, compared with the SVGs under __snapshots__.

Every input is fixed (timestamps, ids, the clock's zone), so a difference means the look
changed. After an intended change, review and refresh them with:
    pytest tests/presentation/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from src.events.approvals import ApprovalRequested
from src.events.base import Event
from src.events.bus import EventBus
from src.events.conversation import (
    AssistantTextDelta,
    ConversationOpened,
    FollowUpsSuggested,
    HandoffOccurred,
    InputLevel,
    StateChanged,
    ToolCallFinished,
    ToolCallStarted,
    TurnCompleted,
    TurnStarted,
)
from src.events.session import TurnDetectionChanged, VoiceAvailability
from src.presentation.tui.app import HarkApp, make_app
from src.presentation.tui.screens.history import HistoryScreen

from .conftest import SETTINGS_VIEW, FakeKeyStore, FakeQueries, publish_all, wait_until
from .test_screens import SUMMARIES, conversation

SnapCompare = Callable[..., bool]
T0 = 1_750_000_000.0


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def weather_turn() -> list[Event]:
    return [
        ConversationOpened(conversation_id="conv_1", title="Weather in Paris", ts=T0),
        TurnDetectionChanged(mode="server_vad", ts=T0),
        TurnStarted(
            conversation_id="conv_1", turn_id="t1", text="What's the weather in Paris?", ts=T0 + 1
        ),
        HandoffOccurred(turn_id="t1", from_agent="orchestrator", to_agent="weather", ts=T0 + 1.2),
        ToolCallStarted(
            turn_id="t1",
            call_id="c1",
            tool="get_current_weather",
            agent="weather",
            arguments='{"location": "Paris"}',
            progress="Checking the weather in Paris...",
            ts=T0 + 1.3,
        ),
        ToolCallFinished(
            turn_id="t1",
            call_id="c1",
            tool="get_current_weather",
            ok=True,
            result="12 °C, clear sky, wind 9 km/h",
            ts=T0 + 1.6,
        ),
        AssistantTextDelta(
            turn_id="t1", delta="It is **12 °C** and clear in Paris.\n\n", ts=T0 + 1.84
        ),
        AssistantTextDelta(turn_id="t1", delta="- wind: 9 km/h\n- no rain expected", ts=T0 + 1.9),
        TurnCompleted(
            conversation_id="conv_1",
            turn_id="t1",
            input_tokens=1_180,
            output_tokens=42,
            cost_usd=0.0021,
            ts=T0 + 2,
        ),
        FollowUpsSuggested(
            turn_id="t1", suggestions=("And tomorrow?", "What about Rome?"), ts=T0 + 2
        ),
        StateChanged(previous="idle", current="listening", ts=T0 + 2),
        InputLevel(dbfs=-24.0, ts=T0 + 2),
    ]


def scene(
    bus: EventBus, events: list[Event], then: Callable[[Pilot[Any]], Awaitable[None]] | None = None
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await publish_all(bus, events)
        await bus.drain()
        for _ in range(5):
            await pilot.pause()
        if then is not None:
            await then(pilot)
        await bus.drain()
        await pilot.pause()
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        for field in pilot.app.screen_stack[0].query(Input):
            field.cursor_blink = False

    return run_before


def app_on(bus: EventBus, **kwargs: Any) -> HarkApp:
    return make_app(
        bus, key_store=FakeKeyStore(), settings_view=SETTINGS_VIEW, approval_arm_seconds=0, **kwargs
    )


def test_first_run(snap_compare: SnapCompare) -> None:
    bus = EventBus()
    events: list[Event] = [
        ConversationOpened(conversation_id="conv_1", title="New conversation", ts=T0),
        VoiceAvailability(available=False, reason="No microphone was found.", ts=T0),
    ]
    assert snap_compare(app_on(bus, first_run=True), run_before=scene(bus, events))


def test_conversation_with_a_tool_call(snap_compare: SnapCompare) -> None:
    bus = EventBus()
    assert snap_compare(app_on(bus), run_before=scene(bus, weather_turn()))


def test_conversation_in_a_large_light_terminal(snap_compare: SnapCompare) -> None:
    bus = EventBus()

    async def light(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+t")

    assert snap_compare(
        app_on(bus), terminal_size=(120, 35), run_before=scene(bus, weather_turn(), light)
    )


def test_approval(snap_compare: SnapCompare) -> None:
    bus = EventBus()
    events = [
        *weather_turn()[:3],
        ApprovalRequested(
            approval_id="ap_1",
            tool="send_email",
            agent="mail",
            ts=T0 + 3,
            readback="Send an email to Ana <ana@example.com> with the subject 'Dinner' "
            "saying: 'See you at 7 [tonight] at Chez Paul.'",
            arguments="{}",
        ),
    ]
    assert snap_compare(app_on(bus), run_before=scene(bus, events))


def test_history(snap_compare: SnapCompare) -> None:
    bus = EventBus()
    summaries = [dict(s, updated_at=T0 - 3600 * n) for n, s in enumerate(SUMMARIES)]
    queries = FakeQueries(
        answers={
            "conversations.list": summaries,
            "conversations.show": lambda p: conversation(p["id"]),
        }
    )

    async def browse(pilot: Pilot[Any]) -> None:
        queries.attach(bus)
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen), "history")
        options = pilot.app.screen.query_one("#history-list")
        await wait_until(pilot, lambda: options.option_count == 2, "listed")  # type: ignore[attr-defined]
        await pilot.press("down", "enter")
        await wait_until(
            pilot,
            lambda: "9:04" in str(pilot.app.screen.query_one("#history-text").render()),
            "shown",
        )

    assert snap_compare(app_on(bus), run_before=scene(bus, weather_turn()[:1], browse))
