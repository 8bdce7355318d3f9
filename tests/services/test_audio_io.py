"""Audio I/O: device choice, plain errors, the fakes, and the real path on a PulseAudio server.

The real-device tests run PortAudio against a private PulseAudio server with virtual devices
(``tests/fakes/pulse.py``): a tone played through ``SoundDeviceOutput`` is recorded from the
speaker sink's monitor, speech played into the virtual microphone is captured through
``SoundDeviceInput``, and the server is killed and restarted under open streams. They wait
for what the audio contains, never for the clock.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import io
import itertools
import shutil
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soxr

from src.events.bus import EventBus
from src.events.conversation import ErrorReported, InputLevel
from src.presentation.devices_command import devices_command, print_devices
from src.services import audio_devices
from src.services.audio_devices import (
    NO_DEVICE_MESSAGE,
    NO_PORTAUDIO_MESSAGE,
    AmbiguousDevice,
    AudioDevice,
    AudioUnavailable,
    DeviceNotFound,
    choose_device,
    list_devices,
)
from src.services.audio_io import (
    FRAME_SAMPLES,
    LEVEL_STEP_DB,
    FrameSplitter,
    LevelMeter,
    RetryBackoff,
    SoundDeviceInput,
    SoundDeviceOutput,
    dbfs,
)
from src.services.playback_buffer import PlaybackBuffer
from src.services.resampler import array_to_pcm16
from tests.fakes.fake_audio import FakeAudioInput, FakeAudioOutput
from tests.fakes.pulse import PulseServer, pulse_available, running_pulse_server

RATE = 48_000
WAIT = 60.0  # a safety net only: every wait below ends on an observed condition


def sine(freq: float, rate: int, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype(np.int16)


def device(index: int, name: str, kind: str = "input", default: bool = False) -> AudioDevice:
    return AudioDevice(index, name, kind, 2, 48_000.0, default, "ALSA")  # type: ignore[arg-type]


DEVICES = [
    device(0, "HDA Intel PCH: ALC257 Analog (hw:0,0)", "input"),
    device(0, "HDA Intel PCH: ALC257 Analog (hw:0,0)", "output"),
    device(1, "USB Headset: Audio (hw:1,0)", "input"),
    device(1, "USB Headset: Audio (hw:1,0)", "output"),
    device(2, "pulse", "input"),
    device(2, "pulse", "output"),
    device(3, "pulse monitor", "input"),
    device(4, "default", "input", default=True),
    device(4, "default", "output", default=True),
]


# --------------------------------------------------------------- choosing devices


def test_no_name_means_the_default_device() -> None:
    assert choose_device("input", None, DEVICES).name == "default"
    assert choose_device("output", "", DEVICES).name == "default"


def test_a_name_fragment_matches_case_insensitively() -> None:
    chosen = choose_device("output", "usb headset", DEVICES)
    assert (chosen.index, chosen.kind) == (1, "output")


def test_an_exact_name_wins_over_names_that_contain_it() -> None:
    assert choose_device("input", "PULSE", DEVICES).index == 2


def test_an_index_picks_that_device() -> None:
    assert choose_device("input", 3, DEVICES).name == "pulse monitor"


def test_an_ambiguous_name_lists_the_candidates() -> None:
    with pytest.raises(AmbiguousDevice) as err:
        choose_device("input", "hw:", DEVICES)
    assert err.value.candidates == (
        "0: HDA Intel PCH: ALC257 Analog (hw:0,0)",
        "1: USB Headset: Audio (hw:1,0)",
    )
    assert "More than one input device matches 'hw:'" in str(err.value)


def test_an_unknown_name_lists_what_there_is() -> None:
    with pytest.raises(DeviceNotFound) as err:
        choose_device("output", "bluetooth", DEVICES)
    assert "No output device matches 'bluetooth'" in str(err.value)
    assert "1: USB Headset: Audio (hw:1,0)" in err.value.available
    with pytest.raises(DeviceNotFound):
        choose_device("output", 3, DEVICES)  # index 3 is input-only


def test_no_device_of_a_kind_is_a_plain_unavailable_error() -> None:
    inputs_only = [d for d in DEVICES if d.kind == "input"]
    with pytest.raises(AudioUnavailable) as err:
        choose_device("output", None, inputs_only)
    assert str(err.value) == NO_DEVICE_MESSAGE


class _NoPortAudio(importlib.abc.MetaPathFinder):
    """Makes ``import sounddevice`` fail the way it does without libportaudio2."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "sounddevice":
            raise OSError("PortAudio library not found")


