"""Time from process start to the TUI's first painted screen, against a bare Textual app.

Each program runs on an 80x24 pseudo-terminal; the clock stops when a text that only the first
frame contains has been written to the terminal. Measured in the same run:

  bare    a Textual app that shows one Static ("hello"): the floor any Textual app pays
  tui     Hark's app from ``make_app`` on a bare bus, no services: the TUI's own cost
  main    ``python main.py`` as a user starts it (skipped while main.py opens line mode)

Target: ``main`` paints within 0.5 s, so nothing heavy (openai, agents) may load before it.

    python bench/tui_startup.py [runs] [--main PATH_TO_MAIN_PY]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARK_MARK = b"anything, press Enter"
"""Part of the prompt's placeholder; its first letter is under the cursor, styled apart."""
LINE_MODE_MARK = b"you> "
SAFETY_TIMEOUT = 20.0

BARE_APP = """
from textual.app import App
from textual.widgets import Static

class Hello(App):
    def compose(self):
        yield Static("hello from a bare Textual app")

Hello().run()
"""

TUI_APP = """
import sys
sys.path.insert(0, {root!r})
from src.events.bus import EventBus
from src.presentation.tui.app import make_app

make_app(EventBus()).run()
"""


class NotPainted(RuntimeError):
    pass


def time_to_paint(argv: list[str], mark: bytes, env: dict[str, str]) -> float:
    """Seconds from spawning ``argv`` on an 80x24 pty until ``mark`` was written to it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    seen = b""
    try:
        while mark not in seen:
            if LINE_MODE_MARK in seen and mark != LINE_MODE_MARK:
                raise NotPainted("it started line mode, not the TUI")
            ready, _, _ = select.select([master], [], [], SAFETY_TIMEOUT)
            if not ready:
                raise NotPainted(f"nothing painted; output so far: {seen[-300:]!r}")
            try:
                seen += os.read(master, 65536)
            except OSError as exc:
                raise NotPainted(f"the program ended: {seen[-300:]!r}") from exc
        return time.perf_counter() - start
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


def describe(name: str, times: list[float], baseline: float | None) -> str:
    median = statistics.median(times)
    line = (
        f"{name:<6} first paint: median {median * 1000:7.1f} ms "
        f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})"
    )
    if baseline:
        line += f"   ratio to bare: {median / baseline:.2f}"
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=7)
    parser.add_argument("--main", type=Path, default=ROOT / "main.py", help="main.py to time")
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="hark-bench-")
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "HARK_HOME": home,
        "HARK_SECRETS__BACKEND": "file",
        "HARK_SECRETS_PASSPHRASE": "bench-only",
        "OPENAI_API_KEY": "sk-bench-not-used",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }
    programs = {
        "bare": ([sys.executable, "-c", BARE_APP], b"hello from a bare Textual app"),
        "tui": ([sys.executable, "-c", TUI_APP.format(root=str(ROOT))], HARK_MARK),
        "main": ([sys.executable, str(args.main)], HARK_MARK),
    }
    results: dict[str, list[float]] = {name: [] for name in programs}
    skipped: dict[str, str] = {}
    for name, (argv, mark) in programs.items():  # warm the file cache and .pyc files
        try:
            time_to_paint(argv, mark, env)
        except NotPainted as exc:
            skipped[name] = str(exc)
    for _ in range(args.runs):
        for name, (argv, mark) in programs.items():
            if name not in skipped:
                results[name].append(time_to_paint(argv, mark, env))

    print(f"runs: {args.runs}, terminal 80x24")
    baseline = statistics.median(results["bare"])
    for name, times in results.items():
        if name in skipped:
            print(f"{name:<6} skipped: {skipped[name]}")
        else:
            print(describe(name, times, None if name == "bare" else baseline))
    if "main" not in skipped:
        median = statistics.median(results["main"])
        print(f"target 500 ms for main.py: {'met' if median <= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
