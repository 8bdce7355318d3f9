"""Echo reduction (ERLE), cost per frame, and self-interruptions on a simulated laptop.

The assistant's reply (espeak-ng speech) is the far-end signal: what goes to the speaker. The
microphone hears it through a laptop echo path (bulk delay, attenuation, a short filtered room
response; one path also distorts in the small speaker, which no linear canceller can model),
plus a quiet room noise floor. Each canceller processes render and capture frames in lock step.

- ERLE: how much quieter the echo is after the canceller, over frames where the assistant
  speaks, after the first 2 s of adaptation. NullEchoCanceller (headphones mode) is the 0 dB
  reference.
- "+NS" also turns on the module's noise suppression, which removes more of the residual echo
  but also reshapes the user's voice before it reaches the VAD and the server.
- Self-interruptions: the cleaned microphone signal goes through a VAD and SpeechSegmenter as
  barge-in would; every "user started speaking" declared while only the assistant talks is the
  assistant interrupting itself. Target 0.

- Sleep and wake: Hark's canceller sleeps while the speaker has been quiet for a second
  (``QuietSpeakerBypass``). A reply with a 3 s pause, after 2 s of idle listening, checks
  that waking costs no echo reduction and no self-interruption against AEC3 always awake.
- Rest and wake: after a long silence the speaker stream itself rests and the canceller is
  fed nothing; the restarted stream may sit at another delay. ERLE and self-interruptions on
  the next reply, delay unchanged and 15 ms longer (the 2 s after a wake is also when
  barge-in asks for the near-end level check again).

Run from the repository root:  python bench/echo_reduction.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.services.echo_canceller import (
    EchoCanceller,
    LiveKitEchoCanceller,
    NullEchoCanceller,
    QuietSpeakerBypass,
)
from src.services.vad import (
    SegmenterConfig,
    SileroVad,
    SpeechEdge,
    SpeechSegmenter,
    VoiceActivityDetector,
    WebRtcVad,
)
from tests.fakes import speech

Int16 = npt.NDArray[np.int16]
Floats = npt.NDArray[np.float64]

CONVERGED_AFTER_FRAMES = 200
BARGE_IN = SegmenterConfig(min_speech_ms=150, min_silence_ms=300)


@dataclass(frozen=True)
class Scene:
    name: str
    path: speech.EchoPath
    speaker_distortion: bool = False


SCENES = (
    Scene("30 ms, -6 dB", speech.EchoPath(delay_ms=30, gain_db=-6)),
    Scene("45 ms, -10 dB", speech.EchoPath(delay_ms=45, gain_db=-10, seed=8)),
    Scene("60 ms, -14 dB", speech.EchoPath(delay_ms=60, gain_db=-14, seed=9)),
    Scene("40 ms, -6 dB, distorting", speech.EchoPath(delay_ms=40, gain_db=-6), True),
)


def assistant_reply() -> Int16:
    """About 15 s of the assistant talking, with the pauses a real reply has."""
    return speech.concat(
        speech.speak(
            "Here is the forecast for Paris. Tomorrow will be sunny with a high of twenty "
            "degrees, and a light breeze from the west."
        ),
        speech.silence(400),
        speech.speak("On Saturday, expect showers in the afternoon, so take an umbrella."),
        speech.silence(600),
        speech.speak(
            "I also found three restaurants near the river that are open on Sunday evening. "
            "Would you like me to book a table for two?"
        ),
        speech.silence(800),
    )


def microphone(far_end: Int16, scene: Scene) -> tuple[Floats, Int16]:
    """The echo alone (for ERLE) and what the microphone records (echo plus room noise)."""
    played = far_end.astype(np.float64)
    if scene.speaker_distortion:
        played = 20000.0 * np.tanh(played / 8000.0)  # a small speaker driven into saturation
    echo = scene.path.apply(speech.to_int16(played))
    noise = speech.white_noise(len(far_end), seed=21) * 10  # about -70 dBFS
    return echo, speech.to_int16(echo + noise)


def cancel(canceller: EchoCanceller, far_end: Int16, mic: Int16) -> tuple[Int16, list[float]]:
    """Process in lock step; return the cleaned capture and each frame pair's wall time."""
    cleaned, seconds = [], []
    for played, heard in zip(speech.frames(far_end), speech.frames(mic), strict=True):
        started = time.perf_counter()
        canceller.process_render(played)
        cleaned.append(canceller.process_capture(heard))
        seconds.append(time.perf_counter() - started)
    return np.concatenate(cleaned), seconds


