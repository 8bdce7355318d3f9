"""The conversation screen: typed input, streamed answers, tools, handoffs, follow-ups, errors."""

from __future__ import annotations

from textual.widgets import Input, Markdown

from src.events.bus import EventBus
from src.events.commands import CancelTurn, NewConversation, SubmitText
from src.events.conversation import (
    AssistantMessageCompleted,
    AssistantTextDelta,
    ConversationOpened,
    ErrorReported,
    FollowUpsSuggested,
    HandoffOccurred,
    PartialTranscript,
    ToolCallFinished,
    ToolCallStarted,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)
from src.events.voice import TranscriptCompleted
from src.presentation.tui.app import HarkApp
from src.presentation.tui.widgets.follow_ups import FollowUps
from src.presentation.tui.widgets.tool_activity import HandoffNote, ToolActivity
from src.presentation.tui.widgets.transcript import SpeakerLine, Transcript

from .conftest import CommandLog, notifications, publish_all, screen_text, settle, wait_until

CONV = "conv_1"


def opened() -> ConversationOpened:
    return ConversationOpened(conversation_id=CONV, title="Paris trip", ts=1.0)


def started(turn: str = "t1", text: str = "weather in Paris?") -> TurnStarted:
    return TurnStarted(conversation_id=CONV, turn_id=turn, text=text, ts=10.0)


async def test_enter_sends_the_typed_text_and_clears_the_prompt(
    app: HarkApp, bus: EventBus
) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await bus.publish(opened())
        await settle(pilot, bus)
        await pilot.press(*"hello there", "enter")
        await wait_until(pilot, lambda: log.of(SubmitText), "SubmitText published")
        assert [c.text for c in log.of(SubmitText)] == ["hello there"]
        assert app.screen.query_one("#prompt", Input).value == ""
        # Blank input sends nothing.
        await pilot.press("space", "enter")
        await settle(pilot, bus)
        assert len(log.of(SubmitText)) == 1


async def test_text_typed_before_the_assistant_is_up_is_sent_once_it_is(
    app: HarkApp, bus: EventBus
) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await pilot.press(*"first", "enter", *"second", "enter")
        await settle(pilot, bus)
        assert log.of(SubmitText) == []
        assert any("still starting" in n for n in notifications(app))
        await bus.publish(opened())
        await wait_until(pilot, lambda: len(log.of(SubmitText)) == 2, "held prompts sent")
        assert [c.text for c in log.of(SubmitText)] == ["first", "second"]


async def test_the_answer_streams_as_markdown_and_the_prompt_stays_usable(
    app: HarkApp, bus: EventBus
) -> None:
    async with app.run_test() as pilot:
        await publish_all(bus, [opened(), started()])
        for piece in ("It is ", "**sunny**", " in Paris."):
            await bus.publish(AssistantTextDelta(turn_id="t1", delta=piece, ts=10.5))
        await settle(pilot, bus)
        transcript = app.screen.query_one(Transcript)
        assert transcript.border_title == "Paris trip"
        answer = transcript.query_one(Markdown)
        # Live, before the turn ends: the throttle draws within a few frames.
        await wait_until(pilot, lambda: answer.source == "It is **sunny** in Paris.", "streamed")
        assert app.screen.query_one("#prompt", Input).has_focus
        await pilot.press(*"next")
        assert app.screen.query_one("#prompt", Input).value == "next"
        await bus.publish(TurnCompleted(conversation_id=CONV, turn_id="t1"))
        await settle(pilot, bus)
        user_line = transcript.query_one(SpeakerLine)
        assert str(user_line.render()) == "weather in Paris?"


async def test_a_whole_message_is_shown_when_nothing_was_streamed(
    app: HarkApp, bus: EventBus
) -> None:
    async with app.run_test() as pilot:
        await publish_all(
            bus,
            [
                opened(),
                started(),
                AssistantMessageCompleted(turn_id="t1", text="# Title\n\nBody"),
                TurnCompleted(conversation_id=CONV, turn_id="t1"),
            ],
        )
        await settle(pilot, bus)
        assert app.screen.query_one(Markdown).source == "# Title\n\nBody"


