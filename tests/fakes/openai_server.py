"""A local, scripted stand-in for the OpenAI API that speaks the real wire protocols.

Every Hark test that would talk to OpenAI talks to this instead: one aiohttp app on 127.0.0.1
serving the Responses API (JSON and SSE), Chat Completions (JSON and SSE), the Realtime API
(WebSocket, GA protocol) and a model list. It runs on its own thread and event loop, so a sync
test can point a `python main.py` subprocess at `server.base_url` while an async test uses it
from its own loop.

What it answers is decided by a brain (see `openai_brain`); how it answers is checked: each
payload is validated against the installed `openai` SDK's types before it is sent (see
`openai_wire`), and a fixture fails the test if anything the fake sent was not valid.

    with ScriptedOpenAIServer(brain=RuleBrain([Rule("weather", "get_weather")])) as server:
        client = OpenAI(base_url=server.base_url, api_key="sk-test")
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from tests.fakes.openai_brain import (
    Brain,
    ModelRequest,
    echo_brain,
)
from tests.fakes.openai_http import AccessPolicy, OpenAIRoutes
from tests.fakes.openai_realtime import RealtimeConnection
from tests.fakes.openai_records import (
    ClientEventProblem,
    EmittedEvent,
    RealtimeConnectionRecord,
    RecordedRequest,
    RecordList,
    ServerFailure,
    WireLog,
)
from tests.fakes.openai_script import ReplyGate, ScriptedFailure, ServerScript
from tests.fakes.openai_wire import wire_validator

STARTUP_SECONDS = 10.0
SHUTDOWN_SECONDS = 2.0
DEFAULT_MODELS = ("gpt-5-mini", "gpt-4.1", "gpt-4o-mini", "gpt-realtime", "gpt-realtime-mini")


class ScriptedOpenAIServer:
    """The fake OpenAI API. Start it with `with` (or `start()`/`stop()`).

    Records, all thread-safe and waitable (`.wait_for(...)`, `.wait_for_async(...)`):
      requests        every HTTP request / WebSocket handshake (`RecordedRequest`)
      asked           every `ModelRequest` the brain answered, on any API
      emitted         every event, chunk or body sent, as dicts
      emitted_events  the same with the SDK type each was validated as (`EmittedEvent`)
      realtime        one `RealtimeConnectionRecord` per Realtime connection
      failures        what the fake itself got wrong (must stay empty)
      client_event_problems  Realtime client events the SDK types reject (refused with an error)
    """

    def __init__(
        self,
        brain: Brain | None = None,
        *,
        chunk_size: int = 4,
        chunk_delay: float = 0.0,
        rejected_keys: Iterable[str] = (),
        require_api_key: bool = True,
        speech_ms_per_char: int = 60,
        models: Iterable[str] = DEFAULT_MODELS,
    ) -> None:
        self.script = ServerScript(
            brain or echo_brain,
            chunk_size=chunk_size,
            chunk_delay=chunk_delay,
            speech_ms_per_char=speech_ms_per_char,
        )
        self.access: AccessPolicy = AccessPolicy(set(rejected_keys), require_api_key)
        self._wire = WireLog(wire_validator())
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._connections: set[RealtimeConnection] = set()
        self._routes = OpenAIRoutes(
            script=self.script,
            wire=self._wire,
            access=self.access,
            models=tuple(models),
            connections=self._connections,
        )
        self._stopped: asyncio.Event | None = None

    # -- settings tests change while running -------------------------------------------------

    @property
    def brain(self) -> Brain:
        return self.script.brain

    @brain.setter
    def brain(self, brain: Brain) -> None:
        self.script.brain = brain

    @property
    def chunk_size(self) -> int:
        return self.script.chunk_size

    @chunk_size.setter
    def chunk_size(self, size: int) -> None:
        self.script.chunk_size = size

    @property
    def chunk_delay(self) -> float:
        return self.script.chunk_delay

    @chunk_delay.setter
    def chunk_delay(self, seconds: float) -> None:
        self.script.chunk_delay = seconds

    @property
    def rejected_keys(self) -> set[str]:
        """API keys answered with 401 invalid_api_key (add to it while running)."""
        return self.access.rejected_keys

    # -- records ------------------------------------------------------------------------------

    @property
    def requests(self) -> RecordList[RecordedRequest]:
        return self._wire.requests

    @property
    def emitted(self) -> RecordList[dict[str, Any]]:
        return self._wire.emitted

    @property
    def emitted_events(self) -> RecordList[EmittedEvent]:
        return self._wire.emitted_events

    @property
    def failures(self) -> RecordList[ServerFailure]:
        return self._wire.failures

    @property
    def client_event_problems(self) -> RecordList[ClientEventProblem]:
        return self._wire.client_event_problems

    @property
    def realtime(self) -> RecordList[RealtimeConnectionRecord]:
        return self._wire.realtime_connections

    @property
    def asked(self) -> RecordList[ModelRequest]:
        """Every request the brain was asked to answer, on any API, as it saw it."""
        return self.script.asked

    def model_requests(self, api: str | None = None) -> list[ModelRequest]:
        """What the brain was asked, optionally for one API ("responses", "chat", "realtime")."""
        return [request for request in self.asked if api in (None, request.api)]

    def assert_wire_clean(self) -> None:
        """Fail if the fake sent anything invalid or a Realtime client event was malformed."""
        problems = [f"server: {failure.kind}: {failure.detail}" for failure in self.failures]
        problems += [
            f"client event: {problem.detail}: {problem.event!r}"
            for problem in self.client_event_problems
        ]
        if problems:
            raise AssertionError("OpenAI fake saw wire problems:\n" + "\n".join(problems))

    # -- addresses ----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        """What to give `OpenAI(base_url=...)` or `OPENAI_BASE_URL`."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def realtime_url(self) -> str:
        """The Realtime WebSocket URL, for clients that take a URL rather than a base URL."""
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    # -- scripting ----------------------------------------------------------------------------

    def hold_next_replies(self, count: int = 1, *, after_deltas: int = 0) -> ReplyGate:
        """Make the next `count` replies stop part-way until `gate.release()` (see ReplyGate)."""
        gate = ReplyGate(self._running_loop(), count=count, after_deltas=after_deltas)
        self.script.add_gate(gate)
        return gate

    def fail_next(
        self,
        status: int = 429,
        code: str | None = "insufficient_quota",
        *,
        times: int = 1,
        message: str | None = None,
        error_type: str | None = None,
        retryable: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer the next `times` API requests with an OpenAI-shaped HTTP error."""
        self.script.failures.add(
            ScriptedFailure(
                status=status,
                code=code,
                message=message,
                error_type=error_type,
                retryable=retryable,
                times=times,
                headers=dict(headers or {}),
            )
        )

    def script_transcripts(self, *texts: str) -> None:
        """What the next committed Realtime audio turns "said", in order (the fake has no ASR)."""
        self.script.transcripts.add(*texts)

    def close_realtime(
        self, code: int = 1001, reason: str = "maximum duration"
    ) -> concurrent.futures.Future[int]:
        """Close every live Realtime connection with a close frame, as OpenAI's 60-minute cap does.

        Returns at once with a future of how many were closed: the close handshake needs the
        client to answer, which an async test on this thread can only do once it awaits again
        (`await asyncio.wrap_future(...)`, or just keep reading from the connection).
        """
        return asyncio.run_coroutine_threadsafe(self._close_all(code, reason), self._running_loop())

    def drop_realtime(self) -> concurrent.futures.Future[int]:
        """Cut every live Realtime connection's TCP stream with no close frame."""
        return asyncio.run_coroutine_threadsafe(self._drop_all(), self._running_loop())

    async def _close_all(self, code: int, reason: str) -> int:
        connections = list(self._connections)
        for connection in connections:
            await connection.close(code, reason)
        return len(connections)

    async def _drop_all(self) -> int:
        connections = list(self._connections)
        for connection in connections:
            connection.drop()
        return len(connections)

    async def _shut_down(self) -> None:
        """Let held replies finish, close sockets (dropping any client that will not answer)."""
        self.script.release_all_gates()
        try:
            await asyncio.wait_for(self._close_all(1001, "server shutting down"), SHUTDOWN_SECONDS)
        except TimeoutError:
            await self._drop_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> ScriptedOpenAIServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        ready = threading.Event()
        errors: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, errors), name="fake-openai", daemon=True
        )
        self._thread.start()
        if not ready.wait(STARTUP_SECONDS):
            raise RuntimeError("the fake OpenAI server did not start")
        if errors:
            raise RuntimeError("the fake OpenAI server failed to start") from errors[0]

    def stop(self) -> None:
        if self._thread is None or self._loop is None or self._stopped is None:
            return
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(STARTUP_SECONDS)
        self._thread = None

    def _serve(self, ready: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(ready, errors))
        finally:
            loop.close()

    async def _main(self, ready: threading.Event, errors: list[BaseException]) -> None:
        self._stopped = asyncio.Event()
        try:
            self._runner = web.AppRunner(
                self._routes.application(),
                handler_cancellation=True,
                access_log=None,
                shutdown_timeout=SHUTDOWN_SECONDS,
            )
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self._port = int(self._runner.addresses[0][1])
        except OSError as exc:
            errors.append(exc)
            ready.set()
            return
        ready.set()
        await self._stopped.wait()
        await self._shut_down()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("the server is not running")
        return self._loop
