"""The echo canceller sleeps while the speaker is quiet, without losing its frame pairing."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from src.services.echo_canceller import (
    EchoCanceller,
    QuietSpeakerBypass,
    make_echo_canceller,
)
from src.services.pcm_frames import FRAME_SAMPLES, FrameSizeError

Int16 = npt.NDArray[np.int16]
SILENT = np.zeros(FRAME_SAMPLES, dtype=np.int16)
AUDIBLE = np.full(FRAME_SAMPLES, 1000, dtype=np.int16)


class CountingCanceller(EchoCanceller):
    """Halves the capture (so processed frames are told from passed-through ones) and counts
    the frames it is given on each side."""

    name = "counting"

    def __init__(self) -> None:
        self.renders = 0
        self.captures = 0

    def process_render(self, frame48k: Int16) -> None:
        self.renders += 1

    def process_capture(self, frame48k: Int16) -> Int16:
        self.captures += 1
        return (frame48k // 2).astype(np.int16)

    def set_delay_ms(self, delay_ms: int) -> None:
        return None


def lock_step(bypass: QuietSpeakerBypass, played: Int16, heard: Int16) -> Int16:
    bypass.process_render(played)
    return bypass.process_capture(heard)


def test_after_a_quiet_second_both_sides_are_skipped_frame_for_frame() -> None:
    inner = CountingCanceller()
    bypass = QuietSpeakerBypass(inner, quiet_ms=1_000)
    for _ in range(100):  # the first second of silence is still fed (start-up state)
        lock_step(bypass, SILENT, AUDIBLE)
    assert bypass.asleep and (inner.renders, inner.captures) == (100, 100)
    for _ in range(500):
        heard = lock_step(bypass, SILENT, AUDIBLE)
        assert np.array_equal(heard, AUDIBLE)  # passed through untouched
    assert (inner.renders, inner.captures) == (100, 100)
    assert bypass.render_skipped == bypass.capture_skipped == 500


def test_the_first_audible_frame_wakes_it_at_once() -> None:
    inner = CountingCanceller()
    bypass = QuietSpeakerBypass(inner, quiet_ms=100)
    for _ in range(30):
        lock_step(bypass, SILENT, AUDIBLE)
    assert bypass.asleep
    heard = lock_step(bypass, AUDIBLE, AUDIBLE)
    assert not bypass.asleep
    assert np.array_equal(heard, AUDIBLE // 2)  # cancelled, not passed through
    assert inner.renders == inner.captures == 11


def test_capture_skips_follow_render_skips_when_the_threads_jitter() -> None:
    """The two sound-card threads do not alternate exactly: the count stays paired."""
    inner = CountingCanceller()
    bypass = QuietSpeakerBypass(inner, quiet_ms=100)
    for _ in range(10):
        lock_step(bypass, SILENT, AUDIBLE)
    for _ in range(3):  # the speaker's thread runs three blocks ahead
        bypass.process_render(SILENT)
    for _ in range(3):
        assert np.array_equal(bypass.process_capture(AUDIBLE), AUDIBLE)
    assert bypass.render_skipped == bypass.capture_skipped == 3
    assert bypass.process_capture(AUDIBLE) is not None  # no debt left: processed
    assert inner.captures == 11 and inner.renders == 10


def test_the_capture_debt_is_capped() -> None:
    inner = CountingCanceller()
    bypass = QuietSpeakerBypass(inner, quiet_ms=100)
    for _ in range(10):
        lock_step(bypass, SILENT, AUDIBLE)
    for _ in range(500):  # the microphone stopped while the speaker ran on
        bypass.process_render(SILENT)
    passed = 0
    while np.array_equal(bypass.process_capture(AUDIBLE), AUDIBLE):
        passed += 1
    assert passed == QuietSpeakerBypass.MAX_OWED_FRAMES


def test_the_livekit_canceller_is_built_with_the_bypass_and_still_checks_frames() -> None:
    canceller = make_echo_canceller("livekit")
    assert isinstance(canceller, QuietSpeakerBypass) and canceller.name == "livekit"
    with pytest.raises(FrameSizeError):
        canceller.process_render(np.zeros(960, dtype=np.int16))
    with pytest.raises(ValueError, match="quiet_ms"):
        QuietSpeakerBypass(CountingCanceller(), quiet_ms=5)
