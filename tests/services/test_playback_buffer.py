"""The playback jitter buffer: what the speaker gets, what each item played, barge-in flush.

Most tests use a 48 kHz source (the resampler then passes samples through untouched) so that
sample counts are exact; one checks the real 24 kHz -> 48 kHz path end to end.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from src.services.playback_buffer import PlaybackBuffer
from src.services.resampler import array_to_pcm16
from tests.fakes.fake_audio import FakeAudioOutput

RATE = 48_000
MS = RATE // 1000


def ramp(ms: int, start: int = 1) -> np.ndarray:
    """Distinct non-zero samples, so any lost, doubled or reordered sample shows."""
    return ((np.arange(ms * MS) + start) % 30_000 + 1).astype(np.int16)


def exact_buffer(prebuffer_ms: int = 0) -> PlaybackBuffer:
    return PlaybackBuffer(source_rate=RATE, prebuffer_ms=prebuffer_ms)


def test_audio_comes_out_in_order_and_then_silence() -> None:
    buffer = exact_buffer()
    a, b = ramp(30), ramp(20, start=5000)
    buffer.push("item_a", array_to_pcm16(a))
    buffer.push("item_a", array_to_pcm16(b))
    buffer.end_item("item_a")
    out = buffer.read(60 * MS)
    assert np.array_equal(out[: 50 * MS], np.concatenate([a, b]))
    assert not out[50 * MS :].any()
    assert buffer.underruns == 0


def test_played_ms_counts_what_each_item_handed_to_the_device() -> None:
    buffer = exact_buffer()
    buffer.push_samples("a", ramp(200))
    buffer.end_item("a")
    buffer.push_samples("b", ramp(300))
    buffer.end_item("b")
    buffer.push_samples("c", ramp(100))

    buffer.read(120 * MS)
    assert (buffer.played_ms("a"), buffer.played_ms("b")) == (120, 0)
    assert buffer.current_item == "a"
    buffer.read(150 * MS)
    assert (buffer.played_ms("a"), buffer.played_ms("b")) == (200, 70)
    assert buffer.current_item == "b"
    buffer.read(330 * MS)
    assert (buffer.played_ms("b"), buffer.played_ms("c")) == (300, 100)
    assert buffer.underruns == 0
    assert buffer.played_ms("unknown") == 0


async def test_items_from_24khz_deltas_play_at_48khz_in_full() -> None:
    buffer = PlaybackBuffer(prebuffer_ms=0)  # the Realtime rate, 24 kHz in
    speaker = FakeAudioOutput()
    for item, ms in (("a", 200), ("b", 140)):
        delta = np.full(480, 1000, dtype=np.int16)  # 20 ms at 24 kHz = 960 bytes
        for _ in range(ms // 20):
            buffer.push(item, array_to_pcm16(delta))
        buffer.end_item(item)

    await speaker.start(buffer.read)
    speaker.play(400)
    assert buffer.played_ms("a") == 200
    assert buffer.played_ms("b") == 140
    assert buffer.current_item is None
    assert not buffer.is_playing
    assert buffer.underruns == 0


def test_prebuffer_holds_back_until_enough_audio_is_queued() -> None:
    buffer = exact_buffer(prebuffer_ms=60)
    buffer.push_samples("a", ramp(40))
    assert not buffer.read(10 * MS).any()
    assert not buffer.is_playing
    assert buffer.underruns == 0  # waiting for the prebuffer is not an underrun
    buffer.push_samples("a", ramp(40, start=40 * MS + 1))
    out = buffer.read(10 * MS)
    assert np.array_equal(out, ramp(10))
    assert buffer.is_playing


def test_a_finished_item_shorter_than_the_prebuffer_plays_at_once() -> None:
    buffer = exact_buffer(prebuffer_ms=60)
    buffer.push_samples("mhm", ramp(30))
    buffer.end_item("mhm")
    assert np.array_equal(buffer.read(30 * MS), ramp(30))


def test_underrun_fills_silence_counts_it_and_rebuffers() -> None:
    buffer = exact_buffer(prebuffer_ms=20)
    buffer.push_samples("a", ramp(30))
    out = buffer.read(50 * MS)
    assert np.array_equal(out[: 30 * MS], ramp(30))
    assert not out[30 * MS :].any()
    assert (buffer.underruns, buffer.underrun_samples) == (1, 20 * MS)
    assert buffer.current_item == "a"  # still mid-item, only starved
    buffer.push_samples("a", ramp(10, start=9))
    assert not buffer.read(10 * MS).any()  # below the prebuffer again: wait, not stutter
    assert buffer.underruns == 1
    buffer.push_samples("a", ramp(20, start=9))
    assert buffer.read(10 * MS).any()


def test_flush_drops_everything_at_once_and_reports_what_was_heard() -> None:
    buffer = exact_buffer()
    buffer.push_samples("a", ramp(500))
    buffer.push_samples("b", ramp(100))
    buffer.read(120 * MS)

    result = buffer.flush()

    assert result.item_id == "a"
    assert result.played_ms == 120
    assert result.dropped_ms == {"a": 380, "b": 100}
    assert result.total_dropped_ms == 480
    assert not buffer.is_playing
    assert buffer.current_item is None
    assert buffer.queued_ms == 0
    assert not buffer.read(50 * MS).any()
    assert buffer.played_ms("a") == 120


def test_audio_arriving_late_for_a_flushed_item_is_never_played() -> None:
    buffer = exact_buffer()
    buffer.push_samples("a", ramp(100))
    buffer.read(10 * MS)
    buffer.flush()
    buffer.push_samples("a", ramp(50))  # the server had not seen the cancel yet
    assert not buffer.read(50 * MS).any()
    assert buffer.late_samples_dropped == 50 * MS
    buffer.push_samples("next", ramp(20))
    buffer.end_item("next")
    assert np.array_equal(buffer.read(20 * MS), ramp(20))


def test_flush_before_anything_played_names_the_queued_item() -> None:
    buffer = exact_buffer(prebuffer_ms=60)
    buffer.push_samples("a", ramp(30))
    result = buffer.flush()
    assert (result.item_id, result.played_ms, result.dropped_ms) == ("a", 0, {"a": 30})
    empty = exact_buffer().flush()
    assert (empty.item_id, empty.played_ms, empty.dropped_ms) == (None, 0, {})


def test_listeners_see_exactly_what_went_to_the_device() -> None:
    buffer = exact_buffer()
    seen: list[np.ndarray] = []
    remove = buffer.add_played_listener(lambda block: seen.append(block.copy()))
    buffer.push_samples("a", ramp(15))
    buffer.end_item("a")
    handed = [buffer.read(10 * MS) for _ in range(3)]
    assert len(seen) == 3
    assert all(np.array_equal(s, h) for s, h in zip(seen, handed, strict=True))
    remove()
    buffer.read(10 * MS)
    assert len(seen) == 3


def test_a_failing_listener_is_dropped_and_playback_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    buffer = exact_buffer()

    def broken(block: np.ndarray) -> None:
        raise RuntimeError("echo canceller fell over")

    buffer.add_played_listener(broken)
    buffer.push_samples("a", ramp(20))
    buffer.end_item("a")
    assert np.array_equal(buffer.read(10 * MS), ramp(10))
    assert np.array_equal(buffer.read(10 * MS), ramp(20)[10 * MS :])
    assert "listener" in caplog.text


def test_pushes_and_reads_on_two_threads_lose_and_duplicate_nothing() -> None:
    buffer = exact_buffer(prebuffer_ms=20)
    deltas = [ramp(20, start=i * 20 * MS) for i in range(150)]
    expected = np.concatenate(deltas)
    collected: list[np.ndarray] = []
    done = threading.Event()

    def produce() -> None:
        for delta in deltas:
            buffer.push_samples("a", delta)
        buffer.end_item("a")

    def consume() -> None:
        while buffer.played_samples("a") < len(expected) and not done.is_set():
            collected.append(buffer.read(10 * MS))
            os.sched_yield()
        done.set()

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for thread in threads:
        thread.start()
    finished = done.wait(timeout=60)
    done.set()
    for thread in threads:
        thread.join(timeout=60)
    assert finished
    played = np.concatenate(collected)
    assert np.array_equal(played[played != 0], expected)


def test_negative_prebuffer_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        PlaybackBuffer(prebuffer_ms=-1)
