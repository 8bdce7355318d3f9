"""Microphone and speaker: two ports, and their PortAudio (``sounddevice``) adapters.

The voice loop talks to :class:`AudioInput` and :class:`AudioOutput` only; tests use the fakes
in ``tests/fakes/fake_audio.py``, which subclass them. Inside Hark audio is mono int16 at
48 kHz in 10 ms frames (480 samples), the rate echo cancellation and VAD run at; when a device
runs at another rate the adapter resamples, so nothing upstream has to care.

Threads: PortAudio calls the stream callbacks on its own threads. The microphone callback
resamples (if the device needs it), cuts 10 ms frames, meters them and hands each frame to
the consumer right there, on the audio thread: the consumer (the voice session) does its
per-frame work there too and wakes the event loop only when it has something for it, so an
idle listener does not wake the loop a hundred times a second. The speaker callback pulls
from a thread-safe source (the :class:`~src.services.playback_buffer.PlaybackBuffer`) that
never blocks.

Device loss: a stream that ends without being asked to (its *finished* callback fires, e.g.
when the sound server dies), or whose callback goes silent for ``stall_timeout`` seconds (a
suspended or hung device), is reported on the bus as ``ErrorReported(source="audio")``; then
the adapter reopens it with backoff (the chosen device, else the default) until audio flows
again, reports that it is back, and carries on. The caller is never raised at for this.
PulseAudio itself moves a stream to another device when its device is removed, so PortAudio
on Pulse sees no loss in that case; the sound server going away is what it does see.

Level meter events are computed on the audio thread and published on the loop, and only
when the level has moved by ``LEVEL_STEP_DB`` since the last one: a quiet room then costs
no loop wake-ups for the meter at all.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from src.events.bus import EventBus
from src.events.conversation import ErrorReported, InputLevel
from src.events.tasks import TaskOwner
from src.services import audio_devices
from src.services.audio_devices import (
    AudioDevice,
    AudioError,
    AudioStreamError,
    DeviceKind,
    DeviceNotFound,
    choose_device,
    load_sounddevice,
)
from src.services.loop_handoff import hand_to_loop
from src.services.resampler import Resampler

log = logging.getLogger(__name__)

PROCESSING_RATE = 48_000
FRAME_SAMPLES = PROCESSING_RATE // 100  # 10 ms
SILENCE_DBFS = -100.0
LEVEL_STEP_DB = 1.0
"""The meter is published when the level moved this much: finer steps are invisible on a
bar, and a room's noise floor wobbles by less, so a quiet room sends no meter events."""

Int16Array = npt.NDArray[np.int16]
FrameCallback = Callable[[Int16Array], None]
"""Receives each 10 ms, 48 kHz mono int16 microphone frame, on the microphone's thread
(PortAudio's callback thread; the caller's for fakes). It must not block, and it hands
anything for asyncio to the loop itself (``call_soon_threadsafe``)."""
PullCallback = Callable[[int], Int16Array]
"""Given a sample count at 48 kHz, returns exactly that many int16 samples to play.
Called on the audio thread: it must not block (``PlaybackBuffer.read`` is one)."""
StreamState = Literal["stopped", "running", "recovering"]
DeviceQuery = str | int | None


def device_lost_message(label: str, device: str, reason: str) -> str:
    """What the user reads when a device stops; shared with the fakes so they say the same."""
    return f"The {label} ({device}) stopped working: {reason}. Hark keeps trying to reconnect it."


def device_back_message(label: str, device: str) -> str:
    return f"The {label} is working again ({device})."


# ------------------------------------------------------------------------------- ports


class _SoundDevicePort(abc.ABC):
    """What every sound device reports, whichever way its audio flows."""

    sample_rate: int = PROCESSING_RATE

    @property
    @abc.abstractmethod
    def device_name(self) -> str:
        """The device in use ("" before it is started)."""

    @property
    @abc.abstractmethod
    def state(self) -> StreamState:
        """stopped, running, or recovering from a lost device."""


class AudioInput(_SoundDevicePort):
    """Port: a microphone that delivers 10 ms, 48 kHz mono int16 frames to a callback."""

    @abc.abstractmethod
    async def start(self, on_frame: FrameCallback) -> None:
        """Open the device and call ``on_frame`` on the audio thread for every frame.

        Raises :class:`~src.services.audio_devices.AudioError` if it cannot start at all.
        """

    @abc.abstractmethod
    async def stop(self) -> None:
        """Close the device; no frame is delivered after this returns."""