async def test_tool_progress_shows_while_running_and_folds_when_done(
    app: HarkApp, bus: EventBus
) -> None:
    async with app.run_test() as pilot:
        await publish_all(
            bus,
            [
                opened(),
                started(),
                ToolCallStarted(
                    turn_id="t1",
                    call_id="h",
                    tool="transfer_to_weather",
                    agent="orchestrator",
                    arguments="{}",
                    progress="Handing over",
                ),
                HandoffOccurred(turn_id="t1", from_agent="orchestrator", to_agent="weather"),
                ToolCallStarted(
                    turn_id="t1",
                    call_id="c1",
                    tool="get_current_weather",
                    agent="weather",
                    arguments='{"location": "Paris"}',
                    progress="Checking the weather in Paris...",
                ),
            ],
        )
        await settle(pilot, bus)
        rows = list(app.screen.query(ToolActivity))
        assert len(rows) == 1, "handoff tools are shown as a handoff note, not a tool row"
        row = rows[0]
        assert row.title == "Checking the weather in Paris..."
        assert not row.collapsed and row.has_class("-running")
        assert "get_current_weather" in screen_text(app)
        assert str(app.screen.query_one(HandoffNote).render()) == "↪ orchestrator → weather"

        await bus.publish(
            ToolCallFinished(
                turn_id="t1",
                call_id="c1",
                tool="get_current_weather",
                ok=True,
                result="12 °C, clear",
            )
        )
        await settle(pilot, bus)
        assert row.collapsed and row.has_class("-ok")
        # The result is still there, one toggle away.
        row.collapsed = False
        await pilot.pause()
        assert "12 °C, clear" in screen_text(app)


async def test_a_failed_tool_is_marked(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        await publish_all(
            bus,
            [
                opened(),
                started(),
                ToolCallStarted(
                    turn_id="t1",
                    call_id="c1",
                    tool="x",
                    agent="a",
                    arguments="{}",
                    progress="Trying [x]",
                ),
                ToolCallFinished(turn_id="t1", call_id="c1", tool="x", ok=False, result="boom"),
            ],
        )
        await settle(pilot, bus)
        row = app.screen.query_one(ToolActivity)
        assert row.has_class("-failed") and row.collapsed
        assert "Trying [x]" in str(row.query_one("CollapsibleTitle").render())


async def test_text_after_a_tool_goes_below_it(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        await publish_all(
            bus,
            [
                opened(),
                started(),
                AssistantTextDelta(turn_id="t1", delta="Let me check."),
                ToolCallStarted(
                    turn_id="t1",
                    call_id="c1",
                    tool="x",
                    agent="a",
                    arguments="{}",
                    progress="Checking",
                ),
                ToolCallFinished(turn_id="t1", call_id="c1", tool="x", ok=True, result="ok"),
                AssistantTextDelta(turn_id="t1", delta="Done."),
                TurnCompleted(conversation_id=CONV, turn_id="t1"),
            ],
        )
        await settle(pilot, bus)
        kinds = [type(w).__name__ for w in app.screen.query_one("TurnView").children]
        assert kinds == ["SpeakerLine", "StreamingMarkdown", "ToolActivity", "StreamingMarkdown"]
        sources = [m.source for m in app.screen.query(Markdown)]
        assert sources == ["Let me check.", "Done."]


async def test_follow_ups_are_offered_and_picked_with_a_key(app: HarkApp, bus: EventBus) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        follow_ups = app.screen.query_one(FollowUps)
        assert not follow_ups.display
        await publish_all(
            bus,
            [
                opened(),
                started(),
                TurnCompleted(conversation_id=CONV, turn_id="t1"),
                FollowUpsSuggested(turn_id="t1", suggestions=("And tomorrow?", "In Rome?")),
            ],
        )
        await settle(pilot, bus)
        assert follow_ups.display
        assert "F1  And tomorrow?" in str(follow_ups.render())
        assert "F2  In Rome?" in str(follow_ups.render())
        await pilot.press("f3")  # there is no third suggestion: nothing happens
        await pilot.press("f2")
        await wait_until(pilot, lambda: log.of(SubmitText), "follow-up asked")
        assert [c.text for c in log.of(SubmitText)] == ["In Rome?"]
        assert not follow_ups.display


async def test_alt_digit_also_picks_a_follow_up(app: HarkApp, bus: EventBus) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await publish_all(bus, [opened(), FollowUpsSuggested(turn_id="t1", suggestions=("Why?",))])
        await settle(pilot, bus)
        await pilot.press("alt+1")
        await wait_until(pilot, lambda: log.of(SubmitText), "follow-up asked")
        assert log.of(SubmitText)[0].text == "Why?"


async def test_escape_and_ctrl_c_cancel_only_while_answering(app: HarkApp, bus: EventBus) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await pilot.press("escape", "ctrl+c")
        await settle(pilot, bus)
        assert log.of(CancelTurn) == []
        assert any("Ctrl+Q" in n for n in notifications(app))

        await publish_all(bus, [opened(), started()])
        await settle(pilot, bus)
        await pilot.press("escape")
        await wait_until(pilot, lambda: len(log.of(CancelTurn)) == 1, "Esc cancels")
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: len(log.of(CancelTurn)) == 2, "Ctrl+C cancels")

        await bus.publish(TurnCancelled(conversation_id=CONV, turn_id="t1"))
        await settle(pilot, bus)
        assert "(answer stopped)" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot, bus)
        assert len(log.of(CancelTurn)) == 2


