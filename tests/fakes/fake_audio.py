"""Fake microphone and speaker that subclass Hark's audio ports.

Nothing here runs on a clock: the test decides when frames arrive (``FakeAudioInput.feed``)
and when the speaker pulls (``FakeAudioOutput.play``), so voice-loop tests are deterministic
and instant. The fake microphone can also lose its device and get it back, reporting both on
the bus in the same words as the real adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import numpy.typing as npt

from src.events.bus import EventBus
from src.events.conversation import ErrorReported
from src.services.audio_io import (
    FRAME_SAMPLES,
    AudioInput,
    AudioOutput,
    FrameCallback,
    FrameSplitter,
    PullCallback,
    StreamState,
    device_back_message,
    device_lost_message,
)

Int16Array = npt.NDArray[np.int16]


def _blocks(source: Int16Array | Iterable[Int16Array]) -> Iterator[Int16Array]:
    if isinstance(source, np.ndarray):
        yield source
    else:
        yield from source


class FakeAudioInput(AudioInput):
    """A microphone that plays back ``source`` (48 kHz int16: an array, or blocks of any
    length from an iterable or generator) as 10 ms frames when the test calls :meth:`feed`.

    The last partial frame is padded with silence. After the source is exhausted, ``feed``
    delivers nothing (or silence, with ``then_silence=True``).
    """

    def __init__(
        self,
        source: Int16Array | Iterable[Int16Array] = (),
        *,
        device_name: str = "Fake microphone",
        bus: EventBus | None = None,
        then_silence: bool = False,
    ) -> None:
        self._name = device_name
        self._bus = bus
        self._blocks = _blocks(source)
        self._splitter = FrameSplitter(FRAME_SAMPLES)
        self._ready: list[Int16Array] = []
        self._exhausted = False
        self._then_silence = then_silence
        self._on_frame: FrameCallback | None = None
        self._state: StreamState = "stopped"
        self.delivered = 0
        """Frames handed to the callback so far."""

    @property
    def device_name(self) -> str:
        return self._name if self._state != "stopped" else ""

    @property
    def state(self) -> StreamState:
        return self._state

    async def start(self, on_frame: FrameCallback) -> None:
        self._on_frame = on_frame
        self._state = "running"

    async def stop(self) -> None:
        self._state = "stopped"
        self._on_frame = None

    def extend(self, audio: Int16Array) -> None:
        """Queue more microphone audio after what is already there (the user speaks again)."""
        pending = list(self._blocks)
        self._exhausted = False
        self._blocks = iter([*pending, audio.astype(np.int16)])

    def feed(self, frames: int | None = None) -> int:
        """Deliver the next ``frames`` frames (all that are left if None); returns how many.

        Nothing is delivered while stopped or while the device is lost.
        """
        if self._state != "running" or self._on_frame is None:
            return 0
        count = 0
        while frames is None or count < frames:
            frame = self._next_frame()
            if frame is None:
                break
            self._on_frame(frame)
            count += 1
        self.delivered += count
        return count

    def _next_frame(self) -> Int16Array | None:
        while not self._ready and not self._exhausted:
            block = next(self._blocks, None)
            if block is None:
                self._exhausted = True
                last = self._splitter.flush_padded()
                if last is not None:
                    self._ready.append(last)
            else:
                self._ready.extend(f.copy() for f in self._splitter.push(block.astype(np.int16)))
        if self._ready:
            return self._ready.pop(0)
        if self._then_silence:
            return np.zeros(FRAME_SAMPLES, dtype=np.int16)
        return None

    async def lose_device(self, reason: str = "the device was unplugged") -> None:
        """Simulate device loss: report it like the real adapter and stop delivering."""
        self._state = "recovering"
        if self._bus is not None:
            message = device_lost_message("microphone", self._name, reason)
            await self._bus.publish(ErrorReported(source="audio", message=message))

    async def restore_device(self) -> None:
        """The device is back: report it and deliver frames again."""
        self._state = "running"
        if self._bus is not None:
            message = device_back_message("microphone", self._name)
            await self._bus.publish(ErrorReported(source="audio", message=message))


class FakeAudioOutput(AudioOutput):
    """A speaker that pulls only when the test says ``play(ms)``, and keeps all it played."""

    def __init__(self, *, device_name: str = "Fake speaker", block_ms: int = 10) -> None:
        self._name = device_name
        self._block = FRAME_SAMPLES * block_ms // 10
        self._pull: PullCallback | None = None
        self._state: StreamState = "stopped"
        self._played: list[Int16Array] = []
        self.resting = False
        self.rests = 0
        self.wakes = 0

    @property
    def device_name(self) -> str:
        return self._name if self._state != "stopped" else ""

    @property
    def state(self) -> StreamState:
        return self._state

    async def start(self, pull: PullCallback) -> None:
        self._pull = pull
        self._state = "running"

    async def stop(self) -> None:
        self._state = "stopped"
        self._pull = None

    async def rest(self) -> None:
        self.resting = True
        self.rests += 1

    async def wake(self) -> None:
        self.resting = False
        self.wakes += 1

    def play(self, ms: int) -> Int16Array:
        """Pull ``ms`` milliseconds in device-sized blocks (10 ms by default); return them.

        A resting speaker does not pull, as a paused stream makes no callbacks: the time
        passes in silence."""
        if self._pull is None:
            raise RuntimeError("the fake speaker is not started")
        total = self.sample_rate * ms // 1000
        if self.resting:
            quiet = np.zeros(total, dtype=np.int16)
            self._played.append(quiet)
            return quiet
        got: list[Int16Array] = []
        done = 0
        while done < total:
            n = min(self._block, total - done)
            block = np.asarray(self._pull(n), dtype=np.int16)
            if block.shape != (n,):
                raise AssertionError(f"pull({n}) returned shape {block.shape}")
            got.append(block.copy())
            done += n
        self._played.extend(got)
        return np.concatenate(got) if got else np.zeros(0, dtype=np.int16)

    @property
    def played(self) -> Int16Array:
        """Everything pulled so far, in order."""
        if not self._played:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._played)

    @property
    def played_ms(self) -> int:
        return int(sum(b.shape[0] for b in self._played)) * 1000 // self.sample_rate