class AudioOutput(_SoundDevicePort):
    """Port: a speaker that pulls 48 kHz mono int16 samples on its own clock."""

    @abc.abstractmethod
    async def start(self, pull: PullCallback) -> None:
        """Open the device; from now on it calls ``pull`` (on its thread) for what to play."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Close the device; ``pull`` is not called after this returns."""

    async def rest(self) -> None:
        """Nothing to play for a while: stop pulling until :meth:`wake` (the device stays
        open). A speaker that cannot rest simply goes on pulling silence."""

    async def wake(self) -> None:
        """Pull again after :meth:`rest`; returns once the device is running."""


# ------------------------------------------------------------------- small helpers


def dbfs(samples: npt.NDArray[np.int16]) -> float:
    """RMS level of int16 samples in dB relative to full scale (floor: -100 dBFS)."""
    if samples.shape[0] == 0:
        return SILENCE_DBFS
    as_float = samples.astype(np.float32)
    rms = math.sqrt(float(np.dot(as_float, as_float)) / samples.shape[0])
    if rms <= 0.0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * math.log10(rms / 32768.0))


class LevelMeter:
    """RMS level over fixed stretches of audio, for the input meter.

    It counts samples rather than reading a clock, so it yields at most one value per
    ``interval_ms`` of audio (20 a second by default) whatever the callback timing, and
    tests of it are deterministic.
    """

    def __init__(self, rate: int = PROCESSING_RATE, interval_ms: int = 50) -> None:
        self._window = max(1, rate * interval_ms // 1000)
        self._energy = 0.0
        self._count = 0

    def feed(self, samples: npt.NDArray[np.int16]) -> float | None:
        """Add samples; return the level (dBFS) when a full interval has been seen."""
        as_float = samples.astype(np.float32)
        self._energy += float(np.dot(as_float, as_float))
        self._count += samples.shape[0]
        if self._count < self._window:
            return None
        rms = math.sqrt(self._energy / self._count)
        self._energy, self._count = 0.0, 0
        if rms <= 0.0:
            return SILENCE_DBFS
        return max(SILENCE_DBFS, 20.0 * math.log10(rms / 32768.0))


class FrameSplitter:
    """Cuts blocks of any length into exact ``size``-sample frames, keeping the remainder."""

    def __init__(self, size: int = FRAME_SAMPLES) -> None:
        self.size = size
        self._pending: Int16Array = np.zeros(0, dtype=np.int16)

    def push(self, block: Int16Array) -> list[Int16Array]:
        if not self._pending.shape[0] and block.shape[0] == self.size:
            return [block]  # the common case: the device already delivers 10 ms blocks
        data = np.concatenate((self._pending, block)) if self._pending.shape[0] else block
        whole = data.shape[0] - data.shape[0] % self.size
        self._pending = data[whole:].copy()
        return [data[i : i + self.size] for i in range(0, whole, self.size)]

    @property
    def pending_samples(self) -> int:
        return int(self._pending.shape[0])

    def flush_padded(self) -> Int16Array | None:
        """The held-back remainder padded with silence to a whole frame (None if empty)."""
        if not self._pending.shape[0]:
            return None
        frame = np.zeros(self.size, dtype=np.int16)
        frame[: self._pending.shape[0]] = self._pending
        self.reset()
        return frame

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)


