"""The fake OpenAI server's script: the brain, pacing, held replies, scripted API errors.

A test thread calls these while the server's own thread streams replies, so each control is
thread-safe: the test sets a `threading` primitive, the server loop is woken with
`call_soon_threadsafe`. Nothing here sleeps to wait: a held reply waits for `release()`.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.openai_brain import Brain, ModelRequest, Reply
from tests.fakes.openai_http_turns import Emit
from tests.fakes.openai_records import DEFAULT_WAIT_SECONDS, RecordList


class ReplyGate:
    """Stops the next `count` replies part-way until the test calls `release()`.

    A held reply stops once `after_deltas` text/argument deltas have been sent (0: after the
    opening events, before any delta), or before its final event if it has fewer deltas.
    `reached` is set when a reply arrives there, so a test can act at a known point (cancel,
    barge in) without sleeping.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, *, count: int, after_deltas: int) -> None:
        self.after_deltas = after_deltas
        self.reached = threading.Event()
        self._loop = loop
        self._remaining = count
        self._reached_count = 0
        self._lock = threading.Lock()
        self._released = asyncio.Event()  # only ever awaited and set on the server loop

    @property
    def reached_count(self) -> int:
        with self._lock:
            return self._reached_count

    def release(self) -> None:
        """Let every held reply (and any later one of this gate) carry on."""
        self._loop.call_soon_threadsafe(self._released.set)

    def wait_reached(self, timeout: float = DEFAULT_WAIT_SECONDS) -> None:
        """Block until a reply is held here; `TimeoutError` if none arrives in time."""
        if not self.reached.wait(timeout):
            raise TimeoutError(f"no reply reached the hold point within {timeout}s")

    async def wait_reached_async(self, timeout: float = DEFAULT_WAIT_SECONDS) -> None:
        await asyncio.to_thread(self.wait_reached, timeout)

    # -- server side ------------------------------------------------------------------------

    def claim(self) -> bool:
        """Take one of the gate's replies; False once `count` replies have been taken."""
        with self._lock:
            if self._remaining <= 0:
                return False
            self._remaining -= 1
            return True

    def mark_reached(self) -> None:
        with self._lock:
            self._reached_count += 1
        self.reached.set()

    async def wait_released(self) -> None:
        await self._released.wait()


class ReplyPacer:
    """Paces one reply's payloads: `chunk_delay` between deltas and the gate's hold point.

    `interrupted` (the client cancelled) cuts any wait short; `before` then returns False and
    the caller stops sending.
    """

    def __init__(
        self,
        *,
        chunk_delay: float,
        gate: ReplyGate | None,
        interrupted: asyncio.Event | None = None,
    ) -> None:
        self.chunk_delay = chunk_delay
        self.gate = gate
        self.interrupted = interrupted or asyncio.Event()
        self.deltas_sent = 0
        self._held = False

    async def before(self, emit: Emit, *, is_last: bool) -> bool:
        """Wait as scripted before sending `emit`; False if the reply was interrupted."""
        if emit.is_delta and self.deltas_sent and self.chunk_delay > 0:
            await self._wait(None, timeout=self.chunk_delay)
        gate = self.gate
        at_hold_point = (emit.is_delta or is_last) and self.deltas_sent >= (
            gate.after_deltas if gate else 0
        )
        if gate is not None and not self._held and at_hold_point:
            self._held = True
            gate.mark_reached()
            await self._wait(gate.wait_released(), timeout=None)
        return not self.interrupted.is_set()

    def after(self, emit: Emit) -> None:
        if emit.is_delta:
            self.deltas_sent += 1

    async def _wait(self, released: Any, *, timeout: float | None) -> None:
        waiters = [asyncio.ensure_future(self.interrupted.wait())]
        if released is not None:
            waiters.append(asyncio.ensure_future(released))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()


