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

from src.services.pcm_frames import (
    FRAME_MS,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    Int16Frame,
    require_frame,
)

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


class QuietSpeakerBypass(EchoCanceller):
    """Skips the canceller while the speaker has been silent long enough to leave no echo.

    AEC3 costs about 0.1 ms of CPU per 10 ms frame (render and capture together): a third of
    the whole budget of an assistant listening in an idle room, spent removing an echo of
    nothing. After ``quiet_ms`` of silence sent to the speaker (longer than a room's echo
    tail plus the sound card's buffers), silent render frames are no longer fed, and for
    each one skipped, one capture frame passes through untouched. The first audible render
    frame is fed at once, well before its echo can reach the microphone. The canceller keeps
    its learnt echo path while it sleeps, so it need not converge again.

    Skipping the same *number* of frames on both sides matters: AEC3 pairs render and
    capture calls by count, and a sleep that dropped one more capture than render frame
    (measured in lock step) shifted that pairing and cost 35-40 dB of echo reduction for
    the rest of the reply. It starts awake: fed its first second of silence, AEC3 is past its
    start-up state when the assistant first speaks (measured: no self-started turn on the
    first reply, against one when it woke on the reply itself).

    The debt of capture skips is capped at ``MAX_OWED_FRAMES`` (100 ms), above the jitter
    between two sound-card threads: a larger gap means the microphone stopped or the two
    devices' clocks drift apart, which the canceller sorts out itself when awake, and an
    unbounded debt would pass the start of the next reply's echo through uncancelled.

    Both sides must be called under one lock (the voice session's echo lock).
    """

    MAX_OWED_FRAMES = 10

    def __init__(self, inner: EchoCanceller, *, quiet_ms: int = 1_000) -> None:
        if quiet_ms < FRAME_MS:
            raise ValueError(f"quiet_ms must be at least one frame ({FRAME_MS} ms)")
        self.inner = inner
        self.name = inner.name
        self._quiet_frames = quiet_ms // FRAME_MS
        self._silent_run = 0
        self._owed = 0  # capture frames to pass through, one per render frame skipped
        self.render_skipped = 0
        self.capture_skipped = 0

    @property
    def asleep(self) -> bool:
        """True while render frames are skipped: the speaker has been silent long enough."""
        return self._silent_run >= self._quiet_frames

    def process_render(self, frame48k: npt.NDArray[np.int16]) -> None:
        if require_frame(frame48k, what="render frame").any():
            self._silent_run = 0
        elif self.asleep:
            self.render_skipped += 1
            self._owed = min(self._owed + 1, self.MAX_OWED_FRAMES)
            return
        else:
            self._silent_run += 1
        self.inner.process_render(frame48k)

    def process_capture(self, frame48k: npt.NDArray[np.int16]) -> Int16Frame:
        if self._owed:
            self._owed -= 1
            self.capture_skipped += 1
            return require_frame(frame48k, what="capture frame").copy()
        return self.inner.process_capture(frame48k)

    def set_delay_ms(self, delay_ms: int) -> None:
        self.inner.set_delay_ms(delay_ms)


def _check_delay(delay_ms: int) -> None:
    # WebRTC clamps delays to 0..500 ms; a value outside that is a caller's bug, not a hint.
    if not 0 <= delay_ms <= 500:
        raise ValueError(f"delay_ms must be within 0..500, got {delay_ms}")


def make_echo_canceller(kind: EchoCancellerKind, *, delay_ms: int = 0) -> EchoCanceller:
    """Build the canceller named in settings: 'livekit' (speakers, asleep while the speaker
    is quiet) or 'none' (headphones)."""
    if kind == "livekit":
        return QuietSpeakerBypass(LiveKitEchoCanceller(delay_ms=delay_ms))
    if kind == "none":
        return NullEchoCanceller()
    raise ValueError(f"unknown echo canceller {kind!r}: expected 'livekit' or 'none'")
