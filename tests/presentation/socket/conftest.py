"""A real Hark (``build_core``) serving the real socket on its own thread, for sync clients.

The core and the socket run on a background event loop, exactly as ``run_headless`` runs
them, so tests can use the blocking product client (``HarkConnection``) and hypothesis from
the test thread, and still reach into the bus (``live.publish``) to play the parts no
service plays yet (a voice service announcing it is unavailable, for instance).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from main import build_core
from src.config.settings import Settings, load_settings
from src.events.base import Event
from src.presentation.headless import run_headless
from src.presentation.socket_client import HarkConnection
from src.presentation.socket_server import SocketServer
from tests.fakes.openai_server import ScriptedOpenAIServer

T = TypeVar("T")
KEY = "sk-test-socket"
WAIT = 30.0


class LiveHark:
    """``run_headless`` on a thread: ``.path``, ``.connect()``, ``.publish()``, ``.stop()``."""

    def __init__(
        self, settings: Settings, limits: dict[str, Any] | None = None, secrets: Any = None
    ) -> None:
        self.settings = settings
        self.limits = limits or {}
        self.secrets = secrets
        self.stderr = io.StringIO()
        self.exit_code: int | None = None
        self.core: Any = None
        self.server: SocketServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="live-hark", daemon=True)

    @property
    def path(self) -> Path:
        assert self.settings.socket.path is not None
        return Path(self.settings.socket.path)

    def start(self) -> LiveHark:
        self._thread.start()
        if not self._ready.wait(WAIT):
            raise RuntimeError(f"Hark did not start: {self.stderr.getvalue()}")
        if self.server is None:
            raise RuntimeError(f"Hark did not start: {self.stderr.getvalue()}")
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self.exit_code = loop.run_until_complete(self._run())
        finally:
            self._ready.set()
            loop.close()

    async def _run(self) -> int:
        self._stop = asyncio.Event()
        self.core = build_core(self.settings, KEY, self.secrets)

        def ready(server: SocketServer) -> None:
            self.server = server
            self._ready.set()

        return await run_headless(
            self.core, stop=self._stop, stderr=self.stderr, limits=self.limits, on_ready=ready
        )

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = WAIT) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call_soon(self, fn: Any) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn)

    def publish(self, *events: Event) -> None:
        async def publish_all() -> None:
            for event in events:
                await self.core.bus.publish(event)

        self.run(publish_all())

    def connect(self, timeout: float | None = WAIT) -> HarkConnection:
        return HarkConnection(self.path, timeout=timeout)

    def stop(self) -> int | None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT)
        return self.exit_code


def hark_settings(home: Path, server: ScriptedOpenAIServer, **env: str) -> Settings:
    """Settings as the app would load them, for an isolated HARK_HOME."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("HARK_", "OPENAI_")):
                mp.delenv(name)
        mp.setenv("HARK_HOME", str(home))
        mp.setenv("OPENAI_BASE_URL", server.base_url)
        mp.setenv("HARK_SECRETS__BACKEND", "file")
        for name, value in env.items():
            mp.setenv(name, value)
        return load_settings(home / "config" / "config.toml")


@pytest.fixture
def live(tmp_path: Path, openai_server: ScriptedOpenAIServer) -> Iterator[LiveHark]:
    hark = LiveHark(hark_settings(tmp_path, openai_server)).start()
    yield hark
    hark.stop()


def wait_for(future: concurrent.futures.Future[T], timeout: float = WAIT) -> T:
    return future.result(timeout)
