"""Who may reach the control socket: only the user running Hark.

The socket can make Hark say things, read the whole history and approve purchases, so it is
guarded three times over:

1. It lives in a directory that is ours and private (0700). An existing directory that is
   group/world-accessible or owned by someone else is refused, not "fixed": we cannot know
   what another user already placed in it.
2. It is bound under ``umask 0o177``, so the file is 0600 from the instant it exists; a
   ``chmod`` after ``bind`` would leave a window in which anyone could connect.
3. Every connection's peer uid is read from the kernel (``SO_PEERCRED`` on Linux,
   ``LOCAL_PEERCRED`` on macOS/BSD) and compared with ours. Where neither exists, every
   connection is refused: failing closed is the only safe default.

Only one Hark serves a path: a lock file (``flock``) is held for the server's life, and a
socket file left by a crashed run (connecting to it is refused) is replaced, while a live one
(something answers) is never taken over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import stat
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

MAX_PATH_BYTES = 104 if sys.platform == "darwin" else 108
"""``sun_path`` size, including the terminating NUL."""
PROBE_TIMEOUT_SECONDS = 2.0

_SOL_LOCAL = 0  # macOS/BSD: the socket level of LOCAL_PEERCRED
_LOCAL_PEERCRED = 0x001
_LOCAL_PEERPID = 0x002  # macOS only


class SocketSetupError(Exception):
    """The socket cannot be served at the configured path; the message says why and what to do."""


class InsecureSocketDirectory(SocketSetupError):
    """The socket's directory (or its parent) could let another user in."""


class SocketInUse(SocketSetupError):
    """Another process (a running Hark) already serves this path."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f" (pid {pid})" if pid else ""
        super().__init__(f"another Hark is already running{who} and serving {path}")
        self.path = path
        self.pid = pid


class PeerCredentialsUnavailable(OSError):
    """This platform gives no way to learn who is on the other end of a Unix socket."""


class _SockOpt(Protocol):
    def getsockopt(self, level: int, option: int, buflen: int) -> bytes: ...


@dataclass(frozen=True)
class PeerCredentials:
    uid: int
    pid: int | None = None


def peer_credentials(sock: _SockOpt) -> PeerCredentials:
    """The uid (and pid when known) of the process on the other end of ``sock``."""
    if sys.platform.startswith("linux"):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        linux_pid, uid, _gid = struct.unpack("3i", raw)
        return PeerCredentials(uid=uid, pid=linux_pid or None)
    if sys.platform == "darwin" or "bsd" in sys.platform:
        # struct xucred { u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t groups[16]; }
        raw = sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERCRED, 76)
        _version, uid = struct.unpack_from("=II", raw)
        pid: int | None = None
        if sys.platform == "darwin":
            with contextlib.suppress(OSError):
                pid = struct.unpack("i", sock.getsockopt(_SOL_LOCAL, _LOCAL_PEERPID, 4))[0]
        return PeerCredentials(uid=uid, pid=pid)
    raise PeerCredentialsUnavailable(f"no peer credentials on {sys.platform}")


def ensure_private_directory(directory: Path) -> None:
    """Create ``directory`` 0700 (and missing parents 0700), or verify an existing one."""
    missing: list[Path] = []
    probe = directory
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        try:
            # Created by someone else meanwhile is fine: the checks below decide.
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
        except OSError as exc:
            raise SocketSetupError(f"cannot create {path}: {exc.strerror}") from exc
    _check_private(directory)
    _check_parent(directory.parent)


def _check_private(directory: Path) -> None:
    try:
        info = os.lstat(directory)
    except OSError as exc:
        raise SocketSetupError(f"cannot inspect {directory}: {exc.strerror}") from exc
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise InsecureSocketDirectory(
            f"{directory} is not a plain directory; remove it or choose another socket.path"
        )
    if info.st_uid != os.geteuid():
        raise InsecureSocketDirectory(
            f"{directory} belongs to another user (uid {info.st_uid}); choose another socket.path"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise InsecureSocketDirectory(
            f"{directory} is open to other users (mode {mode:04o}); make it private with "
            f"`chmod 700 {directory}` or choose another socket.path"
        )


def _check_parent(parent: Path) -> None:
    """Someone who can write the parent could swap our directory for theirs."""
    try:
        info = os.stat(parent)
    except OSError as exc:
        raise SocketSetupError(f"cannot inspect {parent}: {exc.strerror}") from exc
    if info.st_uid not in (os.geteuid(), 0):
        raise InsecureSocketDirectory(
            f"{parent} belongs to another user (uid {info.st_uid}); choose another socket.path"
        )
    if info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX:
        raise InsecureSocketDirectory(
            f"{parent} is writable by other users; choose another socket.path"
        )


def probe(path: Path, timeout: float = PROBE_TIMEOUT_SECONDS) -> PeerCredentials | None:
    """Credentials of whoever answers at ``path``; ``None`` when nothing does (a stale file)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(os.fspath(path))
    except (ConnectionRefusedError, FileNotFoundError):
        return None
    except TimeoutError:
        return PeerCredentials(uid=-1)  # alive but too busy to accept: not ours to take
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            return PeerCredentials(uid=-1)  # listen backlog full: alive
        raise SocketSetupError(f"cannot check {path}: {exc.strerror}") from exc
    try:
        try:
            return peer_credentials(sock)
        except OSError:
            return PeerCredentials(uid=-1)
    finally:
        sock.close()