# Bodies as OpenAI documents them (https://platform.openai.com/docs/guides/error-codes).
_KNOWN_ERRORS: dict[str, tuple[str, str]] = {
    "insufficient_quota": (
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
    ),
    "rate_limit_exceeded": (
        "requests",
        "Rate limit reached for requests. Please try again in 1s.",
    ),
    "invalid_api_key": (
        "invalid_request_error",
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    "server_error": ("server_error", "The server had an error while processing your request."),
}


def error_body(
    code: str | None, *, message: str | None = None, error_type: str | None = None
) -> dict[str, Any]:
    """OpenAI's error JSON: {"error": {"message", "type", "param", "code"}}."""
    known_type, known_message = _KNOWN_ERRORS.get(code or "", ("invalid_request_error", ""))
    return {
        "error": {
            "message": message or known_message or f"Error: {code}",
            "type": error_type or known_type,
            "param": None,
            "code": code,
        }
    }


def masked_key(key: str) -> str:
    """How OpenAI quotes a rejected key: its start and its last four characters."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}{'*' * (len(key) - 7)}{key[-4:]}"


@dataclass
class ScriptedFailure:
    """An HTTP error the next request(s) get instead of a reply.

    `retryable=False` adds `x-should-retry: false`, which the `openai` SDK obeys, so a test of a
    quota error does not wait out the SDK's retry backoff.
    """

    status: int
    code: str | None
    message: str | None = None
    error_type: str | None = None
    retryable: bool = False
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return error_body(self.code, message=self.message, error_type=self.error_type)

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if not self.retryable:
            headers.setdefault("x-should-retry", "false")
        return headers


class FailureQueue:
    """Scripted failures, consumed in order by the requests that arrive."""

    def __init__(self) -> None:
        self._queue: deque[ScriptedFailure] = deque()
        self._lock = threading.Lock()

    def add(self, failure: ScriptedFailure) -> None:
        with self._lock:
            self._queue.append(failure)

    def take(self) -> ScriptedFailure | None:
        with self._lock:
            if not self._queue:
                return None
            failure = self._queue[0]
            failure.times -= 1
            if failure.times <= 0:
                self._queue.popleft()
            return failure


class TranscriptQueue:
    """What the fake "hears" in committed audio: it cannot recognise speech, so tests say."""

    def __init__(self) -> None:
        self._queue: deque[str] = deque()
        self._lock = threading.Lock()

    def add(self, *texts: str) -> None:
        with self._lock:
            self._queue.extend(texts)

    def take(self) -> str | None:
        with self._lock:
            return self._queue.popleft() if self._queue else None


class ServerScript:
    """The scripted behaviour every handler of one server shares; settable from tests."""

    def __init__(
        self,
        brain: Brain,
        *,
        chunk_size: int,
        chunk_delay: float,
        speech_ms_per_char: int,
    ) -> None:
        self.brain = brain
        self.chunk_size = chunk_size
        self.chunk_delay = chunk_delay
        self.speech_ms_per_char = speech_ms_per_char
        self.failures = FailureQueue()
        self.transcripts = TranscriptQueue()
        self.asked: RecordList[ModelRequest] = RecordList()
        self._gates: list[ReplyGate] = []
        self._lock = threading.Lock()

    def ask(self, request: ModelRequest) -> Reply:
        """The brain's reply to `request`, which is recorded first (whatever the brain does)."""
        self.asked.append(request)
        return self.brain(request)

    def add_gate(self, gate: ReplyGate) -> None:
        with self._lock:
            self._gates.append(gate)

    def release_all_gates(self) -> None:
        with self._lock:
            gates = list(self._gates)
        for gate in gates:
            gate.release()

    def take_gate(self) -> ReplyGate | None:
        """The gate the next reply must stop at, if a test asked for one."""
        with self._lock:
            for gate in self._gates:
                if gate.claim():
                    return gate
            return None

    def pacer(self, interrupted: asyncio.Event | None = None) -> ReplyPacer:
        return ReplyPacer(
            chunk_delay=self.chunk_delay, gate=self.take_gate(), interrupted=interrupted
        )
