"""Barge-in time: from speech onset in the microphone signal to silence on the speaker.

Runs the real voice loop (``VoiceSession`` with the playback buffer, barge-in policy and a
Realtime client against the local scripted server, and the echo canceller as Hark builds it)
on fake devices, so time is counted in audio. Hark first listens to 2 s of silence (its
echo canceller falls asleep), then the assistant talks; the user starts speaking at a
random point inside a 10 ms block while the assistant is talking, and the bench counts the
milliseconds of microphone audio until the speaker's next block is silent. It also prints
the wall-clock cost of handling one microphone frame, and as a baseline the same loop with
barge-in impossible (the assistant silent). Target: 150 ms.

    python bench/barge_in.py [trials]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from src.services.echo_canceller import LiveKitEchoCanceller, make_echo_canceller
from src.services.vad import WebRtcVad
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.fakes.speech import speak
from tests.fakes.voice_rig import voice_session

RATE = 48_000
BLOCK = 480
SELF_HEARD: list[int] = []  # per trial: barge-in actions caused by the assistant's own echo


class Leak:
    """The speaker-to-microphone path of a laptop: a delay and an attenuation."""

    def __init__(self, delay_ms: int, gain: float) -> None:
        self._line = np.zeros(delay_ms * RATE // 1000, dtype=np.int16)
        self._gain = gain

    def through(self, block: np.ndarray) -> np.ndarray:
        joined = np.concatenate([self._line, block])
        out, self._line = joined[: len(block)], joined[len(block) :]
        return (out * self._gain).astype(np.int16)


def resample_to_24k(samples: np.ndarray) -> bytes:
    import soxr

    return np.asarray(soxr.resample(samples, RATE, 24_000), dtype="<i2").tobytes()


async def trial(
    server: ScriptedOpenAIServer, speech: np.ndarray, assistant: np.ndarray, rng: random.Random
) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        async with voice_session(
            server,
            Path(tmp),
            make_echo_canceller("livekit"),  # as Hark runs it: asleep while the speaker is quiet
            WebRtcVad(),
            key="sk-bench",
        ) as parts:
            playback, speaker, mic = parts.playback, parts.speaker, parts.mic
            session = parts.session
            await parts.realtime.wait_until_connected()
            # Hark listens in silence for 2 s first (the echo canceller falls asleep after 1 s
            # of a quiet speaker), then the assistant talks; its voice leaks back into the
            # microphone (laptop speakers, 30 ms acoustic delay, -10 dB) while the echo
            # canceller wakes and converges for 2 s.
            leak = Leak(delay_ms=30, gain=0.3)
            for _ in range(200):
                mic.extend(leak.through(speaker.play(10)))
                mic.feed(1)
            playback.push("item_bench", resample_to_24k(assistant))
            playback.end_item("item_bench")
            for _ in range(200):
                mic.extend(leak.through(speaker.play(10)))
                mic.feed(1)
            # Nobody spoke yet: any pause or interruption so far was Hark hearing itself.
            SELF_HEARD.append(session.interruptions + session.false_interruptions)
            # The user starts speaking at a random sample inside a block, over the echo.
            offset = rng.randrange(BLOCK)
            user = np.concatenate([np.zeros(offset, dtype=np.int16), speech])
            elapsed_samples = -offset
            position = 0
            while True:
                block = speaker.play(10)
                if np.abs(block).max() == 0:
                    break
                near = user[position : position + BLOCK]
                near = np.pad(near, (0, BLOCK - len(near)))
                position += BLOCK
                mixed = np.clip(leak.through(block).astype(np.int32) + near, -32768, 32767)
                mic.extend(mixed.astype(np.int16))
                mic.feed(1)
                elapsed_samples += BLOCK
                if elapsed_samples > RATE:
                    raise RuntimeError("playback never went silent")
    return elapsed_samples * 1000 / RATE


def frame_cost(with_speech: bool) -> float:
    """Wall-clock microseconds to run one mic frame through echo canceller (awake) + VAD."""
    echo, vad = LiveKitEchoCanceller(), WebRtcVad()
    frame = (np.sin(np.arange(BLOCK) / 5) * (8000 if with_speech else 0)).astype(np.int16)
    far = (np.sin(np.arange(BLOCK) / 9) * 8000).astype(np.int16)
    start = time.perf_counter()
    for _ in range(2000):
        echo.process_render(far)
        vad.is_speech(echo.process_capture(frame))
    return (time.perf_counter() - start) / 2000 * 1e6


async def main(trials: int) -> None:
    rng = random.Random(7)
    speech = speak("wait, stop, that is not what I asked")
    first = int(np.argmax(np.abs(speech) > 1000))
    speech = speech[first:]  # onset at the first sample of the signal
    assistant = speak(
        "Here is the long answer you asked for, with many details about the weather "
        "and the week ahead, which goes on and on for quite a while.",
        voice="en-gb",
        pitch=30,
    )
    with ScriptedOpenAIServer() as server:
        times = [await trial(server, speech, assistant, rng) for _ in range(trials)]
    times.sort()
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"trials: {trials} (onset at a random sample inside a 10 ms block)")
    print(
        f"barge-in, speech onset to speaker silence: p50 {statistics.median(times):.0f} ms, "
        f"p95 {p95:.0f} ms, max {times[-1]:.0f} ms"
    )
    print(
        f"self-interruptions (pauses or cuts) from the assistant's own echo during the first "
        f"2 s of its speech, while the canceller converges: {sum(SELF_HEARD)} "
        f"in {len(SELF_HEARD)} trials"
    )
    busy, idle = frame_cost(True), frame_cost(False)
    print(
        f"cost per 10 ms mic frame (echo canceller + VAD): {busy:.1f} us speech, "
        f"{idle:.1f} us silence; ratio to real time {busy / 10_000:.4f}"
    )
    print(f"target 150 ms: {'met' if p95 <= 150 else 'NOT met'}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