@dataclass
class ClaimedSocket:
    """A listening socket at ``path`` that we own, with the lock that says so."""

    path: Path
    sock: socket.socket
    _lock_fd: int
    _identity: tuple[int, int]

    def release(self) -> None:
        """Close, remove the socket file if it is still ours, and drop the lock."""
        self.sock.close()
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            info = None
        if info is not None and (info.st_dev, info.st_ino) == self._identity:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = -1


def claim_socket(path: Path, backlog: int = 64) -> ClaimedSocket:
    """Bind a private listening socket at ``path``, replacing a stale one, never a live one."""
    path = Path(os.path.abspath(path))
    if len(os.fsencode(path)) >= MAX_PATH_BYTES:
        raise SocketSetupError(
            f"the socket path is too long for a Unix socket ({len(os.fsencode(path))} bytes, "
            f"the limit is {MAX_PATH_BYTES - 1}): {path}; set a shorter socket.path"
        )
    ensure_private_directory(path.parent)
    lock_fd = _take_lock(path)
    try:
        _clear_stale(path)
        sock, identity = _bind_private(path, backlog)
    except BaseException:
        os.close(lock_fd)
        raise
    return ClaimedSocket(path, sock, lock_fd, identity)


def _take_lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise SocketSetupError(f"cannot open {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        peer = probe(path)
        raise SocketInUse(path, peer.pid if peer else None) from None
    except OSError as exc:
        os.close(fd)
        raise SocketSetupError(f"cannot lock {lock_path}: {exc.strerror}") from exc
    return fd


def _clear_stale(path: Path) -> None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise SocketSetupError(
            f"{path} exists and is not a socket; remove it or choose another socket.path"
        )
    peer = probe(path)
    if peer is not None:
        raise SocketInUse(path, peer.pid)
    log.info("replacing the stale socket %s left by an earlier run", path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _bind_private(path: Path, backlog: int) -> tuple[socket.socket, tuple[int, int]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        previous = os.umask(0o177)
        try:
            sock.bind(os.fspath(path))
        finally:
            os.umask(previous)
        info = os.lstat(path)
        mode = stat.S_IMODE(info.st_mode)
        if info.st_uid != os.geteuid() or mode & 0o177:
            os.unlink(path)
            raise SocketSetupError(f"{path} was created with mode {mode:04o}, not 0600")
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise SocketSetupError(f"cannot listen on {path}: {exc.strerror or exc}") from exc
    except BaseException:
        sock.close()
        raise
    return sock, (info.st_dev, info.st_ino)
