"""CPU and memory while Hark listens and nobody speaks.

Starts a private PulseAudio server with virtual devices, then runs the real voice loop
(``main.build_core`` + ``main.build_voice``: sound-device streams, echo canceller, VAD,
Realtime client streaming the microphone to a local scripted server) for a while in silence.
CPU is read per thread from /proc so the scripted server's own thread is left out, and
printed per kind of thread too (event loop, PortAudio callbacks, PulseAudio client threads).
The baseline, measured in the same run, is bare ``sounddevice`` input and output streams
(10 ms blocks, latency "low") doing nothing: what any app pays to keep a microphone and a
speaker open here. Hark is measured once it has settled into idle listening: its speaker
stream rests after ``REST_AFTER_MS`` of silence, and its microphone delivers 20 ms blocks
(``audio.input_block_ms``). Target: under 3 % of one core.

    python bench/idle_listening.py [seconds]
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from main import build_core, build_voice
from src.config.settings import load_settings
from src.services import audio_devices
from src.services.voice_session import REST_AFTER_MS
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.fakes.pulse import PulseServer, pulse_available

TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_S = 3.0
"""Settling time of the bare streams (a fresh stream pair sometimes spins for about 2 s)."""
HARK_SETTLE_S = max(SETTLE_S, REST_AFTER_MS / 1000 + 1.0)
"""Hark's: past the settling of its streams and the rest of its speaker."""


def thread_times(exclude: set[int]) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by each of this process's threads (native id -> (kind, s)),
    except the excluded native ids."""
    names = {t.native_id: t.name for t in threading.enumerate() if t.native_id}
    loop_thread = threading.main_thread().native_id
    times: dict[int, tuple[str, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        tid = int(task.name)
        if tid in exclude:
            continue
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue
        if tid == loop_thread:
            kind = "event loop"
        elif tid in names:
            kind = f"python thread {names[tid]!r}"
        elif comm == "threaded-ml":
            kind = "PulseAudio client (threaded-ml)"
        else:
            kind = "PortAudio callback"
        times[tid] = (kind, (int(fields[11]) + int(fields[12])) / TICKS)  # utime + stime
    return times


def server_threads() -> set[int]:
    threads = threading.enumerate()
    return {t.native_id for t in threads if t.native_id and "openai" in t.name.lower()}


async def measure(seconds: float) -> tuple[float, float, dict[str, float]]:
    """Percent of one core: all of this process's threads but the fake server's, the
    event-loop thread alone (Hark's own processing on the loop), and per kind of thread."""
    exclude = server_threads()
    before, wall0 = thread_times(exclude), time.monotonic()
    await asyncio.sleep(seconds)  # the benchmark's measuring window, not a test wait
    wall = time.monotonic() - wall0
    after = thread_times(exclude)
    kinds: dict[str, float] = {}
    for tid, (kind, cpu) in after.items():
        used = (cpu - before.get(tid, (kind, 0.0))[1]) / wall * 100
        kinds[kind] = kinds.get(kind, 0.0) + used
    return sum(kinds.values()), kinds.get("event loop", 0.0), kinds


async def bare_streams(seconds: float) -> tuple[float, float, dict[str, float]]:
    sd = audio_devices.load_sounddevice()

    def quiet(outdata: object, *args: object) -> None:
        outdata[:] = 0  # type: ignore[index]

    with (
        sd.InputStream(
            samplerate=48_000,
            channels=1,
            dtype="int16",
            blocksize=480,
            latency="low",
            callback=lambda *a: None,
        ),
        sd.OutputStream(
            samplerate=48_000,
            channels=1,
            dtype="int16",
            blocksize=480,
            latency="low",
            callback=quiet,
        ),
    ):
        # A fresh pair of streams on the ALSA pulse plugin can spin a core for about two
        # seconds before it settles (seen here on either stream pair, opened first or not):
        # wait that out, so the figure is the steady idle cost, as for Hark below.
        await asyncio.sleep(SETTLE_S)
        return await measure(seconds)


async def hark_listening(
    seconds: float, home: Path
) -> tuple[tuple[float, float, dict[str, float]], int]:
    with ScriptedOpenAIServer() as server:
        os.environ["HARK_HOME"] = str(home)
        settings = load_settings(home / "none.toml", api={"base_url": server.base_url})
        core = build_core(settings, "sk-bench")
        await core.start()
        voice = build_voice(core)
        await voice.start()
        await asyncio.sleep(HARK_SETTLE_S)  # settle into idle listening before measuring
        percent = await measure(seconds)
        frames = voice.frames_in
        print(f"speaker stream resting during the window: {voice.speaker_resting}")
        await voice.close()
        await core.close()
    return percent, frames


async def main(seconds: float) -> None:
    reason = pulse_available()
    if reason:
        print(f"cannot run: {reason}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        pulse = PulseServer(Path(tmp) / "pulse")
        (Path(tmp) / "pulse").mkdir()
        pulse.start()
        os.environ["PULSE_SERVER"] = pulse.address
        audio_devices.refresh()
        try:
            baseline = await bare_streams(seconds)
            hark, frames = await hark_listening(seconds, Path(tmp) / "home")
        finally:
            pulse.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"window: {seconds:.0f} s of silence, {frames} microphone frames processed by Hark")
    print(
        f"bare sounddevice streams: {baseline[0]:5.2f} % of one core "
        f"(event-loop thread {baseline[1]:.2f} %)"
    )
    print(
        f"Hark idle listening:      {hark[0]:5.2f} % of one core "
        f"(ratio to bare streams {hark[0] / max(baseline[0], 0.01):.1f}x); "
        f"Hark's event-loop thread alone {hark[1]:.2f} %"
    )
    for label, kinds in (("bare streams", baseline[2]), ("Hark", hark[2])):
        parts = ", ".join(f"{kind} {used:.2f}" for kind, used in sorted(kinds.items()))
        print(f"  per thread, {label} (% of one core): {parts}")
    print(f"peak resident memory of the process: {rss_mb:.0f} MB")
    print(f"target under 3 % of one core (whole process): {'met' if hark[0] < 3.0 else 'NOT met'}")


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0))
