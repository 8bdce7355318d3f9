"""Headless Hark: serves until told to stop, then stores a running turn as cancelled and leaves.

In-process tests drive ``run_headless`` directly; the subprocess tests run ``python main.py
--headless`` / ``ctl`` / ``ask`` as a user would, once main.py wires them (until then they
are expected failures, not skips, so they start passing by themselves).
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.events.conversation import AssistantTextDelta, ErrorReported
from src.presentation.headless import EXIT_ALREADY_RUNNING
from tests.e2e.harness import ROOT, HarkHome
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.presentation.socket.conftest import KEY, WAIT, LiveHark
from tests.presentation.socket.helpers import events_until


def _turns(home: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(home / "data" / "hark.db")
    try:
        rows = db.execute("SELECT id, status, assistant_text FROM turns ORDER BY rowid").fetchall()
    finally:
        db.close()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def test_stopping_mid_turn_stores_it_as_cancelled_and_tells_the_clients(
    live: LiveHark, openai_server: ScriptedOpenAIServer, tmp_path: Path
) -> None:
    gate = openai_server.hold_next_replies(1, after_deltas=2)
    with live.connect() as conn:
        started = conn.call("message.send", {"text": "tell me a long story"})
        gate.wait_reached()
        events_until(conn, lambda e: e["type"] == "assistant.text.delta")
        assert live.stop() == 0
        seen = events_until(conn, lambda e: e["type"] == "turn.cancelled")
        closing = conn.next_notification()
    assert seen[-1]["turn_id"] == started["turn_id"]
    assert closing == {
        "jsonrpc": "2.0",
        "method": "server.closing",
        "params": {"reason": "Hark is shutting down"},
    }
    [(turn_id, status, said)] = _turns(tmp_path)
    assert (turn_id, status) == (started["turn_id"], "cancelled") and said.startswith("You")
    assert not live.path.exists()
    assert "listening on" in live.stderr.getvalue()


def test_the_shutdown_method_stops_headless_hark(live: LiveHark) -> None:
    with live.connect() as conn:
        assert conn.call("shutdown") == {"accepted": True}
        assert conn.next_notification()["method"] == "server.closing"
    live._thread.join(WAIT)
    assert live.exit_code == 0 and not live.path.exists()


def test_a_client_that_never_reads_does_not_hold_up_the_shutdown(live: LiveHark) -> None:
    stalled = socket.socket(socket.AF_UNIX)
    stalled.connect(str(live.path))
    subscribe = {"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"}
    stalled.sendall(json.dumps({**subscribe, "params": {"types": ["*"]}}).encode() + b"\n")
    with live.connect() as conn:
        conn.call("events.subscribe", {"types": ["error"]})
        live.publish(*(AssistantTextDelta(turn_id="t", delta="x" * 4000) for _ in range(500)))
        live.publish(ErrorReported(source="test", message="flood published"))
        events_until(conn, lambda e: e["type"] == "error")  # the stalled client is now full
    assert live.stop() == 0
    stalled.close()


# -- the real program ----------------------------------------------------------------------


def _wired() -> bool:
    """Whether main.py has ``--headless`` and the ``ctl``/``ask`` subcommands."""
    import main

    parser = main.build_parser()
    if "--headless" not in parser._option_string_actions:
        return False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {"ctl", "ask"} <= set(action.choices)
    return False


WIRED = _wired()
needs_main = pytest.mark.xfail(
    not WIRED,
    reason="main.py does not wire --headless, ctl and ask yet (see the socket issue notes)",
    strict=False,
)


class Headless:
    """``python main.py --headless`` in a private home, started and stopped like a service."""

    def __init__(self, home: HarkHome, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), "--headless"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=home.env(**env),
            cwd=home.root,
        )
        assert self.proc.stderr is not None
        self.banner = self.proc.stderr.readline()  # blocks until Hark says it listens
        if "listening on" not in self.banner:
            self.proc.kill()
            raise AssertionError(f"no banner: {self.banner!r} {self.proc.stderr.read()}")

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.home.run(*args, input=input, timeout=WAIT, **self.env)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=WAIT)
        return self.proc.returncode, err


@pytest.fixture
def headless(tmp_path: Path, openai_server: ScriptedOpenAIServer) -> Iterator[Headless]:
    if not WIRED:
        pytest.xfail("main.py does not wire --headless, ctl and ask yet")
    env = {"OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": KEY}
    hark = Headless(HarkHome(tmp_path), env)
    yield hark
    if hark.proc.poll() is None:
        hark.proc.kill()
        hark.proc.wait()


@needs_main
@pytest.mark.e2e
def test_headless_serves_ctl_and_ask_and_stops_on_sigterm(headless: Headless) -> None:
    socket_path = headless.home.root / "run" / "hark.sock"
    assert str(socket_path) in headless.banner
    status = headless.run("ctl", "status")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["state"] == "idle"
    answered = headless.run("ask", "hello from a script")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout == "You said: hello from a script\n"
    failed = headless.run("ctl", "conversations.show", "id=nope")
    assert failed.returncode == 1 and "-32002" in failed.stderr
    assert headless.run("ctl", "message.send", "oops").returncode == 2
    second = headless.run("--headless")
    assert second.returncode == EXIT_ALREADY_RUNNING
    assert "another Hark is already running" in second.stderr
    code, _ = headless.stop(signal.SIGTERM)
    assert code == 0 and not socket_path.exists()
    gone = headless.run("ctl", "status")
    assert gone.returncode == 4
    assert "No Hark is running; start one with `python main.py --headless`" in gone.stderr
    assert "Traceback" not in gone.stderr + status.stderr + answered.stderr


@needs_main
@pytest.mark.e2e
def test_sigint_mid_turn_stores_the_turn_as_cancelled(
    headless: Headless, openai_server: ScriptedOpenAIServer
) -> None:
    gate = openai_server.hold_next_replies(1, after_deltas=1)
    asking = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "ask", "a long story please"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=headless.home.env(**headless.env),
        cwd=headless.home.root,
    )
    gate.wait_reached()
    code, _ = headless.stop(signal.SIGINT)
    _out, err = asking.communicate(timeout=WAIT)
    assert code == 0
    assert asking.returncode == 1 and "(answer cancelled)" in err
    turns = _turns(headless.home.root)
    assert [t[1] for t in turns] == ["cancelled"]


@needs_main
@pytest.mark.e2e
def test_ctrl_c_in_ask_cancels_its_answer(
    headless: Headless, openai_server: ScriptedOpenAIServer
) -> None:
    gate = openai_server.hold_next_replies(1, after_deltas=1)
    asking = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "ask", "a long story please"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=headless.home.env(**headless.env),
        cwd=headless.home.root,
    )
    gate.wait_reached()
    assert asking.stdout is not None
    assert asking.stdout.read(4) == "You "  # the first delta is on screen
    asking.send_signal(signal.SIGINT)
    _, err = asking.communicate(timeout=WAIT)
    assert asking.returncode == 130 and "(answer cancelled)" in err
    status = headless.run("ctl", "status")
    assert json.loads(status.stdout)["state"] == "idle"  # Hark itself carries on
    code, _ = headless.stop()
    assert code == 0
    assert [t[1] for t in _turns(headless.home.root)] == ["cancelled"]
