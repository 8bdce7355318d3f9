"""Latency Hark's own audio code adds, on the play path and the capture path.

Play path: the time from ``PlaybackBuffer.push()`` of a 20 ms Realtime delta until its first
sample is handed to the device callback. A fake speaker pulls 10 ms at a real-time pace on
its own thread while the "network" pushes deltas at real-time pace on another. Reported with
no prebuffer (what the code adds) and with the default 60 ms prebuffer (what a listener
hears, jitter protection included), against a bare deque of ready 48 kHz blocks as the
baseline (the device's 10 ms pull granularity alone). Also the time to first sound when a
whole reply arrives in one burst, as the server sends it.

Capture path: the cost from a microphone block in the PortAudio callback to resampled 24 kHz
PCM16 bytes in the Realtime client's ``send_audio``: copy, resample and to bytes on the
callback thread (``MicOutbox``, speech is sent at once), hop onto the event loop, the
outbox's sender task. Baselines: a bare copy plus a bare ``soxr`` call, and the same work
without the loop hop.
Plus how long soxr holds samples back before releasing them (its buffering, per quality).

Waking the speaker: after a long silence Hark's speaker stream rests (no callbacks); the first
audio of the next reply restarts it. Where a PulseAudio server can be started, the time from
``wake()`` to the first pull of the real stream is measured against the same stream's
regular 10 ms pull cadence.

Figures only; nothing here asserts on time. Run from the repository root:
    python bench/audio_latency.py
"""

from __future__ import annotations

import asyncio
import collections
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.services.mic_outbox import MicOutbox
from src.services.playback_buffer import PlaybackBuffer
from src.services.resampler import Quality, Resampler, array_to_pcm16
from tests.fakes.fake_audio import FakeAudioOutput

Int16 = npt.NDArray[np.int16]

DELTA_MS = 20
DELTAS = 75  # 1.5 s of reply per run
SOURCE_DELTA = 480  # 20 ms at 24 kHz
DEVICE_BLOCK_MS = 10


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return p50, p95


def paced(period_s: float, count: int, work: Callable[[int], None]) -> None:
    """Call ``work(i)`` every ``period_s`` seconds on the calling thread (deadline-based)."""
    start = time.perf_counter()
    for i in range(count):
        delay = start + i * period_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        work(i)


# ------------------------------------------------------------------------ play path


def tone_deltas() -> list[bytes]:
    t = np.arange(DELTAS * SOURCE_DELTA) / 24_000
    # never exactly zero, so "first non-silent sample" is unambiguous
    tone = (np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16) | 1
    return [array_to_pcm16(tone[i : i + SOURCE_DELTA]) for i in range(0, len(tone), SOURCE_DELTA)]