def test_missing_portaudio_is_a_plain_unavailable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPortAudio(), *sys.meta_path])
    with pytest.raises(AudioUnavailable) as err:
        list_devices()
    assert str(err.value) == NO_PORTAUDIO_MESSAGE
    out = io.StringIO()
    assert devices_command(out) == 3
    assert out.getvalue() == NO_PORTAUDIO_MESSAGE + "\n"


# ----------------------------------------------------------------- devices command


def test_devices_command_lists_both_directions_and_marks_defaults() -> None:
    out = io.StringIO()
    assert print_devices(DEVICES, out) == 0
    text = out.getvalue()
    assert text.index("Microphones") < text.index("pulse monitor") < text.index("Speakers")
    assert "*  4  default (2 ch, 48000 Hz, ALSA)" in text
    assert "   1  USB Headset: Audio (hw:1,0)" in text


def test_devices_command_without_devices_says_so_and_exits_3() -> None:
    out = io.StringIO()
    assert devices_command(out, lister=list) == 3
    assert out.getvalue() == NO_DEVICE_MESSAGE + "\n"


# ----------------------------------------------------------------- small helpers


def test_level_meter_reports_at_most_once_per_50_ms_of_audio() -> None:
    meter = LevelMeter(RATE, interval_ms=50)
    tone = sine(1000, RATE, 1.0, amplitude=1.0)
    levels = [meter.feed(tone[i : i + FRAME_SAMPLES]) for i in range(0, len(tone), FRAME_SAMPLES)]
    reported = [lvl for lvl in levels if lvl is not None]
    assert len(reported) == 20
    assert reported[0] == pytest.approx(-3.0, abs=0.1)  # a full-scale sine's RMS
    assert meter.feed(np.zeros(2400, dtype=np.int16)) == -100.0
    assert dbfs(np.zeros(0, dtype=np.int16)) == -100.0
    assert dbfs(tone) == pytest.approx(-3.0, abs=0.1)


def test_frame_splitter_cuts_exact_frames_and_keeps_the_rest() -> None:
    splitter = FrameSplitter(480)
    data = np.arange(1000, dtype=np.int16)
    frames = splitter.push(data[:700]) + splitter.push(data[700:])
    assert [len(f) for f in frames] == [480, 480]
    assert np.array_equal(np.concatenate(frames), data[:960])
    last = splitter.flush_padded()
    assert last is not None
    assert np.array_equal(last[:40], data[960:])
    assert not last[40:].any()
    assert splitter.flush_padded() is None


def test_backoff_grows_to_its_ceiling() -> None:
    backoff = RetryBackoff(initial=0.25, factor=2.0, maximum=2.0)
    assert [backoff.delay(n) for n in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]


# ----------------------------------------------------------------------- fakes


async def test_fake_microphone_delivers_exact_frames_on_demand() -> None:
    def blocks() -> Iterator[np.ndarray]:
        yield np.ones(700, dtype=np.int16)
        yield np.full(300, 2, dtype=np.int16)

    frames: list[np.ndarray] = []
    mic = FakeAudioInput(blocks())
    assert mic.feed() == 0  # not started
    await mic.start(frames.append)
    assert mic.feed(1) == 1
    assert mic.feed() == 2
    assert [len(f) for f in frames] == [480, 480, 480]
    assert int(frames[2][39]) == 2
    assert not frames[2][40:].any()  # the remainder, padded with silence
    assert mic.feed() == 0
    assert mic.sample_rate == RATE