def self_interruptions(vad: VoiceActivityDetector, cleaned: Int16) -> tuple[int, int]:
    """Starts declared over the whole reply, and after the canceller's convergence period."""
    segmenter = SpeechSegmenter(BARGE_IN)
    total = late = 0
    for index, frame in enumerate(speech.frames(cleaned)):
        if segmenter.update(vad.process(frame)) is SpeechEdge.START:
            total += 1
            if index >= CONVERGED_AFTER_FRAMES:
                late += 1
    return total, late


def main() -> None:
    far_end = assistant_reply()
    talking = speech.speech_labels(far_end)
    converged = talking & (np.arange(len(talking)) >= CONVERGED_AFTER_FRAMES)
    makers: dict[str, Callable[[], EchoCanceller]] = {
        "none (headphones)": NullEchoCanceller,
        "livekit AEC3": lambda: LiveKitEchoCanceller(delay_ms=40),
        "livekit AEC3+NS": lambda: LiveKitEchoCanceller(delay_ms=40, noise_suppression=True),
    }
    vads: dict[str, Callable[[], VoiceActivityDetector]] = {
        "webrtc": lambda: WebRtcVad(aggressiveness=2),
        "silero": SileroVad,
    }
    print(
        f"assistant reply: {len(talking) / 100:.1f} s, echo judged over {converged.sum()} "
        f"frames after {CONVERGED_AFTER_FRAMES * 10} ms; barge-in: min speech "
        f"{BARGE_IN.min_speech_ms} ms, min silence {BARGE_IN.min_silence_ms} ms\n"
    )
    header = f"{'echo path':<26}{'canceller':<19}{'ERLE dB':>8}"
    header += "".join(f"{name + ' starts':>16}" for name in vads)
    print(header + "   (whole reply / after convergence)")
    timings: dict[str, list[float]] = {name: [] for name in makers}
    for scene in SCENES:
        echo, mic = microphone(far_end, scene)
        for name, make in makers.items():
            cleaned, seconds = cancel(make(), far_end, mic)
            timings[name].extend(seconds)
            erle = speech.erle_db(echo, cleaned, converged)
            starts = [self_interruptions(make_vad(), cleaned) for make_vad in vads.values()]
            cells = "".join(f"{f'{total} / {late}':>16}" for total, late in starts)
            print(f"{scene.name:<26}{name:<19}{erle:>8.1f}{cells}")

    print("\nWall time per 10 ms frame (render + capture)")
    baseline = float(np.mean(timings["none (headphones)"]))
    for name, seconds in timings.items():
        mean_ms = float(np.mean(seconds)) * 1000
        p99_ms = float(np.percentile(seconds, 99)) * 1000
        print(
            f"{name:<19} mean {mean_ms:.4f} ms  p99 {p99_ms:.4f} ms  "
            f"{mean_ms / 10:.2%} of real time  x{mean_ms / 1000 / baseline:.0f} vs pass-through"
        )


