"""Audio scenes for the VAD and echo-cancellation tests and benchmarks.

Speech is synthesised at run time with `espeak-ng` (no recordings in the repository, no
downloads), resampled to Hark's 48 kHz processing rate with `soxr`, and combined with noise or a
simulated loudspeaker-to-microphone echo path. Reference labels come from the energy of the clean
speech, so a detector is judged against what was really voiced, not against a second detector.

Everything is deterministic: noise and room responses come from seeded generators.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr

RATE = 48_000
FRAME = 480  # 10 ms at 48 kHz

Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def espeak_available() -> bool:
    """True when the `espeak-ng` program is on PATH (tests skip with a reason otherwise)."""
    return shutil.which("espeak-ng") is not None


@functools.lru_cache(maxsize=32)
def _espeak_cached(text: str, voice: str, pitch: int, speed: int) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(out), text],
            check=True,
            capture_output=True,
        )
        with wave.open(str(out), "rb") as wav:
            if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                raise RuntimeError("espeak-ng produced audio that is not mono 16-bit")
            rate = wav.getframerate()
            raw = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32)
    resampled = np.asarray(soxr.resample(raw, rate, RATE), dtype=np.float64)
    return to_int16(resampled).tobytes()


def speak(text: str, *, voice: str = "en-us", pitch: int = 50, speed: int = 160) -> Int16Array:
    """Synthesise `text` as mono int16 at 48 kHz; another voice or pitch is 'another person'."""
    return np.frombuffer(_espeak_cached(text, voice, pitch, speed), dtype=np.int16).copy()


def silence(ms: int) -> Int16Array:
    return np.zeros(RATE * ms // 1000, dtype=np.int16)


def concat(*parts: Int16Array) -> Int16Array:
    return np.concatenate(parts).astype(np.int16)


def pad_to_frames(signal: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """Trim to a whole number of 10 ms frames (the VAD and the APM take exactly 10 ms)."""
    usable = len(signal) - len(signal) % FRAME
    return signal[:usable]


def frames(signal: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """View a signal as rows of 10 ms frames."""
    trimmed = pad_to_frames(signal)
    return trimmed.reshape(-1, FRAME)


def frame_energy_db(signal: Int16Array) -> FloatArray:
    """Per-frame RMS level in dBFS (full scale = 32768)."""
    rows = frames(signal).astype(np.float64) / 32768.0
    rms = np.sqrt(np.mean(rows**2, axis=1))
    return np.asarray(20.0 * np.log10(np.maximum(rms, 1e-10)), dtype=np.float64)


def speech_labels(clean: Int16Array, *, below_peak_db: float = 35.0) -> BoolArray:
    """Reference labels: a frame is speech when its clean-speech level is within
    `below_peak_db` of the loudest frame. Judged on the clean signal, before any noise."""
    levels = frame_energy_db(clean)
    return np.asarray(levels > levels.max() - below_peak_db, dtype=np.bool_)


def white_noise(samples: int, *, seed: int) -> FloatArray:
    """Unit-RMS white noise."""
    return np.asarray(np.random.default_rng(seed).standard_normal(samples), dtype=np.float64)


def pink_noise(samples: int, *, seed: int) -> FloatArray:
    """Unit-RMS pink (1/f power) noise, shaped in the frequency domain."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(samples))
    freqs = np.fft.rfftfreq(samples)
    scale = np.ones_like(freqs)
    scale[1:] = 1.0 / np.sqrt(freqs[1:])
    scale[0] = 0.0
    shaped = np.fft.irfft(spectrum * scale, n=samples)
    return np.asarray(shaped / np.sqrt(np.mean(shaped**2)), dtype=np.float64)


def to_int16(signal: FloatArray) -> Int16Array:
    return np.clip(np.round(signal), -32768, 32767).astype(np.int16)


def mix_at_snr(speech: Int16Array, noise: FloatArray, snr_db: float) -> Int16Array:
    """Add noise so that active-speech power over noise power equals `snr_db`."""
    labels = speech_labels(speech)
    active = frames(speech)[labels].astype(np.float64)
    speech_power = float(np.mean(active**2))
    noise_rms = np.sqrt(speech_power / 10 ** (snr_db / 10.0))
    noisy = speech.astype(np.float64) + noise[: len(speech)] * noise_rms
    return to_int16(noisy)


@dataclass(frozen=True)
class EchoPath:
    """A laptop's loudspeaker-to-microphone path: a bulk delay, an attenuation and a short,
    decaying, low-passed room response (so the echo is not a scaled copy of the reference)."""

    delay_ms: float = 40.0
    gain_db: float = -10.0
    tail_ms: float = 15.0
    seed: int = 7

    def impulse_response(self) -> FloatArray:
        rng = np.random.default_rng(self.seed)
        delay = int(RATE * self.delay_ms / 1000)
        tail = int(RATE * self.tail_ms / 1000)
        decay = np.exp(-np.arange(tail) / (tail / 5.0))
        reflections = rng.standard_normal(tail) * decay * 0.3
        reflections[0] = 1.0
        lowpass = np.ones(6) / 6.0  # a small speaker has little top end
        room = np.convolve(reflections, lowpass)
        room *= 10 ** (self.gain_db / 20.0) / np.sqrt(np.sum(room**2))
        return np.concatenate([np.zeros(delay), room])

    def apply(self, far_end: Int16Array) -> FloatArray:
        """The echo the microphone picks up, as float samples, the same length as `far_end`."""
        echo = np.convolve(far_end.astype(np.float64), self.impulse_response())
        return echo[: len(far_end)]


def erle_db(echo_in_mic: FloatArray | Int16Array, residual: Int16Array, mask: BoolArray) -> float:
    """Echo return loss enhancement over the frames in `mask`: how much quieter the echo is
    after the canceller than before it, in dB."""
    before = frames(np.asarray(echo_in_mic, dtype=np.float64))[mask]
    after = frames(residual.astype(np.float64))[mask]
    return float(10.0 * np.log10(np.sum(before**2) / max(float(np.sum(after**2)), 1e-9)))
