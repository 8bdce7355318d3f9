"""Low-latency 2:1 resampling between 48 kHz (devices, echo canceller) and 24 kHz (the API).

soxr's streaming filters hold back 30-40 ms of audio, which is most of the latency budget of
a voice path. Hark's only conversions are exactly 2:1 either way, so a short windowed-sinc
half-band filter does the job: 47 taps at 48 kHz delay the signal by 23 samples (under 0.5 ms),
keep speech up to about 10 kHz within a fraction of a dB, and reject images and aliases above
12 kHz by more than 60 dB. Both classes keep their filter state across calls, so any block
size can be fed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TAPS = 47
"""Odd length: symmetric linear-phase filter, delay (TAPS - 1) / 2 samples at 48 kHz."""


def _design(taps: int = TAPS, beta: float = 7.0) -> npt.NDArray[np.float64]:
    n = np.arange(taps) - (taps - 1) / 2
    kernel = 0.5 * np.sinc(n / 2) * np.kaiser(taps, beta)
    return np.asarray(kernel / kernel.sum(), dtype=np.float64)


_KERNEL = _design()
DELAY_SAMPLES_48K = (TAPS - 1) // 2


def _to_int16(samples: npt.NDArray[np.float64]) -> npt.NDArray[np.int16]:
    return np.clip(np.rint(samples), -32768, 32767).astype(np.int16)


class Downsampler2:
    """48 kHz -> 24 kHz: low-pass, then keep every other sample (phase kept across calls)."""

    def __init__(self) -> None:
        self._history = np.zeros(TAPS - 1, dtype=np.float64)
        self._phase = 0  # index in the next block's filtered output of the first kept sample

    def process(self, block: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        if block.size == 0:
            return np.zeros(0, dtype=np.int16)
        joined = np.concatenate([self._history, block.astype(np.float64)])
        filtered = np.convolve(joined, _KERNEL, mode="valid")  # one output per input sample
        self._history = joined[-(TAPS - 1) :]
        kept = filtered[self._phase :: 2]
        self._phase = (self._phase + block.size) % 2
        return _to_int16(kept)

    def flush(self) -> npt.NDArray[np.int16]:
        """The filter's tail (the last input's delayed samples), then a fresh stream."""
        tail = self.process(np.zeros(DELAY_SAMPLES_48K + 1, dtype=np.int16))
        self.reset()
        return tail[: (DELAY_SAMPLES_48K + 1) // 2]

    def reset(self) -> None:
        self._history[:] = 0
        self._phase = 0


class Upsampler2:
    """24 kHz -> 48 kHz: insert a zero after each sample, then low-pass (gain 2)."""

    def __init__(self) -> None:
        self._history = np.zeros(TAPS - 1, dtype=np.float64)

    def process(self, block: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        if block.size == 0:
            return np.zeros(0, dtype=np.int16)
        stuffed = np.zeros(block.size * 2, dtype=np.float64)
        stuffed[::2] = block.astype(np.float64) * 2.0
        joined = np.concatenate([self._history, stuffed])
        out = np.convolve(joined, _KERNEL, mode="valid")
        self._history = joined[-(TAPS - 1) :]
        return _to_int16(out)

    def flush(self) -> npt.NDArray[np.int16]:
        """The filter's tail: the last input's delayed samples, so an item ends complete."""
        tail = self.process(np.zeros((DELAY_SAMPLES_48K + 1) // 2, dtype=np.int16))
        self.reset()
        return tail[:DELAY_SAMPLES_48K]

    def reset(self) -> None:
        self._history[:] = 0
