"""Interactive line mode in a real pseudo-terminal: Ctrl+C cancels the answer, Ctrl+D exits."""

from __future__ import annotations

import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT, HarkHome
from tests.fakes.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.e2e

SAFETY_TIMEOUT = 30.0  # only a guard against a hung test; nothing asserts on time


class Terminal:
    """The app on a pty: what it printed so far, and a way to wait for text to appear."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "main.py"), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            close_fds=True,
        )
        os.close(slave)
        self.screen = ""

    def expect(self, text: str, *, after: int = 0) -> int:
        deadline = time.monotonic() + SAFETY_TIMEOUT
        while (found := self.screen.find(text, after)) < 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {text!r}; screen:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                self.screen += chunk.decode(errors="replace")
        return found + len(text)

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=SAFETY_TIMEOUT)
        finally:
            os.close(self.master)


def test_ctrl_c_cancels_the_answer_not_the_program(
    tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    home = HarkHome(tmp_path)
    env = home.env(OPENAI_BASE_URL=openai_server.base_url, OPENAI_API_KEY="sk-test-tty-1234")
    gate = openai_server.hold_next_replies(1, after_deltas=2)
    term = Terminal(["--text-only"], env, tmp_path)
    try:
        pos = term.expect("you> ")
        term.send("tell me a long story\n")
        gate.wait_reached(timeout=SAFETY_TIMEOUT)
        pos = term.expect("You said", after=pos)
        term.proc.send_signal(signal.SIGINT)
        pos = term.expect("(answer cancelled)", after=pos)
        pos = term.expect("you> ", after=pos)
        gate.release()
        # Ctrl+C at the prompt only explains how to leave.
        term.proc.send_signal(signal.SIGINT)
        pos = term.expect("Ctrl+D", after=pos)
        term.send("second question\n")
        pos = term.expect("You said: second question", after=pos)
        pos = term.expect("you> ", after=pos)
        term.send("\x04")  # Ctrl+D at an empty prompt
        code = term.close()
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
    assert code == 0, term.screen
    assert "Traceback" not in term.screen
    db = sqlite3.connect(tmp_path / "data" / "hark.db")
    rows = db.execute("SELECT status, user_text, assistant_text FROM turns ORDER BY seq").fetchall()
    db.close()
    assert [r[0] for r in rows] == ["cancelled", "completed"]
    assert rows[0][1] == "tell me a long story"
    assert rows[0][2] and "You said: tell me a long story".startswith(rows[0][2])
    assert rows[1][2] == "You said: second question"
