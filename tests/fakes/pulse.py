"""A private PulseAudio server with virtual devices, for tests of the real audio path.

The server runs in a temporary directory with its own socket, state and pid file, so tests
(and other test runs on the same machine) never share it. Its devices are those of
ARCHITECTURE.md section 7:

* sink ``spk`` (the default sink): what Hark plays ends up on ``spk.monitor``;
* sink ``micsink`` and the virtual source ``mic`` on its monitor (the default source): what
  a test plays into ``micsink`` is what Hark's microphone hears.

PortAudio reaches it through ALSA's pulse plugin (devices ``pulse`` and ``default``), which
reads ``PULSE_SERVER`` (and ``PULSE_SINK``/``PULSE_SOURCE``) when a stream opens. PortAudio
lists devices only when it initialises, so the fixture re-initialises it (``refresh()``) after
the server is up and again after it is gone.

Use the module-scoped ``pulse_server`` fixture; it skips the test when ``pulseaudio`` or
PortAudio is not installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.services import audio_devices

_READY_TIMEOUT = 15.0


class PulseServer:
    """One private ``pulseaudio`` process that the test controls (start, kill, restart)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.socket = run_dir / "pulse.sock"
        self.address = f"unix:{self.socket}"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def client_env(self) -> dict[str, str]:
        """Environment for a client process (pactl, paplay) talking to this server."""
        env = dict(os.environ)
        env["PULSE_SERVER"] = self.address
        env.pop("PULSE_SINK", None)
        env.pop("PULSE_SOURCE", None)
        return env

    def start(self) -> None:
        """Start the daemon and wait until it answers, then set the default devices."""
        env = dict(os.environ)
        env.update(
            XDG_RUNTIME_DIR=str(self.run_dir),
            PULSE_RUNTIME_PATH=str(self.run_dir / "runtime"),
            PULSE_STATE_PATH=str(self.run_dir / "state"),
        )
        env.pop("PULSE_SERVER", None)
        log_file = self.run_dir / "pulse.log"
        args = [
            "pulseaudio",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--disable-shm=yes",
            "-n",
            f"--log-target=file:{log_file}",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={self.socket}",
            "--load=module-null-sink sink_name=spk rate=48000",
            "--load=module-null-sink sink_name=micsink rate=48000",
            "--load=module-virtual-source source_name=mic master=micsink.monitor",
            "--load=module-always-sink",
        ]
        self._proc = subprocess.Popen(
            args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_ready(log_file)
        self.pactl("set-default-sink", "spk")
        self.pactl("set-default-source", "mic")

    def _wait_ready(self, log_file: Path) -> None:
        """Poll ``pactl info`` until the server answers (the only readiness signal it has)."""
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                detail = log_file.read_text() if log_file.exists() else ""
                raise RuntimeError(f"pulseaudio exited at start:\n{detail[-2000:]}")
            probe = subprocess.run(
                ["pactl", "info"], env=self.client_env, capture_output=True, check=False
            )
            if probe.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"pulseaudio did not answer within {_READY_TIMEOUT} s")

    def kill(self) -> None:
        """Stop the server abruptly (as a crash or logout would); clients see it vanish."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=_READY_TIMEOUT)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=_READY_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=_READY_TIMEOUT)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def pactl(self, *args: str) -> str:
        done = subprocess.run(
            ["pactl", *args], env=self.client_env, capture_output=True, text=True, check=True
        )
        return done.stdout

    def module_index(self, fragment: str) -> int:
        """The index of the loaded module whose arguments contain ``fragment``."""
        for line in self.pactl("list", "short", "modules").splitlines():
            if fragment in line:
                return int(line.split()[0])
        raise LookupError(f"no loaded module matches {fragment!r}")

    def play_command(self, wav: Path, sink: str = "micsink") -> list[str]:
        """A ``paplay`` command line (run it with :attr:`client_env`) that plays into ``sink``."""
        return ["paplay", f"--device={sink}", str(wav)]


def pulse_available() -> str | None:
    """Why the PulseAudio tests cannot run here, or None if they can."""
    missing = [tool for tool in ("pulseaudio", "pactl", "paplay") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not installed (apt-get install pulseaudio pulseaudio-utils)"
    try:
        audio_devices.load_sounddevice()
    except audio_devices.AudioUnavailable:
        return "PortAudio is not installed (apt-get install libportaudio2)"
    return None


@contextlib.contextmanager
def running_pulse_server() -> Iterator[PulseServer]:
    """Run a private server with PULSE_SERVER pointing at it; skip the test if impossible.

    PortAudio is re-initialised so it lists the server's devices; the environment is
    restored and PortAudio re-initialised again afterwards.
    """
    reason = pulse_available()
    if reason is not None:
        pytest.skip(reason)
    with (
        tempfile.TemporaryDirectory(prefix="hark-pulse-") as tmp,
        pytest.MonkeyPatch.context() as mp,
    ):
        server = PulseServer(Path(tmp))
        server.start()
        try:
            mp.setenv("PULSE_SERVER", server.address)
            mp.delenv("PULSE_SINK", raising=False)
            mp.delenv("PULSE_SOURCE", raising=False)
            audio_devices.refresh()
            yield server
        finally:
            server.stop()
    audio_devices.refresh()


@pytest.fixture(scope="module")
def pulse_server() -> Iterator[PulseServer]:
    """A private PulseAudio server shared by one test module (see ``running_pulse_server``).

    Register this module in ``pytest_plugins`` to use the fixture by name, or wrap
    ``running_pulse_server`` in a fixture of your own.
    """
    with running_pulse_server() as server:
        yield server
