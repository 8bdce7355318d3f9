"""Acoustic echo cancellation: remove the assistant's own voice from the microphone.

On a laptop the speaker is a few centimetres from the microphone. Without cancellation the
assistant hears itself, its VAD fires, and it interrupts its own reply ("self-interruption").
The canceller is given the far-end reference (exactly what was sent to the speaker) and the
microphone capture, both as 10 ms, 48 kHz, mono int16 frames, and returns the capture with the
echo removed. With headphones there is no echo path, so `NullEchoCanceller` passes audio through.

`LiveKitEchoCanceller` wraps WebRTC's audio processing module (AEC3) as shipped by the
`livekit` package (`livekit.rtc.AudioProcessingModule`): a maintained binary build, so no
native compilation on the user's machine.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from src.services.pcm_frames import FRAME_SAMPLES, SAMPLE_RATE, Int16Frame, require_frame

EchoCancellerKind = Literal["livekit", "none"]


class EchoCancellerError(RuntimeError):
    """The echo canceller failed to process a frame."""


class EchoCancellerUnavailable(EchoCancellerError):
    """The echo canceller's library is missing; the app can fall back to headphones mode."""


class EchoCanceller(ABC):
    """Port: removes the far-end signal's echo from microphone frames.

    `process_render` and `process_capture` may be called from different threads (playback
    callback and capture path); implementations must tolerate that. Feed the render side
    in real time as frames go to the speaker, including silence, so the canceller's idea of
    the echo path stays aligned with the capture.
    """

    name: str = "echo-canceller"

    @abstractmethod
    def process_render(self, frame48k: npt.NDArray[np.int16]) -> None:
        """Give the canceller a 10 ms frame exactly as it was sent to the speaker."""

    @abstractmethod
    def process_capture(self, frame48k: npt.NDArray[np.int16]) -> Int16Frame:
        """Return this 10 ms microphone frame with the echo removed (a new array)."""

    @abstractmethod
    def set_delay_ms(self, delay_ms: int) -> None:
        """Hint the delay between a frame's render call and its echo's capture call: the
        output and input latencies the audio device reports. A hint only; AEC3 also estimates
        the delay itself."""


class NullEchoCanceller(EchoCanceller):
    """Headphones mode: no echo path, so the capture passes through untouched."""

    name = "none"

    def process_render(self, frame48k: npt.NDArray[np.int16]) -> None:
        require_frame(frame48k, what="render frame")

    def process_capture(self, frame48k: npt.NDArray[np.int16]) -> Int16Frame:
        return require_frame(frame48k, what="capture frame").copy()

    def set_delay_ms(self, delay_ms: int) -> None:
        _check_delay(delay_ms)


class LiveKitEchoCanceller(EchoCanceller):
    """WebRTC AEC3 through `livekit.rtc.AudioProcessingModule`.

    The module processes exactly 10 ms per call and modifies the buffer in place; every frame
    is checked for that size here, since a wrong size would otherwise surface as an opaque
    native error. The stream delay hint is re-sent before each capture frame because WebRTC
    expects it once per processed capture frame when echo cancellation is on.
    """

    name = "livekit"

    def __init__(
        self,
        *,
        delay_ms: int = 0,
        noise_suppression: bool = False,
        high_pass_filter: bool = True,
        auto_gain_control: bool = False,
    ) -> None:
        """Noise suppression and gain control are off by default: the VAD and the Realtime
        server see the user's voice as it is, and AGC would raise the residual echo in pauses.
        The high-pass filter removes DC and rumble that would otherwise confuse the canceller.
        """
        _check_delay(delay_ms)
        try:
            rtc = importlib.import_module("livekit.rtc")
        except ImportError as exc:
            raise EchoCancellerUnavailable(
                f"echo cancellation needs the 'livekit' package ({exc})"
            ) from exc
        self._frame_type: Any = rtc.AudioFrame
        self._apm: Any = rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=noise_suppression,
            high_pass_filter=high_pass_filter,
            auto_gain_control=auto_gain_control,
        )
        self._delay_ms = delay_ms

    def process_render(self, frame48k: npt.NDArray[np.int16]) -> None:
        frame = self._to_apm_frame(require_frame(frame48k, what="render frame"))
        try:
            self._apm.process_reverse_stream(frame)
        except RuntimeError as exc:
            raise EchoCancellerError(f"render frame rejected: {exc}") from exc

    def process_capture(self, frame48k: npt.NDArray[np.int16]) -> Int16Frame:
        frame = self._to_apm_frame(require_frame(frame48k, what="capture frame"))
        try:
            self._apm.set_stream_delay_ms(self._delay_ms)
            self._apm.process_stream(frame)
        except RuntimeError as exc:
            raise EchoCancellerError(f"capture frame rejected: {exc}") from exc
        return np.frombuffer(frame.data, dtype=np.int16, count=FRAME_SAMPLES).copy()

    def set_delay_ms(self, delay_ms: int) -> None:
        _check_delay(delay_ms)
        self._delay_ms = delay_ms

    def _to_apm_frame(self, frame: Int16Frame) -> Any:
        # A fresh, writable buffer: the module writes its output into it in place.
        return self._frame_type(bytearray(frame.tobytes()), SAMPLE_RATE, 1, FRAME_SAMPLES)


def _check_delay(delay_ms: int) -> None:
    # WebRTC clamps delays to 0..500 ms; a value outside that is a caller's bug, not a hint.
    if not 0 <= delay_ms <= 500:
        raise ValueError(f"delay_ms must be within 0..500, got {delay_ms}")


def make_echo_canceller(kind: EchoCancellerKind, *, delay_ms: int = 0) -> EchoCanceller:
    """Build the canceller named in settings: 'livekit' (speakers) or 'none' (headphones)."""
    if kind == "livekit":
        return LiveKitEchoCanceller(delay_ms=delay_ms)
    if kind == "none":
        return NullEchoCanceller()
    raise ValueError(f"unknown echo canceller {kind!r}: expected 'livekit' or 'none'")
