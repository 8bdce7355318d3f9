"""VAD frame accuracy in noise, and CPU cost per 10 ms frame, for each detector Hark offers.

Speech is synthesised with espeak-ng (several sentences, two voices, silences between them) and
mixed with white and pink noise at 10 dB and 0 dB SNR. The reference label of each 10 ms frame
comes from the energy of the clean speech. Accuracy = share of frames where the detector agrees
with the label; recall and false alarms are printed for the hardest condition too.

Run from the repository root:  python bench/vad_accuracy.py
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.services.vad import SileroVad, VoiceActivityDetector, WebRtcVad
from tests.fakes import speech

Int16 = npt.NDArray[np.int16]
Bools = npt.NDArray[np.bool_]


def corpus() -> Int16:
    """About 12 s: four sentences by two voices, with pauses of different lengths."""
    return speech.concat(
        speech.silence(600),
        speech.speak("What is the weather going to be like in Paris tomorrow morning?"),
        speech.silence(900),
        speech.speak("Please send a message to Anna saying I'll be late.", voice="en-gb", pitch=70),
        speech.silence(400),
        speech.speak("Add milk, eggs and coffee to my shopping list.", speed=180),
        speech.silence(1200),
        speech.speak("Remind me to call the dentist on Friday.", voice="en-gb", pitch=30),
        speech.silence(600),
    )


def conditions(clean: Int16) -> dict[str, Int16]:
    white = speech.white_noise(len(clean), seed=1)
    pink = speech.pink_noise(len(clean), seed=2)
    return {
        "clean": clean,
        "white 10 dB": speech.mix_at_snr(clean, white, 10.0),
        "white 0 dB": speech.mix_at_snr(clean, white, 0.0),
        "pink 10 dB": speech.mix_at_snr(clean, pink, 10.0),
        "pink 0 dB": speech.mix_at_snr(clean, pink, 0.0),
    }


@dataclass
class Score:
    accuracy: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    false_alarm: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    frames: int = 0


def score(vad: VoiceActivityDetector, scenes: dict[str, Int16], labels: Bools) -> Score:
    result = Score()
    for name, signal in scenes.items():
        vad.reset()
        rows = speech.frames(signal)
        started = time.process_time()
        decided = np.array([vad.is_speech(row) for row in rows], dtype=np.bool_)
        result.cpu_seconds += time.process_time() - started
        result.frames += len(rows)
        result.accuracy[name] = float(np.mean(decided == labels))
        result.recall[name] = float(np.mean(decided[labels]))
        result.false_alarm[name] = float(np.mean(decided[~labels]))
    return result


def main() -> None:
    clean = corpus()
    labels = speech.speech_labels(clean)
    scenes = conditions(clean)
    detectors: dict[str, VoiceActivityDetector] = {
        "webrtc (aggr. 2)": WebRtcVad(aggressiveness=2),
        "webrtc (aggr. 3)": WebRtcVad(aggressiveness=3),
        "silero": SileroVad(),
    }
    scores = {label: score(vad, scenes, labels) for label, vad in detectors.items()}

    print(f"{len(labels)} frames of 10 ms, {labels.mean():.0%} labelled speech (clean energy)\n")
    print("Frame accuracy")
    print(f"{'detector':<18}" + "".join(f"{name:>13}" for name in scenes))
    for label, result in scores.items():
        print(f"{label:<18}" + "".join(f"{result.accuracy[n]:>13.3f}" for n in scenes))

    print("\nSpeech recall / false alarms on silence")
    print(f"{'detector':<18}" + "".join(f"{name:>13}" for name in scenes))
    for label, result in scores.items():
        cells = (f"{result.recall[n]:.2f}/{result.false_alarm[n]:.2f}" for n in scenes)
        print(f"{label:<18}" + "".join(f"{cell:>13}" for cell in cells))

    baseline = scores["webrtc (aggr. 2)"]
    baseline_ms = baseline.cpu_seconds / baseline.frames * 1000
    print("\nCPU time per 10 ms frame (process time, one thread)")
    for label, result in scores.items():
        per_frame_ms = result.cpu_seconds / result.frames * 1000
        print(
            f"{label:<18}{per_frame_ms:>9.4f} ms  {per_frame_ms / 10:>7.2%} of real time"
            f"  x{per_frame_ms / baseline_ms:.1f} vs webrtc (aggr. 2)"
        )


if __name__ == "__main__":
    main()