async def test_fake_microphone_reports_device_loss_like_the_real_one() -> None:
    bus = EventBus()
    reports: list[ErrorReported] = []
    bus.subscribe(ErrorReported, reports.append)
    mic = FakeAudioInput(np.ones(4800, dtype=np.int16), bus=bus)
    frames: list[np.ndarray] = []
    await mic.start(frames.append)
    await mic.lose_device()
    assert mic.feed() == 0
    assert mic.state == "recovering"
    await mic.restore_device()
    assert mic.feed() == 10
    await bus.drain()
    assert [r.source for r in reports] == ["audio", "audio"]
    assert "stopped working" in reports[0].message
    assert "working again" in reports[1].message
    await bus.close()


async def test_fake_speaker_pulls_from_the_playback_buffer() -> None:
    buffer = PlaybackBuffer(prebuffer_ms=0)
    buffer.push("item", array_to_pcm16(np.full(2400, 500, dtype=np.int16)))  # 100 ms at 24 kHz
    buffer.end_item("item")
    speaker = FakeAudioOutput()
    await speaker.start(buffer.read)
    played = speaker.play(150)
    assert len(played) == 150 * 48
    assert speaker.played_ms == 150
    assert buffer.played_ms("item") == 100
    await speaker.stop()
    with pytest.raises(RuntimeError):
        speaker.play(10)


# ------------------------------------------------------- real devices on PulseAudio


@pytest.fixture(scope="module")
def pulse() -> Iterator[PulseServer]:
    with running_pulse_server() as server:
        yield server


class Recorder:
    """Collects captured frames; signals the first frame, and a sound that came and went.

    Frames arrive on the microphone's thread, so the events are set on the loop through
    ``call_soon_threadsafe``; the threads frames came from are kept for the tests to check.
    """

    def __init__(self, threshold_dbfs: float = -50.0, quiet_frames_after: int = 30) -> None:
        self.frames: list[np.ndarray] = []
        self.threads: set[int] = set()
        self.first_frame = asyncio.Event()
        self.sound_ended = asyncio.Event()
        self.frame_after_mark = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._threshold = threshold_dbfs
        self._quiet_needed = quiet_frames_after
        self._loud = 0
        self._quiet_after = 0
        self._marked = False

    def on_frame(self, frame: np.ndarray) -> None:
        assert frame.dtype == np.int16 and frame.shape == (FRAME_SAMPLES,)
        self.threads.add(threading.get_ident())
        self.frames.append(frame)
        if len(self.frames) == 1:
            self._loop.call_soon_threadsafe(self.first_frame.set)
        if self._marked:
            self._marked = False
            self._loop.call_soon_threadsafe(self.frame_after_mark.set)
        if dbfs(frame) > self._threshold:
            self._loud += 1
            self._quiet_after = 0
        elif self._loud >= 5:
            self._quiet_after += 1
            if self._quiet_after == self._quiet_needed:
                self._loop.call_soon_threadsafe(self.sound_ended.set)

    def mark(self) -> None:
        """From now on, the next frame sets ``frame_after_mark``."""
        self.frame_after_mark.clear()
        self._marked = True

    @property
    def audio(self) -> np.ndarray:
        return np.concatenate(self.frames)


def loud_frames(audio: np.ndarray, threshold_dbfs: float = -50.0) -> np.ndarray:
    whole = len(audio) // FRAME_SAMPLES * FRAME_SAMPLES
    frames = audio[:whole].reshape(-1, FRAME_SAMPLES)
    return np.array([dbfs(f) > threshold_dbfs for f in frames])


async def wait(event: asyncio.Event, what: str) -> None:
    try:
        await asyncio.wait_for(event.wait(), WAIT)
    except TimeoutError:
        pytest.fail(f"gave up waiting for {what}")


