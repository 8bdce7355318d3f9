"""What the fake OpenAI server saw and sent, kept where tests can read and wait on it.

The server runs on its own thread and event loop while tests run on theirs, so every record
lives in a `RecordList`: append-only, lock-protected, and waitable. Tests wait for observable
state (`server.requests.wait_for(...)`) instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, overload

from tests.fakes.openai_audio import pcm_duration_ms, pcm_rms
from tests.fakes.openai_wire import WireKind, WireValidationError, WireValidator

T = TypeVar("T")

DEFAULT_WAIT_SECONDS = 10.0


class RecordList(Generic[T]):
    """A list one thread appends to and others read; `wait_for` blocks until entries appear."""

    def __init__(self) -> None:
        self._items: list[T] = []
        self._changed = threading.Condition()

    def append(self, item: T) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def notify_changed(self) -> None:
        """Wake waiters after an entry changed in place (a request's outcome, say)."""
        with self._changed:
            self._changed.notify_all()

    def snapshot(self) -> list[T]:
        with self._changed:
            return list(self._items)

    def clear(self) -> None:
        with self._changed:
            self._items.clear()

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.snapshot())

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        with self._changed:
            return self._items[index]

    def __repr__(self) -> str:
        return f"RecordList({self.snapshot()!r})"

    def wait_for(
        self,
        predicate: Callable[[T], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = DEFAULT_WAIT_SECONDS,
    ) -> list[T]:
        """Block until `count` entries match `predicate` (all entries if None); return them.

        Raises `TimeoutError` naming what was recorded, so a failing test says what it got.
        """

        def matching() -> list[T]:
            return [item for item in self._items if predicate is None or predicate(item)]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout=timeout):
                raise TimeoutError(
                    f"waited {timeout}s for {count} matching record(s); have {self._items!r}"
                )
            return matching()

    async def wait_for_async(
        self,
        predicate: Callable[[T], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = DEFAULT_WAIT_SECONDS,
    ) -> list[T]:
        """`wait_for` for async tests: waits on a worker thread, never blocks the test's loop."""
        return await asyncio.to_thread(self.wait_for, predicate, count=count, timeout=timeout)


FailureKind = Literal["wire", "brain"]
RequestOutcome = Literal["pending", "completed", "rejected", "client_disconnected", "failed"]


@dataclass
class RecordedRequest:
    """One HTTP request or WebSocket handshake the server received."""

    api: Literal["responses", "chat", "realtime", "models", "unknown"]
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None
    status: int = 0
    outcome: RequestOutcome = "pending"

    @property
    def api_key(self) -> str | None:
        """The bearer token, if the Authorization header carried one."""
        if self.authorization and self.authorization.lower().startswith("bearer "):
            return self.authorization[len("bearer ") :].strip()
        return None

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


@dataclass(frozen=True)
class EmittedEvent:
    """A payload the server sent, with the SDK type it was validated as."""

    kind: WireKind
    payload: dict[str, Any]


@dataclass(frozen=True)
class ServerFailure:
    """Something the fake itself got wrong (a wire violation, a brain that raised).

    The `openai_server` fixture fails the test if any are recorded.
    """

    kind: FailureKind
    detail: str
    payload: Any = None


@dataclass(frozen=True)
class ClientEventProblem:
    """A Realtime client event that the SDK's `RealtimeClientEvent` types reject."""

    detail: str
    event: Any


@dataclass
class Truncation:
    item_id: str
    content_index: int
    audio_end_ms: int


@dataclass
class RealtimeConnectionRecord:
    """Everything one Realtime WebSocket connection carried, for assertions."""

    model: str
    query: dict[str, str]
    authorization: str | None
    client_events: RecordList[dict[str, Any]] = field(default_factory=RecordList)
    server_events: RecordList[dict[str, Any]] = field(default_factory=RecordList)
    truncations: RecordList[Truncation] = field(default_factory=RecordList)
    input_audio: bytearray = field(default_factory=bytearray, repr=False)
    close_code: int | None = None
    closed: threading.Event = field(default_factory=threading.Event)

    @property
    def input_audio_bytes(self) -> int:
        """Total decoded bytes of `input_audio_buffer.append` audio received (PCM16 24 kHz)."""
        return len(self.input_audio)

    @property
    def input_audio_ms(self) -> int:
        """How much microphone audio the client streamed, in milliseconds."""
        return pcm_duration_ms(bytes(self.input_audio))

    @property
    def input_audio_rms(self) -> float:
        """Level of all streamed audio, 0.0 (digital silence) to 1.0 (full scale)."""
        return pcm_rms(bytes(self.input_audio))

    def client_event_types(self) -> list[str]:
        return [str(event.get("type")) for event in self.client_events]

    def server_event_types(self) -> list[str]:
        return [str(event.get("type")) for event in self.server_events]


class WireLog:
    """The server's records, and the one gate every outgoing payload passes: SDK validation."""

    def __init__(self, validator: WireValidator) -> None:
        self.validator = validator
        self.requests: RecordList[RecordedRequest] = RecordList()
        self.emitted: RecordList[dict[str, Any]] = RecordList()
        self.emitted_events: RecordList[EmittedEvent] = RecordList()
        self.failures: RecordList[ServerFailure] = RecordList()
        self.client_event_problems: RecordList[ClientEventProblem] = RecordList()
        self.realtime_connections: RecordList[RealtimeConnectionRecord] = RecordList()

    def checked_json(self, kind: WireKind, payload: dict[str, Any]) -> str:
        """Validate `payload`, record it as emitted and return its JSON text.

        Raises `WireValidationError` (after recording a failure) rather than send a payload
        the SDK would not accept: a fake that lies about the protocol is worse than none.
        """
        try:
            self.validator.check_emitted(kind, payload)
        except WireValidationError as exc:
            self.failures.append(ServerFailure("wire", str(exc), payload))
            raise
        self.emitted.append(payload)
        self.emitted_events.append(EmittedEvent(kind, payload))
        return json.dumps(payload)

    def check_client_event(self, event: Any) -> str | None:
        """Check a Realtime client event against the SDK's types; record and return any problem."""
        if not isinstance(event, dict):
            problem = ClientEventProblem("not a JSON object", event)
        else:
            try:
                self.validator.validate_client_event(event)
                return None
            except WireValidationError as exc:
                problem = ClientEventProblem(exc.detail, event)
        self.client_event_problems.append(problem)
        return problem.detail

    def settle(self, request: RecordedRequest, status: int, outcome: RequestOutcome) -> None:
        """Set how a request ended; tests waiting on `requests` see the change."""
        request.status = status
        request.outcome = outcome
        self.requests.notify_changed()

    def fail(self, kind: FailureKind, detail: str, payload: Any) -> None:
        self.failures.append(ServerFailure(kind, detail, payload))
