"""Echo cancellation on a simulated laptop: the assistant's espeak voice plays through a delayed,
attenuated, filtered echo path into the microphone, sometimes while the user talks over it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from src.services.echo_canceller import (
    EchoCanceller,
    LiveKitEchoCanceller,
    NullEchoCanceller,
    make_echo_canceller,
)
from src.services.pcm_frames import FRAME_SAMPLES, FrameAssembler, FrameSizeError
from src.services.vad import SegmenterConfig, SpeechEdge, SpeechSegmenter, WebRtcVad
from tests.fakes import speech

needs_espeak = pytest.mark.skipif(
    not speech.espeak_available(), reason="espeak-ng is not installed (apt-get install espeak-ng)"
)

CONVERGED_AFTER_FRAMES = 200  # judge the canceller after its first 2 s of adaptation

Int16 = npt.NDArray[np.int16]


def assistant_reply() -> Int16:
    return speech.concat(
        speech.speak(
            "Here is the forecast for Paris. Tomorrow will be sunny with a high of twenty "
            "degrees, and a light breeze from the west."
        ),
        speech.silence(300),
        speech.speak("Would you like me to set a reminder for your picnic?"),
    )


def run_canceller(canceller: EchoCanceller, far_end: Int16, mic: Int16) -> Int16:
    """Play and capture in lock step, one 10 ms frame each, as the audio path does."""
    cleaned = []
    for played, heard in zip(speech.frames(far_end), speech.frames(mic), strict=True):
        canceller.process_render(played)
        cleaned.append(canceller.process_capture(heard))
    return np.concatenate(cleaned)


def level_db(signal: npt.NDArray[np.generic], mask: npt.NDArray[np.bool_]) -> float:
    rows = speech.frames(np.asarray(signal, dtype=np.float64))[mask]
    return float(10 * np.log10(np.sum(rows**2)))


@needs_espeak
@pytest.mark.parametrize("delay_ms", [30, 60])
def test_echo_is_strongly_reduced_once_converged(delay_ms: int) -> None:
    far_end = assistant_reply()
    echo = speech.EchoPath(delay_ms=delay_ms, gain_db=-8).apply(far_end)
    room_noise = speech.white_noise(len(far_end), seed=3) * 3
    mic = speech.to_int16(echo + room_noise)

    cleaned = run_canceller(LiveKitEchoCanceller(), far_end, mic)

    talking = speech.speech_labels(far_end)
    converged = np.arange(len(talking)) >= CONVERGED_AFTER_FRAMES
    assert speech.erle_db(echo, cleaned, talking & converged) >= 20.0


@needs_espeak
def test_the_users_voice_survives_double_talk() -> None:
    far_end = assistant_reply()
    interruption = speech.speak("stop, what about Berlin", voice="en-gb", pitch=75)
    near = np.zeros(len(far_end))
    start = 4 * speech.RATE  # the user talks over the assistant, well after convergence
    near[start : start + len(interruption)] = interruption
    echo = speech.EchoPath(delay_ms=45, gain_db=-10).apply(far_end)
    mic = speech.to_int16(echo + near + speech.white_noise(len(far_end), seed=4) * 3)

    cleaned = run_canceller(LiveKitEchoCanceller(delay_ms=45), far_end, mic)

    user_talks = speech.speech_labels(speech.to_int16(near))
    assistant_talks = speech.speech_labels(far_end)
    double_talk = user_talks & assistant_talks
    assert double_talk.sum() >= 50  # the scene really has overlap to judge
    kept_db = level_db(cleaned, double_talk) - level_db(near, double_talk)
    assert -6.0 <= kept_db <= 3.0
    echo_only = assistant_talks & ~user_talks
    echo_only &= np.arange(len(echo_only)) >= CONVERGED_AFTER_FRAMES
    assert speech.erle_db(echo, cleaned, echo_only) >= 20.0


@needs_espeak
def test_the_assistant_does_not_hear_itself_as_the_user() -> None:
    """What the canceller is for: with echo removed, the VAD and segmenter declare no user
    speech while the assistant talks (after convergence), where without it they would."""
    far_end = assistant_reply()
    echo = speech.EchoPath(delay_ms=40, gain_db=-8).apply(far_end)
    mic = speech.to_int16(echo + speech.white_noise(len(far_end), seed=6) * 3)

    def user_turns(canceller: EchoCanceller) -> int:
        cleaned = run_canceller(canceller, far_end, mic)
        vad = WebRtcVad(aggressiveness=3)
        segmenter = SpeechSegmenter(SegmenterConfig(min_speech_ms=150, min_silence_ms=300))
        starts = 0
        for index, frame in enumerate(speech.frames(cleaned)):
            edge = segmenter.update(vad.process(frame))
            if edge is SpeechEdge.START and index >= CONVERGED_AFTER_FRAMES:
                starts += 1
        return starts

    assert user_turns(NullEchoCanceller()) >= 1
    assert user_turns(LiveKitEchoCanceller(delay_ms=40)) == 0


def test_headphones_mode_passes_audio_through() -> None:
    canceller = make_echo_canceller("none")
    frame = speech.to_int16(speech.white_noise(FRAME_SAMPLES, seed=1) * 1000)
    canceller.process_render(frame)
    assert np.array_equal(canceller.process_capture(frame), frame)


@pytest.mark.parametrize("kind", ["livekit", "none"])
@pytest.mark.parametrize(
    "frame",
    [
        np.zeros(960, dtype=np.int16),  # 20 ms: the native module would accept it silently
        np.zeros(FRAME_SAMPLES - 1, dtype=np.int16),
        np.zeros(FRAME_SAMPLES, dtype=np.float32),
        np.zeros((FRAME_SAMPLES, 2), dtype=np.int16),
    ],
    ids=["20ms", "short", "float", "stereo"],
)
def test_only_10ms_mono_int16_frames_are_accepted(
    kind: str, frame: npt.NDArray[np.generic]
) -> None:
    canceller = make_echo_canceller(kind)  # type: ignore[arg-type]
    with pytest.raises(FrameSizeError):
        canceller.process_render(frame)  # type: ignore[arg-type]
    with pytest.raises(FrameSizeError):
        canceller.process_capture(frame)  # type: ignore[arg-type]


def test_delay_hint_is_range_checked() -> None:
    canceller = LiveKitEchoCanceller()
    canceller.set_delay_ms(120)
    with pytest.raises(ValueError, match="delay_ms"):
        canceller.set_delay_ms(-1)
    with pytest.raises(ValueError, match="delay_ms"):
        canceller.set_delay_ms(900)
    with pytest.raises(ValueError, match="unknown echo canceller"):
        make_echo_canceller("speex")  # type: ignore[arg-type]


def test_frame_assembler_cuts_any_blocks_into_exact_frames() -> None:
    signal = np.arange(5000, dtype=np.int16)
    assembler = FrameAssembler()
    out: list[Int16] = []
    for start, stop in [(0, 100), (100, 1100), (1100, 1101), (1101, 5000)]:
        out.extend(assembler.push(signal[start:stop]))
    assert all(frame.shape == (FRAME_SAMPLES,) for frame in out)
    assert np.array_equal(np.concatenate(out), signal[: len(out) * FRAME_SAMPLES])
    assert assembler.pending_samples == 5000 - len(out) * FRAME_SAMPLES
    assembler.reset()
    assert assembler.pending_samples == 0
