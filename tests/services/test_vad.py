"""Voice activity detection on real synthetic speech (espeak-ng), silence and noise, and the
segmenter's hangover on scripted probability sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from src.services.pcm_frames import FRAME_SAMPLES, FrameSizeError
from src.services.vad import (
    SegmenterConfig,
    SileroVad,
    SpeechEdge,
    SpeechSegmenter,
    VadKind,
    VadUnavailable,
    VoiceActivityDetector,
    WebRtcVad,
    find_silero_model,
    make_vad,
)
from tests.fakes import speech

needs_espeak = pytest.mark.skipif(
    not speech.espeak_available(), reason="espeak-ng is not installed (apt-get install espeak-ng)"
)


@pytest.fixture(scope="module")
def spoken() -> tuple[npt.NDArray[np.int16], npt.NDArray[np.bool_]]:
    """Two utterances by two voices between silences, with energy labels from the clean audio."""
    clean = speech.concat(
        speech.silence(500),
        speech.speak("what is the weather in Paris tomorrow"),
        speech.silence(700),
        speech.speak("please send the message to Anna", voice="en-gb", pitch=70),
        speech.silence(500),
    )
    return clean, speech.speech_labels(clean)


def run(vad: VoiceActivityDetector, signal: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    return np.array([vad.is_speech(frame) for frame in speech.frames(signal)], dtype=np.bool_)


KINDS: list[VadKind] = ["webrtc", "silero"]


@needs_espeak
@pytest.mark.parametrize("kind", KINDS)
def test_finds_speech_in_clean_speech(
    kind: VadKind, spoken: tuple[npt.NDArray[np.int16], npt.NDArray[np.bool_]]
) -> None:
    clean, labels = spoken
    decided = run(make_vad(kind), clean)
    assert np.mean(decided == labels) >= 0.85
    assert np.mean(decided[labels]) >= 0.9  # speech is found
    assert np.mean(decided[~labels]) <= 0.2  # the silences between utterances mostly stay silent


@pytest.mark.parametrize("kind", KINDS)
def test_silence_and_a_quiet_room_are_not_speech(kind: VadKind) -> None:
    vad = make_vad(kind)
    digital_silence = np.zeros(FRAME_SAMPLES * 100, dtype=np.int16)
    quiet_room = speech.to_int16(speech.white_noise(FRAME_SAMPLES * 200, seed=5) * 30)  # -60 dBFS
    assert not run(vad, digital_silence).any()
    assert np.mean(run(vad, quiet_room)) <= 0.05


@needs_espeak
def test_silero_holds_up_in_loud_pink_noise(
    spoken: tuple[npt.NDArray[np.int16], npt.NDArray[np.bool_]],
) -> None:
    """The reason Silero is offered at all: at 0 dB SNR WebRTC calls nearly everything speech."""
    clean, labels = spoken
    noisy = speech.mix_at_snr(clean, speech.pink_noise(len(clean), seed=11), snr_db=0.0)
    assert np.mean(run(SileroVad(), noisy) == labels) >= 0.75


def test_silero_reset_forgets_the_recurrent_state() -> None:
    vad = SileroVad()
    signal = speech.to_int16(speech.white_noise(FRAME_SAMPLES * 40, seed=2) * 3000)
    first = [vad.process(frame) for frame in speech.frames(signal)]
    vad.reset()
    again = [vad.process(frame) for frame in speech.frames(signal)]
    assert first == again


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "frame",
    [
        np.zeros(960, dtype=np.int16),  # 20 ms
        np.zeros(FRAME_SAMPLES, dtype=np.float32),  # float scale
        np.zeros((FRAME_SAMPLES, 2), dtype=np.int16),  # stereo
    ],
    ids=["20ms", "float", "stereo"],
)
def test_frames_other_than_10ms_mono_int16_are_refused(
    kind: VadKind, frame: npt.NDArray[np.generic]
) -> None:
    with pytest.raises(FrameSizeError):
        make_vad(kind).process(frame)  # type: ignore[arg-type]


def test_factory_builds_each_kind() -> None:
    assert isinstance(make_vad("webrtc", aggressiveness=3), WebRtcVad)
    silero = make_vad("silero", threshold=0.6)
    assert isinstance(silero, SileroVad)
    assert silero.threshold == 0.6
    with pytest.raises(ValueError, match="unknown VAD"):
        make_vad("energy")  # type: ignore[arg-type]


def test_silero_model_comes_from_an_installed_package() -> None:
    model = find_silero_model()
    assert model.name == "silero_vad.onnx"
    assert "site-packages" in model.parts or "dist-packages" in model.parts


def test_missing_or_broken_silero_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VadUnavailable, match="not found"):
        SileroVad(model_path=tmp_path / "missing.onnx")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an onnx model")
    with pytest.raises(VadUnavailable, match="could not load"):
        SileroVad(model_path=broken)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="aggressiveness"):
        WebRtcVad(aggressiveness=4)
    with pytest.raises(ValueError, match="threshold"):
        WebRtcVad(threshold=1.5)


# --- SpeechSegmenter: hangover on scripted probabilities (10 ms frames) ---------------------


def edges(segmenter: SpeechSegmenter, probabilities: list[float]) -> list[tuple[int, SpeechEdge]]:
    found = []
    for index, probability in enumerate(probabilities):
        edge = segmenter.update(probability)
        if edge is not None:
            found.append((index, edge))
    return found


def test_a_short_burst_is_not_a_turn() -> None:
    segmenter = SpeechSegmenter(SegmenterConfig(min_speech_ms=100, min_silence_ms=300))
    cough = [0.0] * 5 + [0.9] * 9 + [0.0] * 50  # 90 ms of "speech"
    assert edges(segmenter, cough) == []
    assert not segmenter.speaking


def test_start_after_min_speech_and_stop_after_min_silence() -> None:
    segmenter = SpeechSegmenter(SegmenterConfig(min_speech_ms=100, min_silence_ms=300))
    utterance = [0.0] * 5 + [0.9] * 50 + [0.1] * 40
    assert edges(segmenter, utterance) == [(14, SpeechEdge.START), (84, SpeechEdge.STOP)]


def test_a_pause_shorter_than_min_silence_keeps_the_turn() -> None:
    segmenter = SpeechSegmenter(SegmenterConfig(min_speech_ms=50, min_silence_ms=300))
    words = [0.9] * 20 + [0.0] * 29 + [0.9] * 20 + [0.0] * 30
    assert edges(segmenter, words) == [(4, SpeechEdge.START), (98, SpeechEdge.STOP)]


def test_hysteresis_keeps_soft_endings_inside_the_turn() -> None:
    config = SegmenterConfig(threshold=0.5, stop_threshold=0.3, min_speech_ms=30, min_silence_ms=50)
    segmenter = SpeechSegmenter(config)
    fading = [0.8] * 5 + [0.4] * 20 + [0.1] * 5
    assert edges(segmenter, fading) == [(2, SpeechEdge.START), (29, SpeechEdge.STOP)]


def test_a_gap_restarts_the_speech_count() -> None:
    segmenter = SpeechSegmenter(SegmenterConfig(min_speech_ms=100, min_silence_ms=100))
    choppy = ([0.9] * 6 + [0.0]) * 5
    assert edges(segmenter, choppy) == []


def test_reset_returns_to_silence() -> None:
    segmenter = SpeechSegmenter(SegmenterConfig(min_speech_ms=20, min_silence_ms=500))
    edges(segmenter, [0.9] * 5)
    assert segmenter.speaking
    segmenter.reset()
    assert not segmenter.speaking
    assert edges(segmenter, [0.9]) == []


def test_segmenter_config_is_validated() -> None:
    with pytest.raises(ValueError, match="stop_threshold"):
        SegmenterConfig(threshold=0.5, stop_threshold=0.7)
    with pytest.raises(ValueError, match="durations"):
        SegmenterConfig(min_speech_ms=-10)
