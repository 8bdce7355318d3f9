"""Runs the real ``main.py`` as a subprocess in an isolated home, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "test-passphrase-for-the-file"


@dataclass
class HarkHome:
    """A private HARK_HOME with the encrypted-file secrets backend and no ambient keys."""

    root: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("HARK_", "OPENAI_")) and k not in ("PYTHONSTARTUP",)
        }
        env.update(
            HARK_HOME=str(self.root),
            HARK_SECRETS__BACKEND="file",
            HARK_SECRETS_PASSPHRASE=PASSPHRASE,
            PYTHONUNBUFFERED="1",
            # Any stray request to the internet fails fast instead of leaving the machine.
            HTTP_PROXY="http://127.0.0.1:9",
            HTTPS_PROXY="http://127.0.0.1:9",
            NO_PROXY="127.0.0.1,localhost",
        )
        env.update(extra)
        return env

    def run(
        self, *args: str, input: str | None = None, timeout: float = 60, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "main.py"), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(**extra),
            cwd=self.root,
        )

    def written_files(self) -> list[Path]:
        return [p for p in self.root.rglob("*") if p.is_file()]
