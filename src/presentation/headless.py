"""``hark --headless``: the assistant with no screen, driven only through the control socket.

It runs until SIGTERM or SIGINT (or a ``shutdown`` request, i.e. a ``Shutdown`` event) and
then winds down in an order that loses nothing: a running turn is cancelled and waited for,
so it is stored as cancelled and its clients see ``turn.cancelled``; clients are told the
server is closing; only then is the core closed (history store, HTTP client, bus).

The socket is claimed before the core starts: starting the core marks unfinished turns of
"a crashed run" as interrupted, which would be wrong if another Hark is in fact running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, Final, Protocol, TextIO

from src.events.bus import EventBus
from src.events.commands import CancelTurn, Shutdown
from src.events.conversation import TurnCancelled, TurnCompleted, TurnFailed
from src.presentation.socket_security import SocketInUse, SocketSetupError
from src.presentation.socket_server import SocketServer

log = logging.getLogger(__name__)

EXIT_OK: Final = 0
EXIT_USAGE: Final = 2
EXIT_ALREADY_RUNNING: Final = 5
WIND_DOWN_SECONDS: Final = 10.0
"""How long a cancelled turn may take to store itself before Hark closes anyway."""


class HeadlessCore(Protocol):
    """What the headless runner needs of ``main.HarkCore``."""

    settings: Any
    bus: EventBus

    async def start(self, resume: str | None = None) -> None: ...

    async def close(self) -> None: ...


async def run_headless(
    core: HeadlessCore,
    *,
    resume: str | None = None,
    stop: asyncio.Event | None = None,
    warm_up: Callable[[], object] | None = None,
    stderr: TextIO | None = None,
    limits: dict[str, Any] | None = None,
    on_ready: Callable[[SocketServer], None] | None = None,
) -> int:
    """Serve the socket until stopped; always closes ``core``. Returns the exit code.

    ``stop`` lets a caller (a test, an embedding program) end the run without a signal.
    ``warm_up`` (e.g. ``core.runner.warm_up``) runs on a worker thread once serving, so the
    first answer does not pay for importing the agents SDK. ``on_ready`` is called with the
    server once it accepts connections; ``limits`` override ``SocketLimits`` fields.
    """
    err = stderr or sys.stderr
    stop = stop or asyncio.Event()
    server = SocketServer.from_settings(core.bus, core.settings.socket, **(limits or {}))
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    try:
        try:
            await server.start()
        except SocketInUse as exc:
            err.write(f"hark: {exc}; talk to it with `hark ctl` or stop it first.\n")
            return EXIT_ALREADY_RUNNING
        except SocketSetupError as exc:
            err.write(f"hark: {exc}\n")
            return EXIT_USAGE
        requested: list[Shutdown] = []

        def on_shutdown(event: Shutdown) -> None:
            requested.append(event)
            stop.set()

        core.bus.subscribe(Shutdown, on_shutdown, name="headless.shutdown")
        await core.start(resume)
        installed = _install_signals(loop, stop)
        warming = loop.run_in_executor(None, warm_up) if warm_up is not None else None
        err.write(
            f"hark: listening on {server.path} (pid {os.getpid()}); stop with Ctrl+C or SIGTERM\n"
        )
        err.flush()
        if on_ready is not None:
            on_ready(server)
        await stop.wait()
        await _wind_down(core, server, already_announced=bool(requested))
        if warming is not None and warming.done() and warming.exception() is not None:
            log.warning("warming up the agents failed", exc_info=warming.exception())
        return EXIT_OK
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await server.close()
        await core.close()


async def _wind_down(core: HeadlessCore, server: SocketServer, *, already_announced: bool) -> None:
    """Announce the shutdown and let a running turn store itself as cancelled."""
    bridge = server.bridge
    if not already_announced:
        await core.bus.publish(Shutdown(reason="stopped by a signal"))
    running = set(bridge.state.active_turns)
    if running:
        log.info("cancelling %d running turn(s) before shutting down", len(running))

        def ended(event: object) -> bool:
            return isinstance(event, TurnCompleted | TurnCancelled | TurnFailed) and (
                event.turn_id in running
            )

        while running:
            with bridge.expecting(ended) as finished:
                await core.bus.publish(CancelTurn(reason="Hark is shutting down"))
                try:
                    event = await asyncio.wait_for(finished, WIND_DOWN_SECONDS)
                except TimeoutError:
                    log.warning("turns %s did not end in time; closing anyway", sorted(running))
                    break
            running.discard(getattr(event, "turn_id", ""))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(core.bus.drain(), WIND_DOWN_SECONDS)


def _install_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> list[signal.Signals]:
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread (tests), or no signals on this platform
        installed.append(sig)
    return installed