@dataclass(frozen=True)
class RetryBackoff:
    """Exponential backoff between attempts to reopen a lost device."""

    initial: float = 0.25
    factor: float = 2.0
    maximum: float = 5.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (0-based)."""
        return float(min(self.maximum, self.initial * self.factor ** min(attempt, 32)))


# --------------------------------------------------------------- stream keeping


StreamFactory = Callable[[ModuleType, AudioDevice, int, Callable[[], None]], Any]
"""Builds an unstarted sounddevice stream: (sd, device, rate, finished_callback) -> stream."""


class _StreamKeeper:
    """Keeps one PortAudio stream open: opens it, notices loss, reopens with backoff.

    Shared by both adapters, which only supply how to build their stream. Every open and
    close runs in a worker thread (PortAudio setup can take a while, and ``stop`` waits for
    the callback), serialised by ``audio_devices.PORTAUDIO_LOCK``. Each opened stream gets a
    generation number, so a *finished* notice from a stream Hark closed on purpose, or from
    an older stream, is told apart from a real loss.

    A stream counts as alive once its callback has run. Two silences count as loss: no first
    callback within ``first_audio_timeout`` of opening, and (when ``stall_timeout`` is set)
    no callback for ``stall_timeout`` seconds after that; a suspended or hung device never
    calls *finished*. A reopened device is reported back only when audio flows again.
    """

    def __init__(
        self,
        *,
        kind: DeviceKind,
        label: str,
        query: DeviceQuery,
        factory: StreamFactory,
        bus: EventBus | None,
        backoff: RetryBackoff,
        stall_timeout: float | None,
        first_audio_timeout: float,
        device_rate: int | None,
        tasks: TaskOwner,
    ) -> None:
        self.kind = kind
        self._device_rate = device_rate
        self.label = label
        self.query = query
        self._factory = factory
        self._bus = bus
        self._backoff = backoff
        self._stall_timeout = stall_timeout
        self._first_audio_timeout = first_audio_timeout
        self._tasks = tasks
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: Any = None
        self._generation = 0
        self._stopping = threading.Event()
        self._opened_at = time.monotonic()
        self._last_alive = self._opened_at
        self._awaiting_first = False
        self._first_audio = asyncio.Event()
        self._resting = False  # paused on purpose: no callbacks, and none expected
        self.state: StreamState = "stopped"
        self.device: AudioDevice | None = None
        self.rate = PROCESSING_RATE
        self.losses = 0
        self.recoveries = 0

    async def start(self) -> None:
        if self.state != "stopped":
            raise RuntimeError(f"the {self.label} is already started")
        self._loop = asyncio.get_running_loop()
        self._stopping.clear()
        self._first_audio = asyncio.Event()
        await asyncio.to_thread(self._open_preferred, fall_back=False)
        self.state = "running"
        if self._stall_timeout is not None:
            self._tasks.spawn(self._watch(self._stall_timeout), "stall-watch")

    async def stop(self) -> None:
        self._stopping.set()
        self.state = "stopped"
        await self._tasks.close()
        await asyncio.to_thread(self._close)

    def touch(self) -> None:
        """Called from the audio callback: the stream is alive (no lock, no allocation
        except once per opened stream, to signal its first audio to the loop)."""
        self._last_alive = time.monotonic()
        if self._awaiting_first:
            self._awaiting_first = False
            self._to_loop(self._first_audio.set)

    def finished_callback(self, generation: int) -> Callable[[], None]:
        """The *finished* hook for stream ``generation``; runs on PortAudio's thread."""

        def finished() -> None:
            if not self._stopping.is_set() and not self._resting:
                self._to_loop(self._lost, generation, "the stream stopped")

        return finished

    def _to_loop(self, callback: Callable[..., None], *args: Any) -> None:
        hand_to_loop(self._loop, callback, *args)

    # -- on the event loop

    def _lost(self, generation: int, reason: str) -> None:
        if self.state != "running" or generation != self._generation:
            return
        self.state = "recovering"
        self.losses += 1
        self._tasks.spawn(self._recover(reason), "recover")

    async def _recover(self, reason: str) -> None:
        name = self.device.name if self.device else "unknown device"
        log.warning("%s %s lost: %s", self.label, name, reason)
        await self._publish(device_lost_message(self.label, name, reason))
        await asyncio.to_thread(self._close)
        attempt = 0
        while not self._stopping.is_set():
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1
            if await self._try_reopen(attempt):
                break
        if self._stopping.is_set():
            return
        self.state = "running"
        self.recoveries += 1
        back = self.device.name if self.device else "default device"
        log.warning("%s is back on %s after %d attempt(s)", self.label, back, attempt)
        await self._publish(device_back_message(self.label, back))

    async def _try_reopen(self, attempt: int) -> bool:
        """One recovery attempt: open, then insist on audio actually flowing."""
        self._first_audio = asyncio.Event()
        try:
            await asyncio.to_thread(self._reopen)
        except AudioError as exc:
            log.info("%s still unavailable (attempt %d): %s", self.label, attempt, exc)
            return False
        try:
            await asyncio.wait_for(self._first_audio.wait(), self._first_audio_timeout)
        except TimeoutError:
            log.info("%s reopened but silent (attempt %d); trying again", self.label, attempt)
            await asyncio.to_thread(self._close)
            return False
        return True

    async def _watch(self, stall_timeout: float) -> None:
        """Catch streams that go quiet without finishing (a suspended or hung device)."""
        interval = min(stall_timeout, self._first_audio_timeout) / 4
        while True:
            await asyncio.sleep(interval)
            if self.state != "running":
                continue
            if self._resting:
                continue  # no callbacks are expected while resting
            now = time.monotonic()
            if self._awaiting_first:
                if now - self._opened_at > self._first_audio_timeout:
                    self._lost(self._generation, "no audio from the device")
            elif now - self._last_alive > stall_timeout:
                silent = now - self._last_alive
                self._lost(self._generation, f"no audio for {silent:.1f} s")

    async def _publish(self, message: str) -> None:
        if self._bus is not None:
            await self._bus.publish(ErrorReported(source="audio", message=message))

    async def rest(self) -> None:
        """Pause the open stream (no callbacks) without closing the device."""
        await asyncio.to_thread(self._rest)

    async def wake(self) -> None:
        """Restart a resting stream; a device that is gone by now counts as lost."""
        try:
            await asyncio.to_thread(self._wake)
        except AudioError as exc:
            self._lost(self._generation, str(exc))

    # -- on a worker thread

    def _rest(self) -> None:
        with audio_devices.PORTAUDIO_LOCK:
            if self._stream is None or self._resting or self._stopping.is_set():
                return
            self._resting = True
            # abort, not stop: stop waits for the device to play out its buffer (1.7 s on
            # PulseAudio); what is left in it is silence anyway.
            self._stream.abort(ignore_errors=True)

    def _wake(self) -> None:
        sd = load_sounddevice()
        with audio_devices.PORTAUDIO_LOCK:
            if self._stream is None or not self._resting:
                return
            self._last_alive = time.monotonic()
            try:
                self._stream.start()
            except sd.PortAudioError as exc:
                raise AudioStreamError(f"Could not restart the {self.label}: {exc}") from exc
            finally:
                self._resting = False

    def _reopen(self) -> None:
        """Re-enumerate devices if nothing else is open (a device may have come back under
        another index), then open the chosen device, or the default one."""
        audio_devices.refresh()
        self._open_preferred(fall_back=True)

    def _open_preferred(self, *, fall_back: bool) -> None:
        try:
            device = choose_device(self.kind, self.query)
        except DeviceNotFound:
            if not fall_back or self.query in (None, ""):
                raise
            device = choose_device(self.kind, None)
        self._open(device)

    def _open(self, device: AudioDevice) -> None:
        sd = load_sounddevice()
        with audio_devices.PORTAUDIO_LOCK:
            if self._stopping.is_set():
                return
            rate = self._pick_rate(sd, device)
            self._generation += 1
            self._awaiting_first = True
            self._opened_at = time.monotonic()
            stream = None
            try:
                stream = self._factory(sd, device, rate, self.finished_callback(self._generation))
                stream.start()
            except sd.PortAudioError as exc:
                self._generation += 1
                self._awaiting_first = False
                if stream is not None:
                    stream.close(ignore_errors=True)
                raise AudioStreamError(
                    f"Could not open the {self.label} '{device.name}': {exc}"
                ) from exc
            self._stream = stream
            self.device = device
            self.rate = rate
            audio_devices.stream_opened()

    def _pick_rate(self, sd: ModuleType, device: AudioDevice) -> int:
        """The rate asked for; else 48 kHz when the device takes it (no resampling), else the
        device's own rate."""
        if self._device_rate is not None:
            return self._device_rate
        check = sd.check_input_settings if self.kind == "input" else sd.check_output_settings
        try:
            check(device=device.index, samplerate=PROCESSING_RATE, channels=1, dtype="int16")
        except sd.PortAudioError:
            return int(device.default_rate)
        return PROCESSING_RATE

    def _close(self) -> None:
        with audio_devices.PORTAUDIO_LOCK:
            stream, self._stream = self._stream, None
            if stream is None:
                return
            self._generation += 1  # its finished notice is now expected, not a loss
            self._awaiting_first = False
            try:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
            finally:
                audio_devices.stream_closed()


