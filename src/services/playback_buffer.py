"""The playback jitter buffer between the Realtime link and the speaker.

The server sends the assistant's audio faster than real time, in uneven bursts; the sound
card pulls 10 ms at a time on its own clock, on PortAudio's thread. This buffer sits between
the two and owns the playback clock:

* :meth:`PlaybackBuffer.push` (network side) converts 24 kHz PCM16 deltas to 48 kHz and queues
  them, tagged with their conversation item.
* :meth:`PlaybackBuffer.read` (device side) hands out exactly the samples asked for, never
  blocks, and fills silence when the queue runs dry (an *underrun*, counted).
* A short *prebuffer* (60 ms by default) is gathered before sound starts, and again after an
  underrun, so network jitter is absorbed instead of heard as stutter. An item the server
  has finished (:meth:`PlaybackBuffer.end_item`) starts at once, however short.
* Per item, the milliseconds actually handed to the device are counted. On barge-in,
  :meth:`PlaybackBuffer.flush` drops everything queued at once and reports how much of the
  interrupted item was heard: ``conversation.item.truncate`` needs exactly that, so the
  model's memory of its reply ends where the user stopped hearing it. Audio that still
  arrives for a flushed item (the server had not seen the cancel yet) is discarded.
* Listeners see every block handed to the device, silence included: the echo canceller needs
  the exact far-end signal, in step with the speaker.

Only the device side runs on the audio thread; it takes one short lock and does no
resampling or other heavy work there.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from src.services.resampler import Quality, Resampler, pcm16_to_array

log = logging.getLogger(__name__)

Int16Array = npt.NDArray[np.int16]
PlayedListener = Callable[[Int16Array], None]

PLAYBACK_RATE = 48_000
SOURCE_RATE = 24_000


@dataclass(frozen=True)
class FlushResult:
    """What a flush discarded, and what of the interrupted item had already been heard."""

    item_id: str | None
    """The item being heard when the flush came (None if nothing had started)."""
    played_ms: int
    """Milliseconds of ``item_id`` already handed to the device: ``audio_end_ms`` to truncate."""
    dropped_ms: dict[str, int] = field(default_factory=dict)
    """Per item, the queued milliseconds that will now never be played."""

    @property
    def total_dropped_ms(self) -> int:
        return sum(self.dropped_ms.values())


@dataclass
class _Segment:
    """A run of 48 kHz samples of one item; ``pos`` is how far the device has read."""

    item_id: str
    samples: Int16Array
    pos: int = 0

    @property
    def remaining(self) -> int:
        return int(self.samples.shape[0]) - self.pos


class PlaybackBuffer:
    """Queue of the assistant's audio with a playback clock, per-item accounting and flush.

    ``push``/``end_item``/``flush`` may be called from any thread (normally the event loop);
    ``read`` is meant for the sound card's callback thread. ``prebuffer_ms`` of audio must be
    queued before playing starts (0 disables it); ``history`` bounds how many items' played
    times are remembered.
    """

    def __init__(
        self,
        *,
        rate: int = PLAYBACK_RATE,
        source_rate: int = SOURCE_RATE,
        prebuffer_ms: int = 60,
        quality: Quality = "HQ",
        history: int = 64,
    ) -> None:
        if prebuffer_ms < 0:
            raise ValueError("prebuffer_ms cannot be negative")
        self.rate = rate
        self.source_rate = source_rate
        self.prebuffer_samples = rate * prebuffer_ms // 1000
        self._history = history
        # _lock guards the queue and the counters; it is the only lock read() takes.
        self._lock = threading.Lock()
        # _producer_lock serialises the network side, so resampling happens outside _lock.
        self._producer_lock = threading.Lock()
        self._resampler = Resampler(source_rate, rate, quality=quality)
        self._producing: str | None = None
        self._segments: collections.deque[_Segment] = collections.deque()
        self._queued = 0
        self._tail_complete = True
        self._playing = False
        self._current: str | None = None
        self._played: collections.OrderedDict[str, int] = collections.OrderedDict()
        self._cancelled: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._listeners: list[PlayedListener] = []
        self._arrival_listeners: list[Callable[[], None]] = []
        self.underruns = 0
        """Times the queue ran dry mid-item and silence had to be played instead."""
        self.underrun_samples = 0
        """Samples of silence played because of underruns."""
        self.late_samples_dropped = 0
        """Source samples discarded because they arrived for an item already flushed."""

    # ----------------------------------------------------------------- network side

    def push(self, item_id: str, pcm: bytes) -> None:
        """Queue a PCM16 delta (at ``source_rate``) of ``item_id``; returns at once."""
        self.push_samples(item_id, pcm16_to_array(pcm))

    def push_samples(self, item_id: str, samples: npt.NDArray[np.int16]) -> None:
        """Like :meth:`push`, for samples already decoded to int16 at ``source_rate``."""
        if samples.shape[0] == 0:
            return
        with self._producer_lock:
            if item_id in self._cancelled:
                self.late_samples_dropped += int(samples.shape[0])
                return
            if self._producing is not None and self._producing != item_id:
                self._finish_producing()
            self._producing = item_id
            out = self._resampler.process(samples)
            with self._lock:
                self._tail_complete = False
                self._append(item_id, out)
        for listener in self._arrival_listeners:
            listener()

    def end_item(self, item_id: str) -> None:
        """The server finished ``item_id``'s audio: release the resampler's tail, and let a
        short item play without waiting for the prebuffer."""
        with self._producer_lock:
            if self._producing == item_id:
                self._finish_producing()
            with self._lock:
                if self._producing is None:
                    self._tail_complete = True

    def flush(self) -> FlushResult:
        """Barge-in: drop everything queued, at once, and say what was heard and dropped.

        Later pushes for the dropped items (and for the one being heard) are discarded too,
        because the server may still be sending them when the flush happens.
        """
        with self._producer_lock:
            with self._lock:
                dropped: dict[str, int] = {}
                for seg in self._segments:
                    dropped[seg.item_id] = dropped.get(seg.item_id, 0) + seg.remaining
                item = self._current if self._current is not None else self._first_item()
                played = self._played.get(item, 0) if item is not None else 0
                self._segments.clear()
                self._queued = 0
                self._playing = False
                self._current = None
                self._tail_complete = True
            doomed = set(dropped)
            if item is not None:
                doomed.add(item)
            if self._producing is not None:
                doomed.add(self._producing)
                self._producing = None
            for gone in doomed:
                self._cancel(gone)
            self._resampler.reset()
        return FlushResult(
            item_id=item,
            played_ms=self._ms(played),
            dropped_ms={k: self._ms(v) for k, v in dropped.items()},
        )

    # ------------------------------------------------------------------ device side

    def read(self, n_samples: int) -> Int16Array:
        """The next ``n_samples`` for the speaker; silence where there is nothing to play."""
        out = np.zeros(n_samples, dtype=np.int16)
        self.read_into(out)
        return out

    def read_into(self, out: npt.NDArray[np.int16]) -> None:
        """Fill ``out`` (1-D int16) in place: the allocation-free form of :meth:`read`."""
        n = int(out.shape[0])
        with self._lock:
            filled = self._take(out, n) if self._ready_to_play() else 0
        if filled < n:
            out[filled:] = 0
        for listener in list(self._listeners):
            self._notify(listener, out)

    # ------------------------------------------------------------------- accounting

    def played_ms(self, item_id: str) -> int:
        """Milliseconds of ``item_id`` handed to the device so far (0 if unknown)."""
        with self._lock:
            return self._ms(self._played.get(item_id, 0))

    def played_samples(self, item_id: str) -> int:
        """Samples (at ``rate``) of ``item_id`` handed to the device so far."""
        with self._lock:
            return self._played.get(item_id, 0)

    @property
    def current_item(self) -> str | None:
        """The item the user is hearing (or was, until an underrun), else None."""
        with self._lock:
            return self._current

    @property
    def is_playing(self) -> bool:
        """True while queued audio is being handed to the device."""
        with self._lock:
            return self._playing

    @property
    def queued_ms(self) -> int:
        """Milliseconds queued and not yet played."""
        with self._lock:
            return self._ms(self._queued)

    def add_played_listener(self, listener: PlayedListener) -> Callable[[], None]:
        """Call ``listener`` with every block handed to the device; returns an unsubscriber.

        It runs on the audio thread, so it must be quick (copy into a ring, no I/O). A listener
        that raises is logged and removed rather than allowed to stop the speaker.
        """
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def add_arrival_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the pushing thread) whenever audio is queued: a speaker
        resting through a silence must be awake again before that audio is due."""
        self._arrival_listeners.append(listener)

    # -------------------------------------------------------------------- internals

    def _finish_producing(self) -> None:
        """Append the resampler's tail to the item being produced; caller holds producer lock."""
        item = self._producing
        tail = self._resampler.flush()
        self._producing = None
        if item is not None:
            with self._lock:
                self._append(item, tail)

    def _append(self, item_id: str, samples: Int16Array) -> None:
        if samples.shape[0]:
            self._segments.append(_Segment(item_id, samples))
            self._queued += int(samples.shape[0])

    def _ready_to_play(self) -> bool:
        if (
            not self._playing
            and self._queued
            and (self._queued >= self.prebuffer_samples or self._tail_complete)
        ):
            self._playing = True
        return self._playing

    def _take(self, out: npt.NDArray[np.int16], n: int) -> int:
        """Copy up to ``n`` queued samples into ``out``; caller holds ``_lock``."""
        filled = 0
        while filled < n and self._segments:
            seg = self._segments[0]
            count = min(n - filled, seg.remaining)
            out[filled : filled + count] = seg.samples[seg.pos : seg.pos + count]
            seg.pos += count
            filled += count
            self._queued -= count
            self._current = seg.item_id
            self._count_played(seg.item_id, count)
            if seg.remaining == 0:
                self._segments.popleft()
        if filled < n:
            self._playing = False
            if self._tail_complete:
                self._current = None
            else:
                self.underruns += 1
                self.underrun_samples += n - filled
        return filled

    def _count_played(self, item_id: str, count: int) -> None:
        if item_id in self._played:
            self._played[item_id] += count
            return
        self._played[item_id] = count
        while len(self._played) > self._history:
            self._played.popitem(last=False)

    def _cancel(self, item_id: str) -> None:
        self._cancelled[item_id] = None
        while len(self._cancelled) > self._history:
            self._cancelled.popitem(last=False)

    def _first_item(self) -> str | None:
        return self._segments[0].item_id if self._segments else None

    def _notify(self, listener: PlayedListener, block: Int16Array) -> None:
        try:
            listener(block)
        except Exception:
            log.exception("played-audio listener %r failed; removing it", listener)
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _ms(self, samples: int) -> int:
        return samples * 1000 // self.rate