def measure_buffer(prebuffer_ms: int) -> list[float]:
    """Per delta: seconds from push until its first sample left ``read``."""
    buffer = PlaybackBuffer(prebuffer_ms=prebuffer_ms)
    speaker = FakeAudioOutput(block_ms=DEVICE_BLOCK_MS)
    asyncio.run(speaker.start(buffer.read))
    deltas = tone_deltas()
    pushed_at: list[float] = [0.0] * len(deltas)
    first_out: list[float | None] = [None] * len(deltas)
    per_delta_out = SOURCE_DELTA * 2  # 48 kHz samples per delta

    def push(i: int) -> None:
        pushed_at[i] = time.perf_counter()
        buffer.push("reply", deltas[i])
        if i == len(deltas) - 1:
            buffer.end_item("reply")

    def pull(_: int) -> None:
        speaker.play(DEVICE_BLOCK_MS)
        now = time.perf_counter()
        played = buffer.played_samples("reply")
        for k in range(min(len(deltas), played // per_delta_out + 1)):
            if first_out[k] is None and k * per_delta_out < played:
                first_out[k] = now

    pulls = (DELTAS * DELTA_MS + prebuffer_ms + 300) // DEVICE_BLOCK_MS
    consumer = threading.Thread(target=paced, args=(DEVICE_BLOCK_MS / 1000, pulls, pull))
    consumer.start()
    paced(DELTA_MS / 1000, len(deltas), push)
    consumer.join()
    return [out - at for out, at in zip(first_out, pushed_at, strict=True) if out is not None]


def measure_bare_queue() -> list[float]:
    """Baseline: ready-made 48 kHz blocks in a deque, no resampling, no accounting."""
    queue: collections.deque[tuple[float, Int16]] = collections.deque()
    lock = threading.Lock()
    latencies: list[float] = []
    pending: Int16 = np.zeros(0, dtype=np.int16)
    block = np.ones(SOURCE_DELTA * 2, dtype=np.int16)

    def push(_: int) -> None:
        with lock:
            queue.append((time.perf_counter(), block))

    def pull(_: int) -> None:
        nonlocal pending
        need = 48 * DEVICE_BLOCK_MS
        with lock:
            while pending.shape[0] < need and queue:
                at, data = queue.popleft()
                latencies.append(time.perf_counter() - at)
                pending = np.concatenate((pending, data))
        pending = pending[need:]

    pulls = (DELTAS * DELTA_MS + 300) // DEVICE_BLOCK_MS
    consumer = threading.Thread(target=paced, args=(DEVICE_BLOCK_MS / 1000, pulls, pull))
    consumer.start()
    paced(DELTA_MS / 1000, DELTAS, push)
    consumer.join()
    return latencies


def time_to_first_sound(prebuffer_ms: int) -> float:
    """A reply arrives in one burst: work (seconds) from the first push until a device read
    returns sound, with the device asking after every delta, as a running stream would."""
    buffer = PlaybackBuffer(prebuffer_ms=prebuffer_ms)
    started = time.perf_counter()
    for delta in tone_deltas():
        buffer.push("reply", delta)
        if buffer.read(48 * DEVICE_BLOCK_MS).any():
            break
    return time.perf_counter() - started


# --------------------------------------------------------------------- capture path


def capture_blocks(count: int) -> list[Int16]:
    rng = np.random.default_rng(7)
    return [rng.integers(-8000, 8000, size=(480, 1), dtype=np.int16) for _ in range(count)]


def cost_per_block(work: Callable[[Int16], object], blocks: list[Int16]) -> list[float]:
    costs = []
    for indata in blocks:
        start = time.perf_counter()
        work(indata)
        costs.append(time.perf_counter() - start)
    return costs


def measure_capture_hop(blocks: list[Int16]) -> list[float]:
    """Hark's capture hand-off for speech: on the callback thread, copy the block and give
    it to the ``MicOutbox`` as urgent (it resamples and hops to the loop at once); until the
    outbox's sender on the loop hands the bytes to the Realtime client's ``send_audio``."""
    latencies: list[float] = []

    async def run() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        stamps: collections.deque[float] = collections.deque()

        async def send(chunk: bytes) -> None:
            latencies.append(time.perf_counter() - stamps.popleft())
            if len(latencies) == len(blocks):
                done.set()

        outbox = MicOutbox(send)
        outbox.bind(loop)
        sender = asyncio.create_task(outbox.run())

        def callback(i: int) -> None:
            stamps.append(time.perf_counter())
            outbox.add(blocks[i][:, 0].copy(), urgent=True)

        thread = threading.Thread(target=paced, args=(0.01, len(blocks), callback))
        thread.start()
        await done.wait()
        thread.join()
        sender.cancel()

    asyncio.run(run())
    return latencies


def holdback_ms(quality: Quality, in_rate: int, out_rate: int) -> float:
    """How long soxr keeps a sample before releasing it, fed 10 ms blocks."""
    resampler = Resampler(in_rate, out_rate, quality=quality)
    block = in_rate // 100
    impulse = np.zeros(block * 20, dtype=np.int16)
    impulse[0] = 20_000
    for i in range(20):
        out = resampler.process(impulse[i * block : (i + 1) * block])
        if out.shape[0] and np.abs(out).max() > 1000:
            return (i + 1) * 10.0
    return float("nan")


def measure_wake(runs: int = 15) -> list[float] | None:
    """Seconds from ``SoundDeviceOutput.wake()`` to its first pull, on a private PulseAudio
    server; None where none can be started."""
    import os
    import tempfile

    from src.services import audio_devices
    from src.services.audio_io import SoundDeviceOutput
    from tests.fakes.pulse import PulseServer, pulse_available

    if pulse_available():
        return None

    async def run(address: str) -> list[float]:
        os.environ["PULSE_SERVER"] = address
        audio_devices.refresh()
        loop = asyncio.get_running_loop()
        pulled = asyncio.Event()

        def pull(n: int) -> Int16:
            loop.call_soon_threadsafe(pulled.set)
            return np.zeros(n, dtype=np.int16)

        speaker = SoundDeviceOutput(stall_timeout=None)
        await speaker.start(pull)
        await pulled.wait()
        waits: list[float] = []
        for _ in range(runs):
            await speaker.rest()
            await asyncio.sleep(0.2)  # resting: the window the bench opens on purpose
            pulled.clear()
            start = time.perf_counter()
            await speaker.wake()
            await pulled.wait()
            waits.append(time.perf_counter() - start)
        await speaker.stop()
        return waits

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pulse"
        folder.mkdir()
        pulse = PulseServer(folder)
        pulse.start()
        try:
            return asyncio.run(run(pulse.address))
        finally:
            pulse.stop()


def main() -> None:
    print("Play path: push() of a 20 ms delta -> its first sample handed to the device")
    print("  (network and device both at real-time pace; device pulls 10 ms blocks)")
    baseline = percentiles(measure_bare_queue())
    print(
        f"  bare deque baseline                 p50 {baseline[0] * 1e3:6.1f} ms"
        f"  p95 {baseline[1] * 1e3:6.1f} ms"
    )
    for label, prebuffer in (("no prebuffer (code)", 0), ("60 ms prebuffer", 60)):
        p50, p95 = percentiles(measure_buffer(prebuffer))
        print(
            f"  PlaybackBuffer, {label:<19} p50 {p50 * 1e3:6.1f} ms  p95 {p95 * 1e3:6.1f} ms"
            f"   x{p50 / baseline[0]:.2f} baseline p50"
        )
    print(
        "  (24k->48k goes through the half-band filter, 0.5 ms of delay; the 60 ms prebuffer is"
        "\n   the jitter buffer, spent only when deltas trickle in at real-time pace)"
    )
    time_to_first_sound(0)  # warm-up: first-call costs of numpy and soxr
    for prebuffer in (0, 60):
        first = time_to_first_sound(prebuffer)
        print(
            f"  reply in one burst, prebuffer {prebuffer:>2} ms: first sound after "
            f"{first * 1e3:.2f} ms of work (then the device's next pull)"
        )

    print("\nCapture path: mic block (480 samples, 48 kHz) -> 24 kHz PCM16 bytes in send_audio")
    blocks = capture_blocks(400)
    ours = Resampler(48_000, 24_000)
    bare = soxr.ResampleStream(48_000, 24_000, 1, dtype="int16", quality="HQ")
    cost_ours = cost_per_block(
        lambda indata: array_to_pcm16(ours.process(indata[:, 0].copy())), blocks
    )
    cost_bare = cost_per_block(
        lambda indata: bare.resample_chunk(indata[:, 0].copy()).tobytes(), blocks
    )
    cost_copy = cost_per_block(lambda indata: indata[:, 0].copy(), blocks)
    for label, costs in (
        ("bare copy", cost_copy),
        ("bare copy + soxr", cost_bare),
        ("copy + Resampler + bytes", cost_ours),
    ):
        p50, p95 = percentiles(costs)
        print(f"  {label:<26} p50 {p50 * 1e6:7.1f} us  p95 {p95 * 1e6:7.1f} us")
    print(
        f"  Resampler vs bare soxr: x{percentiles(cost_ours)[0] / percentiles(cost_bare)[0]:.2f}"
        " (p50)"
    )
    hop = percentiles(measure_capture_hop(blocks[:150]))
    print(
        f"  MicOutbox, hop to the loop, sender p50 {hop[0] * 1e6:7.1f} us  p95 {hop[1] * 1e6:7.1f}"
        f" us   x{hop[0] / percentiles(cost_ours)[0]:.1f} the same work without the hop"
    )
    waits = measure_wake()
    if waits is None:
        print("\nWaking the speaker: no PulseAudio server could be started here; not measured")
    else:
        p50, p95 = percentiles(waits)
        ratio = p50 * 1e3 / DEVICE_BLOCK_MS
        print(
            "\nWaking a resting speaker (real stream, PulseAudio): wake() -> first pull"
            f"\n  p50 {p50 * 1e3:5.2f} ms  p95 {p95 * 1e3:5.2f} ms   x{ratio:.2f}"
            " of the 10 ms pull cadence an awake speaker waits at most"
        )
    print("\nsoxr buffering (a sample's wait before soxr releases it, 10 ms blocks in):")
    for quality in ("LQ", "MQ", "HQ"):
        down = holdback_ms(quality, 48_000, 24_000)
        up = holdback_ms(quality, 24_000, 48_000)
        print(f"  {quality}: 48k->24k {down:4.0f} ms   24k->48k {up:4.0f} ms")


if __name__ == "__main__":
    main()