@pytest.mark.parametrize("device_rate", [None, 44_100], ids=["48k", "44.1k-resampled"])
async def test_a_tone_played_through_the_speaker_reaches_the_sink(
    pulse: PulseServer, monkeypatch: pytest.MonkeyPatch, device_rate: int | None
) -> None:
    monkeypatch.setenv("PULSE_SOURCE", "spk.monitor")  # listen to what the speaker plays
    monkeypatch.setenv("PULSE_SINK", "spk")
    recorder = Recorder()
    monitor = SoundDeviceInput("pulse", stall_timeout=None, device_rate=device_rate)
    await monitor.start(recorder.on_frame)
    buffer = PlaybackBuffer()
    # At a rate other than the null sink's 48 kHz, PulseAudio resamples, and the ALSA pulse
    # plugin then underflows constantly with PortAudio's "low" 20 ms buffer while the monitor
    # is recorded (bare sounddevice does the same here); 50 ms plays cleanly.
    latency: str | float = "low" if device_rate is None else 0.05
    speaker = SoundDeviceOutput(
        "pulse", stall_timeout=None, device_rate=device_rate, latency=latency
    )
    try:
        await wait(recorder.first_frame, "the monitor to start")
        tone = sine(440, 24_000, 0.8, amplitude=0.3)
        for i in range(0, len(tone), 480):  # 20 ms deltas, as the Realtime API sends
            buffer.push("tone", array_to_pcm16(tone[i : i + 480]))
        buffer.end_item("tone")
        await speaker.start(buffer.read)
        assert speaker.device_name == "pulse"
        assert speaker.device_rate == monitor.device_rate == (device_rate or RATE)
        await wait(recorder.sound_ended, "the tone to be recorded")
    finally:
        await speaker.stop()
        await monitor.stop()
    assert buffer.played_ms("tone") == 800
    audio = recorder.audio
    loud = loud_frames(audio)
    assert loud.sum() == pytest.approx(80, abs=3)  # 0.8 s of 10 ms frames
    heard = audio[: len(loud) * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)[loud].ravel()
    spectrum = np.abs(np.fft.rfft(heard.astype(np.float64) * np.hanning(len(heard))))
    assert np.fft.rfftfreq(len(heard), 1 / RATE)[int(np.argmax(spectrum))] == pytest.approx(
        440, abs=2
    )
    assert dbfs(heard) == pytest.approx(dbfs(tone), abs=1.0)


def espeak_wav(path: Path, text: str) -> np.ndarray:
    """Synthesise ``text`` to ``path``; return the speech resampled to 48 kHz."""
    subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return np.asarray(soxr.resample(samples, rate, RATE), dtype=np.int16)


async def test_speech_into_the_virtual_microphone_is_captured(
    pulse: PulseServer, tmp_path: Path
) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    speech = espeak_wav(tmp_path / "speech.wav", "what is the weather in Paris")
    bus = EventBus()
    levels: list[float] = []
    bus.subscribe(InputLevel, lambda event: levels.append(event.dbfs))
    recorder = Recorder(quiet_frames_after=60)
    mic = SoundDeviceInput(None, bus=bus, stall_timeout=None)
    await mic.start(recorder.on_frame)
    try:
        assert mic.device_name == "default"
        await wait(recorder.first_frame, "the microphone to start")
        play = await asyncio.create_subprocess_exec(
            *pulse.play_command(tmp_path / "speech.wav"), env=pulse.client_env
        )
        assert await play.wait() == 0
        await wait(recorder.sound_ended, "the speech to be captured")
    finally:
        await mic.stop()
        await bus.drain()
        await bus.close()
    captured = recorder.audio
    spoken, heard = loud_frames(speech), loud_frames(captured)
    assert heard.sum() == pytest.approx(spoken.sum(), rel=0.1)
    voiced = captured[: len(heard) * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)[heard].ravel()
    reference = speech[: len(spoken) * FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)[spoken].ravel()
    assert dbfs(voiced) == pytest.approx(dbfs(reference), abs=1.5)
    assert max(levels) > -40.0  # the input meter moved with the speech
    # A level is published only when it moved by a step: quiet stretches publish nothing.
    assert all(abs(b - a) >= LEVEL_STEP_DB for a, b in itertools.pairwise(levels))
    # Frames are handled on the microphone's thread: the event loop is not woken for them.
    assert recorder.threads and threading.get_ident() not in recorder.threads
    assert mic.state == "stopped"


