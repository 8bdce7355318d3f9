"""Per-turn latency, tokens and cost, from the events' own timestamps."""

from __future__ import annotations

from src.events.bus import EventBus
from src.events.conversation import (
    AssistantTextDelta,
    ConversationOpened,
    StateChanged,
    TurnCompleted,
    TurnStarted,
)
from src.events.voice import UserSpeechStopped
from src.presentation.tui.app import HarkApp
from src.presentation.tui.figures import (
    ConversationTotals,
    FiguresTracker,
    TurnFigures,
    format_cost,
)
from src.presentation.tui.widgets.figures_bar import FiguresBar, describe

from .conftest import publish_all, settle


def test_text_latency_runs_from_turn_start_to_the_first_delta() -> None:
    tracker = FiguresTracker()
    tracker.observe(TurnStarted(conversation_id="c", turn_id="t", text="hi", ts=100.0))
    tracker.observe(AssistantTextDelta(turn_id="t", delta="", ts=100.2))  # empty: not an answer
    tracker.observe(AssistantTextDelta(turn_id="t", delta="Hel", ts=100.75))
    tracker.observe(AssistantTextDelta(turn_id="t", delta="lo", ts=101.5))
    assert tracker.last.latency_s == 0.75
    tracker.observe(
        TurnCompleted(
            conversation_id="c", turn_id="t", input_tokens=900, output_tokens=100, cost_usd=0.002
        )
    )
    assert tracker.last == TurnFigures(0.75, 900, 100, 0.002, done=True)
    assert tracker.total == ConversationTotals(1, 900, 100, 0.002)


def test_voice_latency_runs_from_the_end_of_speech_to_the_first_audio() -> None:
    tracker = FiguresTracker()
    tracker.observe(UserSpeechStopped(item_id="u", ts=50.0))
    tracker.observe(
        TurnStarted(conversation_id="c", turn_id="t", text="hi", source="voice", ts=50.4)
    )
    tracker.observe(StateChanged(previous="thinking", current="assistant_speaking", ts=50.9))
    assert tracker.last.latency_s is not None
    assert abs(tracker.last.latency_s - 0.9) < 1e-9


def test_totals_add_up_and_reset_with_a_new_conversation() -> None:
    tracker = FiguresTracker()
    for n in range(3):
        tracker.observe(TurnStarted(conversation_id="c", turn_id=f"t{n}", text="x", ts=1.0))
        tracker.observe(
            TurnCompleted(
                conversation_id="c",
                turn_id=f"t{n}",
                input_tokens=10,
                output_tokens=5,
                cost_usd=0.25,
            )
        )
    assert tracker.total == ConversationTotals(3, 30, 15, 0.75)
    tracker.observe(ConversationOpened(conversation_id="d", title=""))
    assert tracker.total == ConversationTotals()


def test_the_line_fits_eighty_columns() -> None:
    line = describe(
        TurnFigures(12.34, 123_456, 7_890, 12.5, done=True),
        ConversationTotals(99, 9_999_999, 999_999, 123.45),
    )
    assert line == (
        "Last: 12.34 s · 131,346 tok · $12.50  │  Total: 99 turns · 10,999,998 tok · $123.45"
    )
    assert (
        len(
            describe(
                TurnFigures(0.84, 1000, 50, 0.0021, done=True),
                ConversationTotals(1, 1000, 50, 0.0021),
            )
        )
        <= 78
    )
    assert format_cost(0.00214) == "$0.0021"


async def test_the_bar_shows_the_last_turn_and_the_running_total(
    app: HarkApp, bus: EventBus
) -> None:
    async with app.run_test() as pilot:
        bar = app.screen.query_one(FiguresBar)
        assert str(bar.render()) == ""
        await publish_all(
            bus,
            [
                ConversationOpened(conversation_id="c", title="t"),
                TurnStarted(conversation_id="c", turn_id="t1", text="a", ts=10.0),
                AssistantTextDelta(turn_id="t1", delta="b", ts=10.5),
                TurnCompleted(
                    conversation_id="c",
                    turn_id="t1",
                    input_tokens=1000,
                    output_tokens=50,
                    cost_usd=0.0021,
                ),
                TurnStarted(conversation_id="c", turn_id="t2", text="a", ts=20.0),
                AssistantTextDelta(turn_id="t2", delta="b", ts=21.25),
                TurnCompleted(
                    conversation_id="c",
                    turn_id="t2",
                    input_tokens=2000,
                    output_tokens=100,
                    cost_usd=0.0042,
                ),
            ],
        )
        await settle(pilot, bus)
        assert str(bar.render()) == (
            "Last: 1.25 s · 2,100 tok · $0.0042  │  Total: 2 turns · 3,150 tok · $0.0063"
        )
