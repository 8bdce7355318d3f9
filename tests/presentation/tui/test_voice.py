"""Voice at a glance: state, reconnection, level, mute, push-to-talk, turn-taking, voice off."""

from __future__ import annotations

from textual.widgets import Label

from src.events.bus import EventBus
from src.events.commands import PushToTalk, SetMuted, SetTurnDetection
from src.events.conversation import InputLevel, StateChanged
from src.events.realtime import RealtimeConnectionChanged
from src.events.session import ListeningChanged, TurnDetectionChanged, VoiceAvailability
from src.presentation.tui.app import HarkApp
from src.presentation.tui.widgets.voice_bar import VoiceBar, level_meter

from .conftest import CommandLog, notifications, settle, wait_until


def label(app: HarkApp, name: str) -> str:
    return str(app.screen.query_one(f"#{name}", Label).render())


def test_level_meter_spans_silence_to_full_scale() -> None:
    assert level_meter(None) == "░" * 10
    assert level_meter(-90.0) == "░" * 10
    assert level_meter(-30.0) == "█" * 5 + "░" * 5
    assert level_meter(0.0) == "█" * 10
    assert level_meter(6.0) == "█" * 10


async def test_state_indicator_follows_the_state_machine(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        assert label(app, "voice-state") == "● Idle"
        expected = {
            "listening": "● Listening",
            "user_speaking": "● You are speaking",
            "thinking": "● Thinking",
            "tool_running": "● Running a tool",
            "assistant_speaking": "● Speaking",
        }
        previous = "idle"
        for state, shown in expected.items():
            await bus.publish(StateChanged(previous=previous, current=state))
            await settle(pilot, bus)
            assert label(app, "voice-state") == shown
            assert app.screen.query_one("#voice-state", Label).has_class(
                f"-{state.replace('_', '-')}"
            )
            previous = state


async def test_reconnecting_wins_over_the_state_until_connected(
    app: HarkApp, bus: EventBus
) -> None:
    async with app.run_test() as pilot:
        await bus.publish(StateChanged(previous="idle", current="thinking"))
        await bus.publish(RealtimeConnectionChanged(status="reconnecting", attempt=2))
        await settle(pilot, bus)
        assert label(app, "voice-state") == "● Reconnecting (attempt 2)…"
        await bus.publish(RealtimeConnectionChanged(status="connected"))
        await settle(pilot, bus)
        assert label(app, "voice-state") == "● Thinking"


async def test_input_level_moves_the_meter(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        await bus.publish(InputLevel(dbfs=-12.0))
        await settle(pilot, bus)
        assert label(app, "voice-meter") == level_meter(-12.0)


async def test_f6_toggles_mute_and_listening_events_correct_it(app: HarkApp, bus: EventBus) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await pilot.press("f6")
        await wait_until(pilot, lambda: log.of(SetMuted), "SetMuted")
        assert log.of(SetMuted)[0].muted is True
        assert label(app, "voice-mic") == "mic off (F6)"
        await bus.publish(ListeningChanged(listening=True, muted=False))
        await settle(pilot, bus)
        assert label(app, "voice-mic") == "mic on"
        await pilot.press("f6")
        await wait_until(pilot, lambda: len(log.of(SetMuted)) == 2, "second SetMuted")
        assert log.of(SetMuted)[1].muted is True


async def test_push_to_talk_is_press_to_start_press_again_to_send(
    app: HarkApp, bus: EventBus
) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await pilot.press("f5")
        await wait_until(pilot, lambda: log.of(PushToTalk), "PTT down")
        assert "talking" in label(app, "voice-note")
        await pilot.press("f5")
        await wait_until(pilot, lambda: len(log.of(PushToTalk)) == 2, "PTT up")
        assert [c.pressed for c in log.of(PushToTalk)] == [True, False]
        assert label(app, "voice-note") == ""


async def test_f7_cycles_turn_taking_from_the_current_mode(app: HarkApp, bus: EventBus) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await bus.publish(TurnDetectionChanged(mode="semantic_vad"))
        await settle(pilot, bus)
        assert label(app, "voice-mode") == "turns: semantic VAD"
        await pilot.press("f7", "f7", "f7")
        await wait_until(pilot, lambda: len(log.of(SetTurnDetection)) == 3, "three switches")
        assert [c.mode for c in log.of(SetTurnDetection)] == [
            "client_vad",
            "push_to_talk",
            "server_vad",
        ]
        assert label(app, "voice-mode") == "turns: server VAD"


async def test_voice_off_is_explained_and_push_to_talk_says_why(
    app: HarkApp, bus: EventBus
) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        reason = "No microphone was found (PortAudio lists no input device)."
        await bus.publish(VoiceAvailability(available=False, reason=reason))
        await settle(pilot, bus)
        assert label(app, "voice-note") == f"Voice off: {reason} — type below."
        assert not app.screen.query_one("#voice-meter", Label).display
        assert any(reason in n for n in notifications(app))
        await pilot.press("f5")
        await settle(pilot, bus)
        assert log.of(PushToTalk) == []
        await bus.publish(VoiceAvailability(available=True, input_device="pulse"))
        await settle(pilot, bus)
        assert app.screen.query_one(VoiceBar).voice_off_reason is None
        assert app.screen.query_one("#voice-meter", Label).display


async def test_ctrl_space_is_push_to_talk_too(app: HarkApp, bus: EventBus) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await pilot.press("ctrl+space")
        await wait_until(pilot, lambda: log.of(PushToTalk), "PTT down")
        assert log.of(PushToTalk)[0].pressed is True