# ---------------------------------------------------------------------- adapters


class _KeptStream:
    """What both sound-device adapters report about the stream their keeper looks after."""

    _keeper: _StreamKeeper

    @property
    def device_name(self) -> str:
        return self._keeper.device.name if self._keeper.device else ""

    @property
    def device_rate(self) -> int:
        """The rate the device runs at (audio is resampled to 48 kHz if it differs)."""
        return self._keeper.rate

    @property
    def state(self) -> StreamState:
        return self._keeper.state

    @property
    def losses(self) -> int:
        return self._keeper.losses

    @property
    def recoveries(self) -> int:
        return self._keeper.recoveries


class SoundDeviceInput(_KeptStream, AudioInput):
    """The microphone through PortAudio (``sounddevice.InputStream``, int16, mono), delivered
    as 10 ms frames.

    ``device`` is a part of a device name, a PortAudio index, or None for the system default.
    ``bus`` receives ``InputLevel`` at most once per ``level_interval_ms`` of audio (when the
    level moved by ``LEVEL_STEP_DB``), and ``ErrorReported(source="audio")`` when the device
    is lost and when it is back. ``latency`` is PortAudio's ("low", "high" or seconds);
    ``backoff`` paces reopen attempts; ``stall_timeout`` (None: off) and
    ``first_audio_timeout`` decide when a silent stream counts as lost; ``device_rate``
    forces the device's rate (default: 48 kHz if it takes it, else its own rate; frames are
    resampled to 48 kHz either way). ``block_ms`` is how much audio each callback brings
    (a multiple of 10 ms): fewer wake-ups of the sound thread against a little latency.
    """

    def __init__(
        self,
        device: DeviceQuery = None,
        *,
        bus: EventBus | None = None,
        latency: str | float = "low",
        backoff: RetryBackoff | None = None,
        stall_timeout: float | None = 5.0,
        first_audio_timeout: float = 10.0,
        device_rate: int | None = None,
        level_interval_ms: int = 50,
        block_ms: int = 20,
    ) -> None:
        if block_ms < 10 or block_ms % 10:
            raise ValueError(f"block_ms must be a multiple of 10 ms, not {block_ms}")
        self._block_ms = block_ms
        self._tasks = TaskOwner("audio-input")
        self._keeper = _StreamKeeper(
            kind="input",
            label="microphone",
            query=device,
            factory=self._make_stream,
            bus=bus,
            backoff=backoff or RetryBackoff(),
            stall_timeout=stall_timeout,
            first_audio_timeout=first_audio_timeout,
            device_rate=device_rate,
            tasks=self._tasks,
        )
        self._bus = bus
        self._latency = latency
        self._meter = LevelMeter(PROCESSING_RATE, level_interval_ms)
        self._splitter = FrameSplitter()
        self._resampler: Resampler | None = None
        self._on_frame: FrameCallback | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._delivering = False
        self._shown_level = math.inf  # the level last published; none yet
        self.overflows = 0
        """Blocks PortAudio reported as overflowed (audio lost before Hark saw it)."""
        self.consumer_errors = 0
        """Frames whose consumer raised (logged once; the stream carries on)."""

    async def start(self, on_frame: FrameCallback) -> None:
        self._on_frame = on_frame
        self._loop = asyncio.get_running_loop()
        self._shown_level = math.inf
        self._delivering = True
        try:
            await self._keeper.start()
        except BaseException:
            self._delivering = False
            raise

    async def stop(self) -> None:
        self._delivering = False
        await self._keeper.stop()

    def _make_stream(
        self, sd: ModuleType, device: AudioDevice, rate: int, finished: Callable[[], None]
    ) -> Any:
        self._resampler = None if rate == PROCESSING_RATE else Resampler(rate, PROCESSING_RATE)
        self._splitter.reset()
        return sd.InputStream(
            device=device.index,
            samplerate=rate,
            channels=1,
            dtype="int16",
            blocksize=rate * self._block_ms_at(rate) // 1000,
            latency=self._latency,
            callback=self._callback,
            finished_callback=finished,
        )

    def _block_ms_at(self, rate: int) -> int:
        """The block length for a device at ``rate``. Blocks are cut into 10 ms frames on
        arrival, so a longer block only means fewer wake-ups. A device that runs at another
        rate than 48 kHz keeps 10 ms: through the ALSA plugin to a PulseAudio that resamples,
        20 ms capture blocks starved the speaker (700+ underflows in 0.8 s on the test rig)."""
        return self._block_ms if rate == PROCESSING_RATE else 10

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: resample if needed, cut into 10 ms frames, meter, hand over.

        A consumer that raises is logged (the first time) and counted, never let through:
        an exception here would make PortAudio abort the stream.
        """
        self._keeper.touch()
        if status.input_overflow:
            self.overflows += 1
        on_frame = self._on_frame
        if not self._delivering or on_frame is None:
            return
        resampler = self._resampler
        block = indata[:, 0]
        samples = resampler.process(block) if resampler is not None else block.copy()
        for frame in self._splitter.push(samples):
            self._meter_level(frame)
            try:
                on_frame(frame)
            except Exception:
                self.consumer_errors += 1
                if self.consumer_errors == 1:
                    log.exception("the microphone's consumer failed on a frame")

    def _meter_level(self, frame: Int16Array) -> None:
        level = self._meter.feed(frame)
        if level is None or self._bus is None:
            return
        shown = round(level, 1)
        if abs(shown - self._shown_level) < LEVEL_STEP_DB:
            return
        self._shown_level = shown
        hand_to_loop(self._loop, self._publish_level, shown)

    def _publish_level(self, dbfs_value: float) -> None:
        if self._bus is not None and self._delivering:
            self._tasks.spawn(self._bus.publish(InputLevel(dbfs=dbfs_value)), "level")


class _RateBridge:
    """Feeds a device running at another rate from a 48 kHz pull source, on the audio thread."""

    def __init__(self, device_rate: int) -> None:
        self._resampler = Resampler(PROCESSING_RATE, device_rate)
        self._pending: Int16Array = np.zeros(0, dtype=np.int16)

    def fill(self, out: npt.NDArray[np.int16], pull: PullCallback) -> None:
        n = out.shape[0]
        parts = [self._pending]
        have = self._pending.shape[0]
        while have < n:
            chunk = self._resampler.process(pull(FRAME_SAMPLES))
            parts.append(chunk)
            have += chunk.shape[0]
        data = np.concatenate(parts)
        out[:] = data[:n]
        self._pending = data[n:]


class SoundDeviceOutput(_KeptStream, AudioOutput):
    """The speaker through PortAudio (``sounddevice.OutputStream``, int16, mono, 10 ms).

    The arguments mean what they mean for :class:`SoundDeviceInput`. The pull source is
    always asked for 48 kHz samples; at another device rate they are resampled on the way.
    """

    def __init__(
        self,
        device: DeviceQuery = None,
        *,
        bus: EventBus | None = None,
        latency: str | float = "low",
        backoff: RetryBackoff | None = None,
        stall_timeout: float | None = 5.0,
        first_audio_timeout: float = 10.0,
        device_rate: int | None = None,
    ) -> None:
        self._tasks = TaskOwner("audio-output")
        self._keeper = _StreamKeeper(
            kind="output",
            label="speaker",
            query=device,
            factory=self._make_stream,
            bus=bus,
            backoff=backoff or RetryBackoff(),
            stall_timeout=stall_timeout,
            first_audio_timeout=first_audio_timeout,
            device_rate=device_rate,
            tasks=self._tasks,
        )
        self._latency = latency
        self._pull: PullCallback | None = None
        self._bridge: _RateBridge | None = None
        self.underflows = 0
        """Callbacks PortAudio reported as late (the device played a gap)."""

    async def start(self, pull: PullCallback) -> None:
        self._pull = pull
        await self._keeper.start()

    async def stop(self) -> None:
        await self._keeper.stop()

    async def rest(self) -> None:
        await self._keeper.rest()

    async def wake(self) -> None:
        await self._keeper.wake()

    def _make_stream(
        self, sd: ModuleType, device: AudioDevice, rate: int, finished: Callable[[], None]
    ) -> Any:
        self._bridge = None if rate == PROCESSING_RATE else _RateBridge(rate)
        return sd.OutputStream(
            device=device.index,
            samplerate=rate,
            channels=1,
            dtype="int16",
            blocksize=rate // 100,
            latency=self._latency,
            callback=self._callback,
            finished_callback=finished,
        )

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: fill the device's buffer from the pull source."""
        self._keeper.touch()
        if status.output_underflow:
            self.underflows += 1
        pull = self._pull
        if pull is None:
            outdata.fill(0)
            return
        bridge = self._bridge
        if bridge is None:
            outdata[:, 0] = pull(frames)
        else:
            bridge.fill(outdata[:, 0], pull)
