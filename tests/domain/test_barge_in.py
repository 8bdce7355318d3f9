"""Barge-in: pause at once, confirm real turns, resume after backchannels and coughs."""

from __future__ import annotations

import pytest

from src.domain.barge_in import BargeInAction, BargeInDetector, BargeInSettings

A = BargeInAction


def run(detector: BargeInDetector, pattern: str, audible: bool = True) -> list[tuple[int, A]]:
    """Feed a frame pattern ('s' speech, '.' silence); return (frame index, action) pairs.

    As in the app, the assistant falls silent (playback flushed) once an interruption is real.
    """
    out = []
    for i, ch in enumerate(pattern):
        action = detector.on_frame(ch == "s", audible)
        if action is not None:
            out.append((i, action))
            if action is A.INTERRUPT:
                audible = False
    return out


def test_real_interruption_pauses_within_the_onset_then_interrupts() -> None:
    detector = BargeInDetector(BargeInSettings(onset_ms=40, confirm_ms=450, release_ms=300))
    actions = run(detector, "s" * 60)
    assert actions == [(3, A.PAUSE), (44, A.INTERRUPT)]


def test_a_backchannel_pauses_then_resumes() -> None:
    detector = BargeInDetector(BargeInSettings(onset_ms=40, confirm_ms=450, release_ms=300))
    # "mhm": 200 ms of speech then silence.
    actions = run(detector, "s" * 20 + "." * 40)
    assert actions == [(3, A.PAUSE), (49, A.RESUME)]
    assert not detector.paused


def test_a_cough_shorter_than_the_onset_changes_nothing() -> None:
    detector = BargeInDetector()
    assert run(detector, "ss.." * 20) == []


def test_speech_while_the_assistant_is_silent_is_normal_turn_taking() -> None:
    detector = BargeInDetector()
    assert run(detector, "s" * 100, audible=False) == []


def test_pauses_in_real_speech_do_not_release_it() -> None:
    detector = BargeInDetector(BargeInSettings(onset_ms=40, confirm_ms=450, release_ms=300))
    # Words with short gaps (150 ms) between them add up to a real interruption.
    pattern = ("s" * 15 + "." * 15) * 6
    actions = run(detector, pattern)
    assert [a for _, a in actions] == [A.PAUSE, A.INTERRUPT]


def test_after_a_decision_the_detector_watches_again() -> None:
    detector = BargeInDetector(BargeInSettings(onset_ms=20, confirm_ms=100, release_ms=50))
    first = run(detector, "s" * 12)
    # The interrupting speech is the user's turn: it must pause before the detector re-arms.
    assert run(detector, "s" * 30) == []
    second = run(detector, "." + "s" * 4 + "." * 6)
    assert [a for _, a in first] == [A.PAUSE, A.INTERRUPT]
    assert [a for _, a in second] == [A.PAUSE, A.RESUME]


@pytest.mark.parametrize(
    "kwargs", [{"onset_ms": 0}, {"onset_ms": 500, "confirm_ms": 100}, {"release_ms": 0}]
)
def test_bad_settings_are_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        BargeInSettings(**kwargs)
