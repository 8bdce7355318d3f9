"""Microphone audio on its way to the Realtime client: from the capture thread to the loop.

The capture path runs on the microphone's own thread, so the event loop is woken only when
there is something to send. Speech goes out at once (every millisecond counts for
turn-taking); silence is batched into 100 ms chunks, so a listener in a quiet room wakes the
loop ten times a second instead of a hundred. Once nobody has spoken for 2 s the batches grow
to 500 ms (two wake-ups a second): no latency is lost by it, because speech still flushes
everything held at once, and the 2 s after speech, when the server is waiting for the
silence that ends the user's turn, keep the short batches. A batch is also converted to
24 kHz in one go: the half-band filter's cost is mostly per call, so one call per batch
instead of one per frame saves most of it (the filter keeps its state across calls, so the
samples are the same).

Each chunk crosses to the loop with one ``call_soon_threadsafe``, made while the outbox's
lock is held, so chunks reach the loop in the order they were captured; one sender task
hands them to the client in that order.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable

import numpy as np
import numpy.typing as npt

from src.services.loop_handoff import hand_to_loop
from src.services.resampler import Resampler, array_to_pcm16

log = logging.getLogger(__name__)

CAPTURE_RATE = 48_000
API_RATE = 24_000
SILENCE_BATCH_MS = 100
IDLE_BATCH_MS = 500
IDLE_AFTER_MS = 2_000
"""Silence since the last speech after which batches grow to ``IDLE_BATCH_MS``."""
MAX_QUEUED_CHUNKS = 500


class MicOutbox:
    """Batches 48 kHz capture frames from any thread and sends them as 24 kHz PCM16, in
    order, on the event loop.

    ``send`` is the Realtime client's ``send_audio``. Call :meth:`bind` on the loop before
    audio arrives, and run :meth:`run` as a task there.
    """

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[object]],
        *,
        batch_ms: int = SILENCE_BATCH_MS,
        idle_batch_ms: int = IDLE_BATCH_MS,
        idle_after_ms: int = IDLE_AFTER_MS,
        max_chunks: int = MAX_QUEUED_CHUNKS,
    ) -> None:
        self._send = send
        self._batch_samples = CAPTURE_RATE * batch_ms // 1000
        self._idle_batch_samples = CAPTURE_RATE * idle_batch_ms // 1000
        self._idle_after_samples = CAPTURE_RATE * idle_after_ms // 1000
        self._quiet = 0  # samples since the last urgent (speech) frame
        self._lock = threading.Lock()  # the capture thread adds, the loop flushes
        self._frames: list[npt.NDArray[np.int16]] = []
        self._held = 0  # samples in _frames
        self._to_api = Resampler(CAPTURE_RATE, API_RATE)  # half-band: under 0.5 ms of delay
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=max_chunks)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.chunks_handed_over = 0
        """Chunks that left the capture thread for the loop."""
        self.chunks_sent = 0
        """Chunks the Realtime client has taken."""

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def add(self, frame48k: npt.NDArray[np.int16], *, urgent: bool) -> None:
        """Any thread: queue a capture frame; hand everything held to the loop now if
        ``urgent`` (speech) or once a batch has gathered (100 ms, 500 ms when idle)."""
        samples = int(frame48k.shape[0])
        with self._lock:
            self._frames.append(frame48k)
            self._held += samples
            self._quiet = 0 if urgent else self._quiet + samples
            idle = self._quiet >= self._idle_after_samples
            batch = self._idle_batch_samples if idle else self._batch_samples
            if urgent or self._held >= batch:
                self._hand_over()

    def flush(self) -> None:
        """Any thread: hand over whatever is held, however short."""
        with self._lock:
            if self._frames:
                self._hand_over()

    def _hand_over(self) -> None:
        """Caller holds ``_lock``: the hop is made inside it, so chunks keep their order."""
        frames, self._frames, self._held = self._frames, [], 0
        block = frames[0] if len(frames) == 1 else np.concatenate(frames)
        pcm = self._to_api.process(block)
        if not pcm.size:
            return
        if hand_to_loop(self._loop, self._enqueue, array_to_pcm16(pcm)):
            self.chunks_handed_over += 1

    def _enqueue(self, chunk: bytes) -> None:
        try:
            self._queue.put_nowait(chunk)
        except asyncio.QueueFull:
            log.warning("the Realtime link is not keeping up; dropped %d bytes", len(chunk))

    async def run(self) -> None:
        """The sender: one chunk at a time, in capture order, for as long as the session."""
        while True:
            chunk = await self._queue.get()
            try:
                await self._send(chunk)
                self.chunks_sent += 1
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """On the loop: wait until every frame captured so far has been handed to the client."""
        self.flush()
        # Chunks handed over from the capture thread may still wait in the loop's ready
        # queue; a callback scheduled now runs after all of them (the loop keeps order).
        loop = asyncio.get_running_loop()
        barrier = loop.create_future()
        loop.call_soon(barrier.set_result, None)
        await barrier
        await self._queue.join()
