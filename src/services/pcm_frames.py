"""The 10 ms, 48 kHz mono int16 frame that Hark's audio processing works in.

WebRTC's VAD and audio processing module both demand exactly 10 ms frames, and a wrong size
fails late and obscurely inside native code (or silently, as misaligned audio). So the size is
checked once, here, with a clear error, and `FrameAssembler` cuts blocks of any length (a sound
card's callback, a server's audio delta) into exact frames.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 48_000
FRAME_MS = 10
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 480

Int16Frame = npt.NDArray[np.int16]


class FrameSizeError(ValueError):
    """A frame is not mono int16 of exactly 10 ms at 48 kHz."""


def require_frame(frame: npt.NDArray[np.generic], *, what: str = "frame") -> Int16Frame:
    """Return `frame` unchanged if it is a 10 ms, 48 kHz, mono int16 frame; raise otherwise.

    Int16 is required rather than converted: a float frame here means the caller mixed up
    scales (-1..1 versus -32768..32767), which silent conversion would hide.
    """
    if frame.dtype != np.int16:
        raise FrameSizeError(f"{what} must be int16 PCM, got {frame.dtype}")
    if frame.ndim != 1:
        raise FrameSizeError(f"{what} must be mono (1-D), got shape {frame.shape}")
    if frame.shape[0] != FRAME_SAMPLES:
        raise FrameSizeError(
            f"{what} must be {FRAME_SAMPLES} samples (10 ms at {SAMPLE_RATE} Hz), "
            f"got {frame.shape[0]}"
        )
    return frame.astype(np.int16, copy=False)


class FrameAssembler:
    """Cuts a stream of int16 blocks of any length into exact 10 ms frames.

    The remainder of a block that does not fill a frame is kept for the next push, so no
    sample is lost or duplicated across block boundaries.
    """

    def __init__(self) -> None:
        self._pending: Int16Frame = np.zeros(0, dtype=np.int16)

    @property
    def pending_samples(self) -> int:
        """Samples held back, waiting for enough audio to complete a frame."""
        return int(self._pending.shape[0])

    def push(self, block: npt.NDArray[np.generic]) -> list[Int16Frame]:
        """Add a block; return every complete frame it finishes, oldest first."""
        if block.dtype != np.int16 or block.ndim != 1:
            raise FrameSizeError(f"blocks must be mono int16, got {block.dtype} {block.shape}")
        samples = block.astype(np.int16, copy=False)
        data = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = data.shape[0] - data.shape[0] % FRAME_SAMPLES
        self._pending = data[whole:].copy()
        return [data[i : i + FRAME_SAMPLES].copy() for i in range(0, whole, FRAME_SAMPLES)]

    def reset(self) -> None:
        """Drop any held-back samples (after a device restart or a playback flush)."""
        self._pending = np.zeros(0, dtype=np.int16)
