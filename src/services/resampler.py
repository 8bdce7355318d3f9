"""Streaming sample-rate conversion for mono int16 audio, over ``soxr.ResampleStream``.

Audio reaches Hark in blocks (10 ms from a sound card, 20 ms deltas from the Realtime API),
so resampling must keep its filter state from one block to the next: resampling each block on
its own would click at every block boundary. ``soxr`` does that, fast, in native code.

Two things a caller must know:

* Output arrives in bursts. soxr works in internal chunks, so a 10 ms block in may give no
  samples out now and twice as many on a later call; only the running total tracks the ratio.
  Callers that need exact frame sizes re-frame the output.
* The last few milliseconds stay inside the filter until :meth:`Resampler.flush`. Call it at
  the end of a continuous stretch of audio (the end of an assistant item, a stopped stream).

When the two rates are equal the class passes blocks through unchanged (copied), with no
filter delay, so callers need no special case for a device that already runs at 48 kHz.
Exact 2:1 conversions (48 kHz <-> 24 kHz, Hark's own voice path) use the half-band filter in
``halfband`` by default: under half a millisecond of delay instead of soxr's 30-40 ms.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import soxr

from src.services.halfband import Downsampler2, Upsampler2

Int16Array = npt.NDArray[np.int16]
Quality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]

_EMPTY: Int16Array = np.zeros(0, dtype=np.int16)


class Resampler:
    """Converts a continuous mono int16 stream from ``in_rate`` to ``out_rate``.

    ``quality`` is soxr's recipe. "HQ" (the default) is transparent for speech; "LQ" hands
    samples out about 10 ms sooner (soxr buffers less), at the cost of a softer top octave.
    One instance belongs to one stream and one thread at a time: it holds filter state.
    """

    def __init__(
        self, in_rate: int, out_rate: int, *, quality: Quality = "HQ", low_latency: bool = True
    ) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.quality = quality
        self._stream: soxr.ResampleStream | None = None
        self._half: Downsampler2 | Upsampler2 | None = None
        if low_latency and in_rate == 2 * out_rate:
            self._half = Downsampler2()
        elif low_latency and out_rate == 2 * in_rate:
            self._half = Upsampler2()
        elif in_rate != out_rate:
            self._stream = self._new_stream()
        self._fed = 0
        self._produced = 0

    @property
    def is_identity(self) -> bool:
        """True when the rates match and blocks pass through untouched."""
        return self._stream is None and self._half is None

    @property
    def samples_in(self) -> int:
        """Input samples consumed since creation or the last :meth:`reset`."""
        return self._fed

    @property
    def samples_out(self) -> int:
        """Output samples produced since creation or the last :meth:`reset`."""
        return self._produced

    def process(self, block: npt.NDArray[np.int16]) -> Int16Array:
        """Resample the next block of the stream; may return fewer (or more) samples than
        the ratio suggests, because soxr releases its output in chunks."""
        if block.dtype != np.int16 or block.ndim != 1:
            raise ValueError(f"expected mono int16 samples, got {block.dtype} {block.shape}")
        self._fed += block.shape[0]
        if self._half is not None:
            out: Int16Array = self._half.process(block)
        elif self._stream is None:
            out = block.copy()
        else:
            out = self._stream.resample_chunk(np.ascontiguousarray(block))
        self._produced += out.shape[0]
        return out

    def flush(self) -> Int16Array:
        """Return what the filter still holds and start a fresh stream.

        Use it at the end of a continuous stretch; the next :meth:`process` call starts a new
        stretch with no memory of the old one.
        """
        if self._half is not None:
            tail: Int16Array = self._half.flush()
            self._produced += tail.shape[0]
            return tail
        if self._stream is None:
            return _EMPTY.copy()
        tail = self._stream.resample_chunk(_EMPTY, last=True)
        self._produced += tail.shape[0]
        self._stream = self._new_stream()
        return tail

    def reset(self) -> None:
        """Forget everything buffered (barge-in: what is queued must never be heard)."""
        if self._stream is not None:
            self._stream = self._new_stream()
        if self._half is not None:
            self._half.reset()
        self._fed = 0
        self._produced = 0

    def expected_out(self, n_in: int) -> int:
        """How many output samples ``n_in`` input samples make, once flushed (rounded)."""
        return round(n_in * self.out_rate / self.in_rate)

    def _new_stream(self) -> soxr.ResampleStream:
        return soxr.ResampleStream(
            self.in_rate, self.out_rate, 1, dtype="int16", quality=self.quality
        )


def pcm16_to_array(data: bytes) -> Int16Array:
    """Little-endian PCM16 bytes (the Realtime wire format) to an int16 array (a copy)."""
    if len(data) % 2:
        raise ValueError(f"PCM16 data must have an even number of bytes, got {len(data)}")
    return np.frombuffer(data, dtype="<i2").astype(np.int16)


def array_to_pcm16(samples: npt.NDArray[np.int16]) -> bytes:
    """An int16 array to little-endian PCM16 bytes, ready to base64 for the Realtime API."""
    return samples.astype("<i2", copy=False).tobytes()
