"""The real app in a real terminal: ``python main.py`` in tmux against the scripted OpenAI server.

A question is typed with ``send-keys``; the answer is read off the screen with ``capture-pane``.
"""

from __future__ import annotations

import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import ROOT, HarkHome
from tests.fakes.openai_server import ScriptedOpenAIServer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("tmux") is None,
        reason="tmux is not installed (apt-get "
        "install tmux); the TUI end-to-end test needs a real terminal",
    ),
]

SOCKET = "hark-test"
SAFETY_TIMEOUT = 30.0  # only a guard against a hung test; nothing asserts on time
FIRST_SCREEN = "Ask Hark anything"


class Tmux:
    """One tmux session running a command; what it shows, and keys to type into it."""

    def __init__(self, name: str, command: str, cwd: Path) -> None:
        self.name = name
        self._tmux(
            "new-session", "-d", "-s", name, "-x", "120", "-y", "35", "-c", str(cwd), command
        )
        self._tmux("set-option", "-t", name, "remain-on-exit", "on")

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", SOCKET, *args], capture_output=True, text=True, timeout=10
        )
        if done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def send(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def enter(self, line: str) -> None:
        """Type ``line`` literally, then press Enter."""
        self.send("-l", line)
        self.send("Enter")

    def wait_for(self, *texts: str) -> str:
        """Poll the screen until one of ``texts`` is on it; returns the screen."""
        deadline = time.monotonic() + SAFETY_TIMEOUT
        while True:
            shown = self.screen()
            if any(text in shown for text in texts):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {texts!r}; screen:\n{shown}")
            time.sleep(0.1)

    def exited(self) -> bool:
        return self._tmux("display-message", "-p", "-t", self.name, "#{pane_dead}").strip() == "1"

    def close(self) -> None:
        subprocess.run(
            ["tmux", "-L", SOCKET, "kill-session", "-t", self.name], capture_output=True, timeout=10
        )


def start_app(tmp_path: Path, server: ScriptedOpenAIServer, **extra: str) -> Tmux:
    env = HarkHome(tmp_path).env(OPENAI_BASE_URL=server.base_url, TERM="xterm-256color", **extra)
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    main = shlex.quote(str(ROOT / "main.py"))
    command = f"env -i {assignments} {shlex.quote(sys.executable)} {main}"
    return Tmux(f"tui-{tmp_path.name}", command, tmp_path)


KEYS_SCREEN = "Hark needs an OpenAI API key"


def skip_unless_tui(shown: str) -> None:
    if FIRST_SCREEN not in shown and "Hark needs an OpenAI API key" not in shown:
        pytest.skip("main.py does not open the TUI yet (it started line mode or exited)")


@pytest.fixture
def terminal_app(tmp_path: Path, openai_server: ScriptedOpenAIServer) -> Iterator[Tmux]:
    session = start_app(tmp_path, openai_server, OPENAI_API_KEY="sk-test-tui-1234")
    try:
        yield session
    finally:
        session.close()


def wait_for_exit(app: Tmux) -> None:
    deadline = time.monotonic() + SAFETY_TIMEOUT
    while not app.exited():
        assert time.monotonic() < deadline, app.screen()
        time.sleep(0.1)


def quit_cleanly(app: Tmux) -> None:
    """Ctrl+Q, and the app ends without a traceback."""
    app.send("C-q")
    wait_for_exit(app)
    assert "Traceback" not in app.screen()


def test_a_typed_question_is_answered_on_screen_and_stored(
    terminal_app: Tmux, tmp_path: Path
) -> None:
    skip_unless_tui(terminal_app.wait_for(FIRST_SCREEN, "you>", "Traceback"))
    terminal_app.enter("what is two plus two")
    shown = terminal_app.wait_for("You said: what is two plus two")
    shown = terminal_app.wait_for("Total: 1 turn")
    assert "Traceback" not in shown
    quit_cleanly(terminal_app)
    db = sqlite3.connect(tmp_path / "data" / "hark.db")
    rows = db.execute("SELECT status, user_text, assistant_text FROM turns").fetchall()
    db.close()
    assert rows == [("completed", "what is two plus two", "You said: what is two plus two")]


def test_first_run_asks_for_the_key_then_answers(
    tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    """No key anywhere: the TUI opens on the keys screen; once a key is pasted, Hark answers."""
    app = start_app(tmp_path, openai_server)
    try:
        shown = app.wait_for("Hark needs an OpenAI API key", "you>", "no OpenAI API key", "Trace")
        skip_unless_tui(shown)
        app.enter("sk-test-first-run-5678")
        app.wait_for(FIRST_SCREEN)
        app.enter("hello after setup")
        shown = app.wait_for("You said: hello after setup")
        assert "sk-test-first-run-5678" not in shown
        quit_cleanly(app)
    finally:
        app.close()
    requests = [r for r in openai_server.requests if r.api == "responses"]
    assert requests and all(r.api_key == "sk-test-first-run-5678" for r in requests)


def test_a_refused_key_is_replaced_on_the_keys_screen_without_a_restart(
    tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    """The environment's key is refused: the keys screen opens with the server's reason, the
    pasted key is used from then on, and the conversation goes on without a restart. Voice is
    off (no such microphone) so that the typed question meets the refusal; the voice link's
    own refusal and reconnection are tested in ``test_realtime_client``."""
    openai_server.rejected_keys.add("sk-test-tui-revoked")
    app = start_app(
        tmp_path,
        openai_server,
        OPENAI_API_KEY="sk-test-tui-revoked",
        HARK_AUDIO__INPUT_DEVICE="no-such-microphone",
    )
    try:
        skip_unless_tui(app.wait_for(FIRST_SCREEN, "you>", "Traceback"))
        app.wait_for("Voice off")
        app.enter("first question")
        app.wait_for(KEYS_SCREEN)
        assert "rejected the OpenAI key" in app.screen()
        refused = len(openai_server.requests)
        app.enter("sk-test-tui-fresh-9012")
        app.wait_for(FIRST_SCREEN)
        app.enter("second question")
        shown = app.wait_for("You said: second question")
        assert "sk-test-tui-fresh-9012" not in shown and "sk-test-tui-revoked" not in shown
        quit_cleanly(app)
    finally:
        app.close()
    sent = [(r.api, r.status, r.api_key) for r in openai_server.requests]
    assert refused == 1 and sent[0] == ("responses", 401, "sk-test-tui-revoked")
    assert sent[1:] and all(r == ("responses", 200, "sk-test-tui-fresh-9012") for r in sent[1:])
    db = sqlite3.connect(tmp_path / "data" / "hark.db")
    rows = db.execute("SELECT status, user_text FROM turns ORDER BY started_at").fetchall()
    db.close()
    assert rows == [("failed", "first question"), ("completed", "second question")]
