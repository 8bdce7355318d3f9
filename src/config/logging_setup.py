"""Logging for a Hark session: one private log file per run, a terse console, no secrets.

:func:`setup_logging` installs, on the root logger:

* a rotating file handler writing ``hark-YYYYmmdd-HHMMSS-<pid>.log`` (mode 0600, in a 0700
  directory) with a detailed format, at ``level``;
* a console handler on stderr (``hark: warning: message``) at ``console_level``;
* a :class:`~src.config.redaction.RedactionFilter` on each of them, so records that reach the
  root from any library logger (``openai``, ``httpx``, ``websockets``, ``agents`` ...) are
  redacted before they are written anywhere;
* Python warnings routed into logging (``py.warnings``), so a library's warning is redacted
  and kept in the file like any record, instead of printed raw over the screen.

Old session files beyond ``keep_sessions`` are deleted. Calling it again replaces Hark's
handlers instead of adding more.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import time
from pathlib import Path
from typing import IO, Any

from src.config.redaction import REDACTOR, RedactionFilter, Redactor

__all__ = ["NOISY_LOGGERS", "reset_logging", "session_log_name", "setup_logging"]

NOISY_LOGGERS = (
    "openai",
    "openai.agents",
    "agents",
    "httpx",
    "httpcore",
    "websockets",
    "asyncio",
    "hpack",
    "markdown_it",
)
"""Third-party loggers kept at WARNING unless the file level is DEBUG."""

_FILE_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-8s %(name)s [%(threadName)s] %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_SESSION_FILE = re.compile(r"^hark-\d{8}-\d{6}-\d+\.log$")
_BACKUP_SUFFIX = re.compile(r"^\.\d+$")
_HARK_HANDLER_ATTR = "_hark_handler"

# One session name per process, so that calling setup_logging again keeps writing to the same
# file instead of starting a new "session".
_session_started = time.localtime()


def session_log_name(pid: int | None = None, started: time.struct_time | None = None) -> str:
    """The file name of this process's session log: ``hark-YYYYmmdd-HHMMSS-<pid>.log``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", started or _session_started)
    return f"hark-{stamp}-{os.getpid() if pid is None else pid}.log"


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file handler whose files are created with mode 0600 from the start."""

    def _open(self) -> Any:
        flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        flags |= os.O_APPEND if "a" in self.mode else os.O_TRUNC
        fd = os.open(self.baseFilename, flags, 0o600)
        try:
            return open(fd, self.mode, encoding=self.encoding, errors=self.errors)
        except BaseException:
            os.close(fd)
            raise


class _StderrHandler(logging.StreamHandler[IO[str]]):
    """Writes to whatever ``sys.stderr`` is at the time of each record (tests swap it)."""

    def __init__(self, level: int) -> None:
        super().__init__(sys.stderr)
        self.setLevel(level)

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        """Ignored: the stream is always the current ``sys.stderr``."""


class _ConsoleFormatter(logging.Formatter):
    """``hark: warning: message``; an exception adds its last line only (the file has it all)."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"hark: {record.levelname.lower()}: {record.getMessage()}"
        detail = record.exc_text or (
            self.formatException(record.exc_info) if record.exc_info else ""
        )
        lines = [line for line in detail.splitlines() if line.strip()]
        if lines:
            text = f"{text} ({lines[-1].strip()})"
        return text


class _QuietLibrariesOnConsole(logging.Filter):
    """Keeps third-party records below WARNING off the console (they still reach the file)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        return not any(
            record.name == name or record.name.startswith(f"{name}.") for name in NOISY_LOGGERS
        )


def _level(value: str | int) -> int:
    if isinstance(value, int):
        return value
    number = logging.getLevelName(value.upper())
    if not isinstance(number, int):
        raise ValueError(f"Unknown log level {value!r}: use DEBUG, INFO, WARNING, ERROR")
    return number


def _ensure_private_dir(directory: Path) -> None:
    if not directory.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _prune_sessions(log_dir: Path, keep: int, current: Path) -> None:
    """Delete the files of all but the newest ``keep`` sessions (the current one always stays)."""
    sessions: dict[str, list[Path]] = {}
    for entry in log_dir.iterdir():
        name = entry.name
        base, dot, suffix = name.partition(".log")
        session = f"{base}.log"
        if not dot or not _SESSION_FILE.match(session):
            continue
        if suffix and not _BACKUP_SUFFIX.match(suffix):
            continue
        sessions.setdefault(session, []).append(entry)

    def newest_mtime(files: list[Path]) -> float:
        stamps = []
        for path in files:
            try:
                stamps.append(path.stat().st_mtime)
            except FileNotFoundError:
                continue
        return max(stamps, default=0.0)

    others = sorted(
        (name for name in sessions if name != current.name),
        key=lambda name: (newest_mtime(sessions[name]), name),
        reverse=True,
    )
    for name in others[max(keep - 1, 0) :]:
        for path in sessions[name]:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            except OSError as exc:
                logging.getLogger(__name__).warning("Could not delete old log %s: %s", path, exc)


def reset_logging() -> None:
    """Remove and close the handlers :func:`setup_logging` installed."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HARK_HANDLER_ATTR, False):
            root.removeHandler(handler)
            handler.close()
    logging.captureWarnings(False)


def _protect_foreign_handlers(redaction: RedactionFilter) -> None:
    """Put a redaction filter on handlers others attached to the root or to library loggers."""
    for name in ("", *NOISY_LOGGERS):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactionFilter) for f in handler.filters):
                handler.addFilter(redaction)


def setup_logging(
    log_dir: Path,
    level: str = "INFO",
    console_level: str = "WARNING",
    max_bytes: int = 2_000_000,
    backup_count: int = 5,
    keep_sessions: int = 20,
    redactor: Redactor = REDACTOR,
) -> Path:
    """Configure the root logger for this session and return the session log file's path."""
    file_level = _level(level)
    stderr_level = _level(console_level)
    log_dir = Path(log_dir).expanduser()
    _ensure_private_dir(log_dir)
    log_path = log_dir / session_log_name()

    reset_logging()
    redaction = RedactionFilter(redactor)

    file_handler = _PrivateRotatingFileHandler(
        log_path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"
    )
    file_handler.setLevel(file_level)
    file_handler.setFormatter(logging.Formatter(_FILE_FORMAT, _DATE_FORMAT))

    console_handler = _StderrHandler(stderr_level)
    console_handler.setFormatter(_ConsoleFormatter())
    console_handler.addFilter(_QuietLibrariesOnConsole())

    root = logging.getLogger()
    for handler in (file_handler, console_handler):
        # The redaction filter goes first: later filters and the formatter see clean text.
        handler.filters.insert(0, redaction)
        setattr(handler, _HARK_HANDLER_ATTR, True)
        root.addHandler(handler)
    root.setLevel(min(file_level, stderr_level))
    logging.captureWarnings(True)

    library_level = logging.DEBUG if file_level <= logging.DEBUG else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(library_level)
    _protect_foreign_handlers(redaction)

    _prune_sessions(log_dir, keep_sessions, log_path)
    logging.getLogger(__name__).debug("Logging to %s", log_path)
    return log_path