def sleep_and_wake() -> None:
    """AEC3 always awake against AEC3 asleep in the quiet stretches, on a reply with a pause."""
    first = speech.speak(
        "Here is the forecast for Paris. Tomorrow will be sunny with a high of twenty degrees."
    )
    second = speech.speak("On Saturday, expect showers in the afternoon, so take an umbrella.")
    far_end = speech.concat(
        speech.silence(2000), first, speech.silence(3000), second, speech.silence(800)
    )
    talking = speech.speech_labels(far_end)
    index = np.arange(len(talking))
    woke_at = (2000 + 3000) // 10 + len(first) // 480  # frames of 10 ms
    after_wake = talking & (index >= woke_at)
    print("\nSleep and wake: 2 s idle, a sentence, a 3 s pause, a sentence")
    print(f"{'echo path':<26}{'canceller':<22}{'ERLE after the pause':>22}{'webrtc starts':>16}")
    for scene in SCENES:
        echo, mic = microphone(far_end, scene)
        makers: dict[str, Callable[[], EchoCanceller]] = {
            "AEC3 always awake": lambda: LiveKitEchoCanceller(delay_ms=40),
            "AEC3 asleep when quiet": lambda: QuietSpeakerBypass(LiveKitEchoCanceller(delay_ms=40)),
        }
        for name, make in makers.items():
            canceller = make()
            cleaned, _ = cancel(canceller, far_end, mic)
            total, _late = self_interruptions(WebRtcVad(aggressiveness=2), cleaned)
            erle = speech.erle_db(echo, cleaned, after_wake)
            print(f"{scene.name:<26}{name:<22}{erle:>19.1f} dB{total:>16}")
            if isinstance(canceller, QuietSpeakerBypass):
                skipped = canceller.render_skipped / len(talking)
                print(f"{'':<26}(frames skipped: {skipped:.0%} render, same count capture)")


def rest_and_wake() -> None:
    """The speaker stream rests between replies: the canceller is fed nothing on either side
    (as ``VoiceSession`` does while the speaker rests), and the restarted stream may sit at
    another delay from the microphone. ERLE and would-be self-interruptions on the reply after
    the rest, with the delay unchanged and 15 ms longer, against a canceller that never rested.
    """
    first = speech.concat(
        speech.speak("Here is the forecast for Paris. Tomorrow will be sunny and warm."),
        speech.silence(500),
    )
    second = speech.concat(
        speech.speak("On Saturday, expect showers in the afternoon, so take an umbrella."),
        speech.silence(800),
    )
    talking = speech.speech_labels(second)
    late = talking & (np.arange(len(talking)) >= CONVERGED_AFTER_FRAMES)
    print("\nRest and wake: a reply, the speaker resting, a reply (ERLE over the second)")
    print(f"{'second reply':<30}{'ERLE':>9}{'after 2 s':>11}{'webrtc starts':>15}{'after 2 s':>11}")
    before = speech.EchoPath(delay_ms=30, gain_db=-10, seed=8)
    cases = (
        ("never rested, same delay", before, False),
        ("rested, same delay", before, True),
        ("rested, delay +15 ms", speech.EchoPath(delay_ms=45, gain_db=-10, seed=8), True),
    )
    for name, after, rested in cases:
        canceller = LiveKitEchoCanceller(delay_ms=40)
        mic_first = speech.to_int16(
            before.apply(first) + speech.white_noise(len(first), seed=3) * 10
        )
        cancel(canceller, first, mic_first)
        if not rested:  # 5 s of silence played and heard, as an awake speaker does
            quiet = speech.silence(5000)
            cancel(canceller, quiet, speech.to_int16(speech.white_noise(len(quiet), seed=4) * 10))
        echo = after.apply(second)
        mic = speech.to_int16(echo + speech.white_noise(len(second), seed=5) * 10)
        cleaned, _ = cancel(canceller, second, mic)
        total, late_starts = self_interruptions(WebRtcVad(aggressiveness=2), cleaned)
        erle_all = speech.erle_db(echo, cleaned, talking)
        erle_late = speech.erle_db(echo, cleaned, late)
        print(f"{name:<30}{erle_all:>6.1f} dB{erle_late:>8.1f} dB{total:>15}{late_starts:>11}")


if __name__ == "__main__":
    main()
    sleep_and_wake()
    rest_and_wake()