async def test_streams_report_a_lost_sound_server_and_come_back(pulse: PulseServer) -> None:
    bus = EventBus()
    reports: list[str] = []
    lost, back = asyncio.Event(), asyncio.Event()

    def on_error(event: ErrorReported) -> None:
        assert event.source == "audio"
        reports.append(event.message)
        if sum("stopped working" in r for r in reports) == 2:
            lost.set()
        if sum("working again" in r for r in reports) == 2:
            back.set()

    bus.subscribe(ErrorReported, on_error)
    quick = RetryBackoff(initial=0.05, factor=2.0, maximum=0.4)
    recorder = Recorder()
    mic = SoundDeviceInput(None, bus=bus, backoff=quick, stall_timeout=None)
    speaker = SoundDeviceOutput(None, bus=bus, backoff=quick, stall_timeout=None)
    await mic.start(recorder.on_frame)
    await speaker.start(PlaybackBuffer().read)
    try:
        await wait(recorder.first_frame, "the microphone to start")
        pulse.kill()
        await wait(lost, "both streams to report the loss")
        assert {mic.state, speaker.state} <= {"recovering", "running"}
        pulse.start()
        await wait(back, "both streams to come back")
        recorder.mark()
        await wait(recorder.frame_after_mark, "microphone frames after recovery")
        assert (mic.state, speaker.state) == ("running", "running")
        assert (mic.losses, mic.recoveries, speaker.losses, speaker.recoveries) == (1, 1, 1, 1)
    finally:
        await speaker.stop()
        await mic.stop()
        await bus.drain()
        await bus.close()
    assert any("The microphone (default) stopped working" in r for r in reports)
    assert any("The speaker is working again" in r for r in reports)


async def test_a_stalled_microphone_is_reported_and_resumes(pulse: PulseServer) -> None:
    """A suspended source never ends the stream; only the silence of its callback shows."""
    bus = EventBus()
    reports: list[str] = []
    lost, back = asyncio.Event(), asyncio.Event()

    def on_error(event: ErrorReported) -> None:
        reports.append(event.message)
        (back if "working again" in event.message else lost).set()

    bus.subscribe(ErrorReported, on_error)
    recorder = Recorder()
    quick = RetryBackoff(initial=0.05, factor=2.0, maximum=0.2)
    mic = SoundDeviceInput(None, bus=bus, backoff=quick, stall_timeout=1.0)
    await mic.start(recorder.on_frame)
    try:
        await wait(recorder.first_frame, "the microphone to start")
        pulse.pactl("suspend-source", "mic", "1")
        await wait(lost, "the stall to be reported")
        assert "no audio for" in reports[0]
        assert not back.is_set()  # reopening a suspended source brings no audio back
        pulse.pactl("suspend-source", "mic", "0")
        await wait(back, "the microphone to come back")
        recorder.mark()
        await wait(recorder.frame_after_mark, "frames after the source resumed")
        assert mic.state == "running"
    finally:
        pulse.pactl("suspend-source", "mic", "0")
        await mic.stop()
        await bus.drain()
        await bus.close()


async def test_pulse_moves_a_stream_when_its_device_module_is_unloaded(
    pulse: PulseServer,
) -> None:
    """PulseAudio hides this kind of loss: the stream moves to another source and goes on."""
    bus = EventBus()
    reports: list[ErrorReported] = []
    bus.subscribe(ErrorReported, reports.append)
    recorder = Recorder()
    mic = SoundDeviceInput(None, bus=bus, stall_timeout=None)
    await mic.start(recorder.on_frame)
    try:
        await wait(recorder.first_frame, "the microphone to start")
        pulse.pactl("unload-module", str(pulse.module_index("source_name=mic")))
        recorder.mark()
        await wait(recorder.frame_after_mark, "frames after the source was unloaded")
        assert mic.state == "running"
    finally:
        await mic.stop()
        pulse.pactl(
            "load-module", "module-virtual-source", "source_name=mic", "master=micsink.monitor"
        )
        pulse.pactl("set-default-source", "mic")
        await bus.drain()
        await bus.close()
    assert reports == []


async def test_an_unknown_device_name_fails_at_start(pulse: PulseServer) -> None:
    mic = SoundDeviceInput("no such microphone")
    with pytest.raises(DeviceNotFound, match="no such microphone"):
        await mic.start(lambda frame: None)
    assert mic.state == "stopped"


