"""Time from launching ``main.py --text-only`` to its prompt, against a bare interpreter.

Runs Hark on a pseudo-terminal (so it behaves as in a real terminal) and times until the
``you> `` prompt appears; the baseline is a bare ``python -c`` printing the same prompt,
measured in the same run. Target: the prompt within 0.5 s.

    python bench/text_startup.py [runs]
"""

from __future__ import annotations

import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_to_prompt(argv: list[str], env: dict[str, str]) -> float:
    master, slave = pty.openpty()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT)
    os.close(slave)
    seen = b""
    elapsed = float("nan")
    try:
        while b"you> " not in seen:
            ready, _, _ = select.select([master], [], [], 10)
            if not ready:
                raise RuntimeError(f"no prompt; output so far: {seen!r}")
            seen += os.read(master, 4096)
        elapsed = time.perf_counter() - start
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    return elapsed


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    home = tempfile.mkdtemp(prefix="hark-bench-")
    env = {
        **os.environ,
        "HARK_HOME": home,
        "OPENAI_API_KEY": "sk-bench-not-used",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    }
    hark = [sys.executable, str(ROOT / "main.py"), "--text-only"]
    bare = [
        sys.executable,
        "-c",
        "print('you> ', end='', flush=True); import sys; sys.stdin.read()",
    ]
    time_to_prompt(hark, env)  # warm the file cache and write .pyc files
    hark_times, bare_times = [], []
    for _ in range(runs):
        hark_times.append(time_to_prompt(hark, env))
        bare_times.append(time_to_prompt(bare, env))
    h, b = statistics.median(hark_times), statistics.median(bare_times)
    print(f"runs: {runs}")
    low, high = min(hark_times) * 1000, max(hark_times) * 1000
    print(f"hark --text-only to prompt: median {h * 1000:7.1f} ms  (min {low:.1f}, max {high:.1f})")
    print(f"bare python to prompt:      median {b * 1000:7.1f} ms")
    print(f"ratio hark/bare: {h / b:.2f}   hark-only startup: {(h - b) * 1000:.1f} ms")
    print(f"target 500 ms: {'met' if h <= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
