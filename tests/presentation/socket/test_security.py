"""Only the user running Hark reaches its socket; a crashed run's socket is replaced, a live
one never taken over."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.presentation.socket_protocol import ErrorCode
from src.presentation.socket_security import (
    InsecureSocketDirectory,
    SocketInUse,
    SocketSetupError,
    claim_socket,
    peer_credentials,
)
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.presentation.socket.conftest import LiveHark, hark_settings


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_directory_is_0700_and_the_socket_0600_from_the_start(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        claimed = claim_socket(tmp_path / "a" / "b" / "hark.sock")
        after = os.umask(0o022)
    finally:
        os.umask(umask)
    try:
        assert after == 0o022  # the restrictive umask was put back
        assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
        assert stat.S_ISSOCK(os.lstat(claimed.path).st_mode) and _mode(claimed.path) == 0o600
        assert _mode(tmp_path / "a" / "b" / "hark.sock.lock") == 0o600
    finally:
        claimed.release()
    assert not claimed.path.exists()


@pytest.mark.parametrize("mode", [0o750, 0o705, 0o777])
def test_an_existing_directory_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    run = tmp_path / "run"
    run.mkdir()
    run.chmod(mode)
    with pytest.raises(InsecureSocketDirectory, match=f"mode {mode:04o}.*chmod 700"):
        claim_socket(run / "hark.sock")
    assert _mode(run) == mode  # refused, not "fixed"
    assert list(run.iterdir()) == []


def test_a_directory_owned_by_someone_else_or_a_symlink_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(InsecureSocketDirectory, match="not a plain directory"):
        claim_socket(link / "hark.sock")
    if os.geteuid() != 0:
        pytest.skip("changing a directory's owner needs root")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(InsecureSocketDirectory, match="belongs to another user"):
        claim_socket(theirs / "hark.sock")


def test_a_parent_others_can_write_without_the_sticky_bit_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(InsecureSocketDirectory, match="writable by other users"):
        claim_socket(shared / "run" / "hark.sock")
    shared.chmod(0o1777)  # like /tmp: fine
    claim_socket(shared / "run" / "hark.sock").release()


def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    (run / "hark.sock").write_text("mine")
    with pytest.raises(SocketSetupError, match="not a socket"):
        claim_socket(run / "hark.sock")
    assert (run / "hark.sock").read_text() == "mine"


def test_a_path_too_long_for_a_unix_socket_is_explained(tmp_path: Path) -> None:
    with pytest.raises(SocketSetupError, match="too long"):
        claim_socket(tmp_path / ("x" * 120) / "hark.sock")


def test_a_stale_socket_from_a_crashed_run_is_replaced(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    path = run / "hark.sock"
    crashed = socket.socket(socket.AF_UNIX)
    crashed.bind(str(path))
    crashed.listen()
    crashed.close()  # the file stays behind, nobody listens: connecting is refused
    assert path.exists()
    claimed = claim_socket(path)
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))  # our new listener answers
        assert _mode(path) == 0o600
    finally:
        claimed.release()


def test_a_live_socket_is_never_taken_over(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    path = run / "hark.sock"
    first = claim_socket(path)
    try:
        with pytest.raises(SocketInUse, match=f"already running \\(pid {os.getpid()}\\)"):
            claim_socket(path)
        identity = os.lstat(path).st_ino
    finally:
        first.release()
    assert identity  # the first one's file was untouched until it released it

    # A live listener that holds no lock (another program, an older Hark) is not taken either.
    other = socket.socket(socket.AF_UNIX)
    other.bind(str(path))
    other.listen()
    try:
        with pytest.raises(SocketInUse):
            claim_socket(path)
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
    finally:
        other.close()


def test_peer_credentials_name_this_process() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        creds = peer_credentials(left)
    assert creds.uid == os.geteuid() and creds.pid == os.getpid()


def test_a_second_hark_on_the_same_socket_exits_with_a_clear_error(
    live: LiveHark, tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    second = LiveHark(live.settings)
    second._thread.start()
    second._thread.join(30)
    assert second.exit_code == 5
    assert "another Hark is already running" in second.stderr.getvalue()
    with live.connect() as conn:
        assert conn.call("ping") == "pong"  # the first one is untouched


# -- another user --------------------------------------------------------------------------


def _python_for_others() -> str | None:
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture
def stranger() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("creating a second user needs root")
    if not (shutil.which("useradd") and shutil.which("userdel") and shutil.which("runuser")):
        pytest.skip("useradd/userdel/runuser are not installed")
    if _python_for_others() is None:
        pytest.skip("no system python another user could run")
    name = f"hark{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/false", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False)


CONNECT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
try:
    s.connect(sys.argv[1])
except OSError as exc:
    print(json.dumps({"connect": exc.__class__.__name__}))
    sys.exit(0)
lines = []
try:
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"conversations.list"}\\n')
except BrokenPipeError:
    pass  # refused before the request got there: the reason is waiting to be read
reader = s.makefile("rb")
try:
    for line in reader:
        lines.append(line.decode())
except ConnectionResetError:
    pass  # Linux reports a peer that closed with our request unread as a reset, after its data
print(json.dumps({"connect": "ok", "lines": lines}))
"""


def _as(user: str, path: Path) -> dict[str, object]:
    python = _python_for_others()
    assert python is not None
    done = subprocess.run(
        ["runuser", "-u", user, "--", python, "-c", CONNECT, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_another_user_cannot_connect(stranger: str, openai_server: ScriptedOpenAIServer) -> None:
    home = Path(tempfile.mkdtemp(prefix="hark-perm-"))
    home.chmod(0o755)  # let the other user reach our directory, so our own guards are tested
    hark = LiveHark(hark_settings(home, openai_server)).start()
    try:
        # First guard: the private directory.
        assert _as(stranger, hark.path) == {"connect": "PermissionError"}
        # Second guard, with the first one loosened on purpose: the kernel's peer uid.
        hark.path.parent.chmod(0o711)
        hark.path.chmod(0o666)
        refused = _as(stranger, hark.path)
        assert refused["connect"] == "ok"
        lines = refused["lines"]
        assert isinstance(lines, list) and len(lines) == 1  # one error, then hung up
        error = json.loads(lines[0])["error"]
        assert error["code"] == ErrorCode.PERMISSION_DENIED
        assert "another user" in error["message"]
        with hark.connect() as conn:  # the owner is still served
            assert conn.call("ping") == "pong"
    finally:
        hark.stop()
        shutil.rmtree(home, ignore_errors=True)
