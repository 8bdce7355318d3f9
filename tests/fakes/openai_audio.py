"""Audio for the fake Realtime server: PCM16 24 kHz mono in and out, no numpy needed.

Out: a spoken reply is voiced as a plain tone whose length follows the text, so playback,
interruption and truncation can be tested with real sample counts. In: an energy gate stands
in for OpenAI's server VAD, so a client that streams microphone audio with the default
`server_vad` turn detection gets speech_started / speech_stopped / a response, as it would live.
"""

from __future__ import annotations

import array
import math
import sys
from dataclasses import dataclass
from typing import Literal

SAMPLE_RATE = 24_000
BYTES_PER_SAMPLE = 2
BYTES_PER_MS = SAMPLE_RATE * BYTES_PER_SAMPLE // 1000  # 48: a 20 ms chunk is 960 bytes


def pcm_duration_ms(pcm: bytes | bytearray) -> int:
    return len(pcm) // BYTES_PER_MS


def _samples(pcm: bytes | bytearray) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(bytes(pcm[: len(pcm) - len(pcm) % BYTES_PER_SAMPLE]))
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _to_bytes(samples: array.array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array.array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def pcm_rms(pcm: bytes | bytearray) -> float:
    """Root-mean-square level of PCM16 audio, 0.0 (silence) to 1.0 (full scale)."""
    samples = _samples(pcm)
    if not samples:
        return 0.0
    return math.sqrt(sum(value * value for value in samples) / len(samples)) / 32768.0


def tone(duration_ms: int, *, frequency: float = 440.0, amplitude: float = 0.3) -> bytes:
    """A sine tone as PCM16 24 kHz mono: the fake model's "voice"."""
    count = duration_ms * SAMPLE_RATE // 1000
    peak = amplitude * 32767
    step = 2 * math.pi * frequency / SAMPLE_RATE
    return _to_bytes(array.array("h", (round(peak * math.sin(step * n)) for n in range(count))))


def silence(duration_ms: int) -> bytes:
    return bytes(duration_ms * BYTES_PER_MS)


def split_by_fraction(audio: bytes, fractions: list[float]) -> list[bytes]:
    """Cut `audio` at the given cumulative fractions (0..1), on sample boundaries."""
    pieces: list[bytes] = []
    start = 0
    for fraction in fractions:
        end = int(len(audio) * fraction) // BYTES_PER_SAMPLE * BYTES_PER_SAMPLE
        end = max(start, min(end, len(audio)))
        pieces.append(audio[start:end])
        start = end
    if pieces and start < len(audio):
        pieces[-1] += audio[start:]
    return pieces


@dataclass(frozen=True)
class VadEvent:
    """Speech began or ended at `audio_ms` on the session's input audio clock."""

    kind: Literal["speech_started", "speech_stopped"]
    audio_ms: int


class EnergyVad:
    """A stand-in for server VAD: 20 ms frames above an RMS threshold count as speech.

    Speech starts after `min_speech_ms` of loud frames (reported `prefix_padding_ms` early, as
    OpenAI does) and stops after `silence_duration_ms` of quiet ones. Deterministic: the same
    audio always gives the same events, whatever the pace it arrives at.
    """

    FRAME_MS = 20

    def __init__(
        self,
        *,
        rms_threshold: float = 0.02,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        min_speech_ms: int = 60,
    ) -> None:
        self.rms_threshold = rms_threshold
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.min_speech_ms = min_speech_ms
        self.in_speech = False
        self._pending = bytearray()
        self._clock_ms = 0
        self._loud_ms = 0
        self._quiet_ms = 0

    def feed(self, pcm: bytes) -> list[VadEvent]:
        self._pending.extend(pcm)
        frame_bytes = self.FRAME_MS * BYTES_PER_MS
        events: list[VadEvent] = []
        while len(self._pending) >= frame_bytes:
            frame = bytes(self._pending[:frame_bytes])
            del self._pending[:frame_bytes]
            self._clock_ms += self.FRAME_MS
            event = self._frame(pcm_rms(frame) >= self.rms_threshold)
            if event is not None:
                events.append(event)
        return events

    def _frame(self, loud: bool) -> VadEvent | None:
        if not self.in_speech:
            self._loud_ms = self._loud_ms + self.FRAME_MS if loud else 0
            if self._loud_ms >= self.min_speech_ms:
                self.in_speech = True
                self._quiet_ms = 0
                start = self._clock_ms - self._loud_ms - self.prefix_padding_ms
                return VadEvent("speech_started", max(0, start))
            return None
        self._quiet_ms = 0 if loud else self._quiet_ms + self.FRAME_MS
        if self._quiet_ms >= self.silence_duration_ms:
            self.in_speech = False
            self._loud_ms = 0
            # OpenAI's audio_end_ms includes the silence that ended the turn.
            return VadEvent("speech_stopped", self._clock_ms)
        return None

    def reset(self) -> None:
        """Forget a turn in progress (the client cleared the input buffer)."""
        self.in_speech = False
        self._pending.clear()
        self._loud_ms = 0
        self._quiet_ms = 0