async def test_without_a_sound_server_voice_is_unavailable_in_plain_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = pulse_available()
    if reason is not None:
        pytest.skip(reason)
    client_conf = tmp_path / "client.conf"
    client_conf.write_text("autospawn = no\n")
    try:
        with monkeypatch.context() as env:
            env.setenv("PULSE_SERVER", f"unix:{tmp_path}/nobody-listens.sock")
            env.setenv("PULSE_CLIENTCONFIG", str(client_conf))
            assert audio_devices.refresh()
            if list_devices():
                pytest.skip("this machine has sound hardware PortAudio reaches without Pulse")
            with pytest.raises(AudioUnavailable) as err:
                choose_device("input")
            assert str(err.value) == NO_DEVICE_MESSAGE
            with pytest.raises(AudioUnavailable, match="No microphone or speaker found"):
                await SoundDeviceOutput().start(PlaybackBuffer().read)
            out = io.StringIO()
            assert devices_command(out) == 3
            assert out.getvalue() == NO_DEVICE_MESSAGE + "\n"
    finally:
        audio_devices.refresh()


async def test_a_resting_speaker_makes_no_callbacks_and_plays_again_after_waking(
    pulse: PulseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rest pauses the stream without it counting as lost; wake brings the sound back."""
    monkeypatch.setenv("PULSE_SOURCE", "spk.monitor")
    monkeypatch.setenv("PULSE_SINK", "spk")
    recorder = Recorder()
    monitor = SoundDeviceInput("pulse", stall_timeout=None)
    await monitor.start(recorder.on_frame)
    buffer = PlaybackBuffer()
    pulls: list[int] = []
    loop = asyncio.get_running_loop()
    pulled = asyncio.Event()

    def pull(n: int) -> np.ndarray:
        pulls.append(n)
        loop.call_soon_threadsafe(pulled.set)
        return buffer.read(n)

    # A short stall timeout: a rest must not be taken for a stalled device.
    speaker = SoundDeviceOutput("pulse", stall_timeout=0.3)
    try:
        await wait(recorder.first_frame, "the monitor to start")
        await speaker.start(pull)
        await wait(pulled, "the speaker's first pull")
        await speaker.rest()
        resting_at = len(pulls)
        # Long enough for several stall checks and for 50 pulls, had the stream been running.
        recorder.mark()
        for _ in range(50):
            recorder.mark()
            await wait(recorder.frame_after_mark, "a monitor frame")
        assert len(pulls) == resting_at
        assert speaker.losses == 0 and speaker.state == "running"

        tone = sine(440, 24_000, 0.5, amplitude=0.3)
        buffer.push("tone", array_to_pcm16(tone))
        buffer.end_item("tone")
        await speaker.wake()
        await wait(recorder.sound_ended, "the tone after waking")
    finally:
        await speaker.stop()
        await monitor.stop()
    assert len(pulls) > resting_at
    assert speaker.losses == 0
    assert buffer.played_ms("tone") == 500
    assert loud_frames(recorder.audio).sum() == pytest.approx(50, abs=3)


@pytest.mark.parametrize(
    ("block_ms", "device_rate", "blocksize"), [(20, None, 960), (20, 44_100, 441)]
)
async def test_longer_microphone_blocks_still_arrive_as_10_ms_frames(
    pulse: PulseServer, block_ms: int, device_rate: int | None, blocksize: int
) -> None:
    """20 ms blocks at 48 kHz (half the wake-ups), 10 ms at a resampled rate; frames are
    10 ms either way (``Recorder`` checks each frame's shape)."""
    recorder = Recorder()
    mic = SoundDeviceInput("pulse", stall_timeout=None, block_ms=block_ms, device_rate=device_rate)
    await mic.start(recorder.on_frame)
    try:
        await wait(recorder.first_frame, "the first frame")
        stream = mic._keeper._stream
        assert stream is not None and stream.blocksize == blocksize
        for _ in range(5):
            recorder.mark()
            await wait(recorder.frame_after_mark, "a frame")
    finally:
        await mic.stop()
    assert len(recorder.frames) >= 5


def test_a_block_that_is_not_whole_frames_is_refused() -> None:
    with pytest.raises(ValueError, match="multiple of 10 ms"):
        SoundDeviceInput(block_ms=15)