async def test_errors_become_notifications_not_crashes(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        await publish_all(
            bus,
            [
                opened(),
                started(),
                TurnFailed(conversation_id=CONV, turn_id="t1", message="The model is [busy]."),
                ErrorReported(source="storage", message="Disk full."),
            ],
        )
        await settle(pilot, bus)
        shown = notifications(app)
        assert "Not answered: The model is [busy]." in shown
        assert "storage: Disk full." in shown
        assert "Not answered: The model is [busy]." in screen_text(app)
        assert app.is_running


async def test_spoken_turns_replace_partial_transcripts_in_place(
    app: HarkApp, bus: EventBus
) -> None:
    async with app.run_test() as pilot:
        await publish_all(
            bus,
            [
                opened(),
                PartialTranscript(item_id="u1", role="user", text="what is the"),
                PartialTranscript(item_id="u1", role="user", text="what is the weath"),
            ],
        )
        await settle(pilot, bus)
        lines = list(app.screen.query(SpeakerLine))
        assert len(lines) == 1 and lines[0].has_class("-partial")
        await publish_all(
            bus,
            [
                TranscriptCompleted(item_id="u1", role="user", text="What is the weather?"),
                TurnStarted(
                    conversation_id=CONV, turn_id="t1", text="What is the weather?", source="voice"
                ),
                PartialTranscript(item_id="a1", role="assistant", text="It is"),
                TranscriptCompleted(item_id="a1", role="assistant", text="It is sunny."),
            ],
        )
        await settle(pilot, bus)
        texts = [str(line.render()) for line in app.screen.query(SpeakerLine)]
        # The spoken request is not repeated by the turn that answers it.
        assert texts == ["What is the weather?", "It is sunny."]
        assert not any(line.has_class("-partial") for line in app.screen.query(SpeakerLine))


async def test_ctrl_n_starts_a_new_conversation_and_clears_the_page(
    app: HarkApp, bus: EventBus
) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await publish_all(bus, [opened(), started()])
        await settle(pilot, bus)
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: log.of(NewConversation), "NewConversation")
        await bus.publish(ConversationOpened(conversation_id="conv_2", title="New conversation"))
        await settle(pilot, bus)
        assert list(app.screen.query(SpeakerLine)) == []
        assert app.screen.query_one(Transcript).border_title == "New conversation"
