"""Microphone audio crosses from the capture thread to the loop in order, batched when quiet."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import numpy.typing as npt

from src.services.mic_outbox import MicOutbox
from src.services.pcm_frames import FRAME_SAMPLES
from src.services.resampler import Resampler

Int16 = npt.NDArray[np.int16]


def frame(value: int) -> Int16:
    return np.full(FRAME_SAMPLES, value, dtype=np.int16)


class Sink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def send(self, chunk: bytes) -> None:
        self.chunks.append(chunk)


async def started(sink: Sink) -> tuple[MicOutbox, asyncio.Task[None]]:
    outbox = MicOutbox(sink.send)
    outbox.bind(asyncio.get_running_loop())
    return outbox, asyncio.create_task(outbox.run())


async def test_quiet_frames_go_in_100ms_batches_and_urgent_ones_at_once() -> None:
    sink = Sink()
    outbox, task = await started(sink)
    try:
        for _ in range(25):
            outbox.add(frame(0), urgent=False)
        await outbox.drain()  # hands over the last 50 ms too
        assert [len(c) for c in sink.chunks] == [4_800, 4_800, 2_400]
        outbox.add(frame(100), urgent=True)
        outbox.add(frame(100), urgent=True)
        await outbox.drain()
        assert [len(c) for c in sink.chunks][3:] == [480, 480]
        assert outbox.chunks_sent == 5
    finally:
        task.cancel()


async def test_frames_from_another_thread_arrive_in_order_and_drain_waits_for_them() -> None:
    sink = Sink()
    outbox, task = await started(sink)
    ramp = np.arange(FRAME_SAMPLES * 300, dtype=np.int16)
    frames = [ramp[i : i + FRAME_SAMPLES] for i in range(0, len(ramp), FRAME_SAMPLES)]

    def capture() -> None:
        for index, block in enumerate(frames):
            outbox.add(block, urgent=index % 7 == 0)

    try:
        worker = threading.Thread(target=capture)
        worker.start()
        await asyncio.to_thread(worker.join)
        await outbox.drain()
    finally:
        task.cancel()
    expected = Resampler(48_000, 24_000).process(ramp).tobytes()
    assert b"".join(sink.chunks) == expected  # same samples, same order, nothing lost


async def test_after_2_s_without_speech_silence_goes_in_500ms_batches_until_speech() -> None:
    sink = Sink()
    outbox, task = await started(sink)
    try:
        for _ in range(300):  # 3 s of silence
            outbox.add(frame(0), urgent=False)
        await outbox.drain()
        sizes = [len(c) for c in sink.chunks]
        # 100 ms batches until 2 s without speech; the batch gathering then grows to 500 ms,
        # and drain hands over the last 100 ms (sizes in 24 kHz PCM16 bytes).
        assert sizes == [4_800] * 19 + [24_000] * 2 + [4_800]
        # Speech goes at once and brings back the short batches for the 2 s after it.
        for _ in range(30):
            outbox.add(frame(0), urgent=False)  # held: under 500 ms
        outbox.add(frame(100), urgent=True)
        await outbox.drain()
        assert [len(c) for c in sink.chunks][22:] == [31 * 480]
        for _ in range(10):
            outbox.add(frame(0), urgent=False)
        await outbox.drain()
        assert [len(c) for c in sink.chunks][23:] == [4_800]
    finally:
        task.cancel()
