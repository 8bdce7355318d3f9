"""The control socket's client: ``hark ctl`` and ``hark ask`` for people and scripts.

A plain blocking socket is enough here (one request at a time, then maybe a stream of
notifications) and keeps the client free of an event loop and of Hark's heavier imports.

Exit codes scripts can rely on: 0 done; 1 the request failed (a JSON-RPC error, a failed or
cancelled turn, Hark went away); 2 bad usage; 4 no Hark is running at the socket path;
130 interrupted by Ctrl+C.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

if TYPE_CHECKING:  # only a type: ``hark --help`` should not pay for importing pydantic
    from src.config.settings import SocketSettings

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_NO_HARK: Final = 4
EXIT_INTERRUPTED: Final = 130

NO_HARK_MESSAGE: Final = "No Hark is running; start one with `python main.py --headless`"
TURN_END: Final = frozenset({"turn.completed", "turn.cancelled", "turn.failed"})
APPROVAL_HINT: Final = (
    "  answer with: hark ctl approval.resolve approval_id={id} decision=approve|reject|always"
)


class ClientError(Exception):
    """The conversation with Hark broke down; ``exit_code`` says how to leave."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NoHarkRunning(ClientError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"{NO_HARK_MESSAGE} (no server at {path}).", EXIT_NO_HARK)


class RemoteError(Exception):
    """Hark answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (error {code})")
        self.code = code
        self.message = message
        self.data = data


class HarkConnection:
    """One connection to the socket: requests, and the notifications that arrive meanwhile."""

    def __init__(self, path: Path, *, timeout: float | None = None) -> None:
        self.path = Path(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(os.fspath(self.path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise NoHarkRunning(self.path) from exc
        except PermissionError as exc:
            sock.close()
            raise ClientError(
                f"permission denied: {self.path} belongs to another user's Hark"
            ) from exc
        except OSError as exc:
            sock.close()
            raise ClientError(f"cannot connect to {self.path}: {exc.strerror or exc}") from exc
        self._sock = sock
        self._file = sock.makefile("rb")
        self._ids = itertools.count(1)
        self.notifications: collections.deque[dict[str, Any]] = collections.deque()

    def __enter__(self) -> HarkConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def send(self, document: Any) -> None:
        data = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            self._sock.sendall(data + b"\n")
        except OSError as exc:
            self._raise_refusal()
            raise ClientError("Hark closed the connection") from exc

    def _raise_refusal(self) -> None:
        """Hark may have refused us (busy, another user) before our request arrived: say why."""
        try:
            message = self.read()
        except ClientError:
            return
        if isinstance(message, dict) and isinstance(message.get("error"), dict):
            error = message["error"]
            raise RemoteError(error.get("code", 0), error.get("message", ""), error.get("data"))

    def read(self) -> Any:
        """The next message from Hark (a dict, or a list for a batch reply)."""
        try:
            line = self._file.readline()
        except OSError as exc:
            raise ClientError(f"lost the connection to Hark: {exc}") from exc
        if not line:
            raise ClientError("Hark closed the connection")
        try:
            return json.loads(line)
        except ValueError as exc:
            raise ClientError(f"Hark sent something that is not JSON: {exc}") from exc

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """A request without an id: Hark acts on it and sends no reply."""
        self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """Send a request and wait for its reply; notifications meanwhile are kept."""
        request_id = next(self._ids)
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        while True:
            message = self.read()
            if isinstance(message, dict) and "method" in message and "id" not in message:
                self.notifications.append(message)
                continue
            if not isinstance(message, dict):
                continue
            if message.get("id") not in (request_id, None):
                continue
            if "error" in message:
                error = message["error"]
                raise RemoteError(error.get("code", 0), error.get("message", ""), error.get("data"))
            if message.get("id") == request_id:
                return message.get("result")

    def next_notification(self) -> dict[str, Any]:
        if self.notifications:
            return self.notifications.popleft()
        while True:
            message = self.read()
            if isinstance(message, dict) and "method" in message and "id" not in message:
                return message
            if isinstance(message, dict) and message.get("id") is None and "error" in message:
                error = message["error"]
                raise RemoteError(error.get("code", 0), error.get("message", ""), error.get("data"))

    def stream(self) -> Iterator[dict[str, Any]]:
        while True:
            yield self.next_notification()


# -- argparse -------------------------------------------------------------------------------

CTL_EPILOG = """\
examples:
  hark ctl status
  hark ctl message.send text="what's the weather in Paris" wait=true
  hark ctl message.send text=hello --follow
  hark ctl conversations.list limit=5
  hark ctl events.subscribe types='["turn.*", "tool.started"]' --follow
  hark ctl methods                      (every method and its parameters)

VALUE is read as JSON when it parses (5, true, "5", [..]) and as a plain string otherwise.
exit codes: 0 ok, 1 the request failed, 2 bad usage, 4 no Hark running, 130 Ctrl+C."""


def add_client_commands(subparsers: Any) -> None:
    """Add ``ctl`` and ``ask`` to main.py's subcommands (``parser.add_subparsers(...)``)."""
    ctl = subparsers.add_parser(
        "ctl",
        help="call a method of the running Hark over its control socket",
        description="Call one JSON-RPC method of the running Hark and print its result as JSON.",
        epilog=CTL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ctl.add_argument("method", help="e.g. status, message.send, conversations.list")
    ctl.add_argument("pairs", nargs="*", metavar="KEY=VALUE", help="named params")
    ctl.add_argument("--params", metavar="JSON", help="params as one JSON object")
    ctl.add_argument(
        "--follow",
        action="store_true",
        help="print the result and then notifications as JSON lines (until the turn ends, "
        "or Ctrl+C)",
    )
    ctl.add_argument("--json", action="store_true", help="print the result on one line")
    _socket_option(ctl)
    ask = subparsers.add_parser(
        "ask",
        help="ask the running Hark something and print the answer as it streams",
        description="Ask the running Hark (see --headless); the answer goes to stdout, "
        "tool progress to stderr. Exit 0 when answered, 1 if the turn failed, 4 if no Hark.",
    )
    ask.add_argument("question", nargs="*", help="the question (read from stdin if omitted)")
    ask.add_argument("--json", action="store_true", help="print the raw events as JSON lines")
    ask.add_argument("--new", action="store_true", help="ask in a new conversation")
    _socket_option(ask)


def _socket_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--socket", type=Path, metavar="PATH", help="control socket (default: socket.path)"
    )


def socket_path(args: argparse.Namespace, settings: SocketSettings) -> Path:
    chosen = getattr(args, "socket", None) or settings.path
    if chosen is None:
        raise ClientError("no socket path is configured (socket.path)", EXIT_USAGE)
    return Path(chosen)


# -- ctl ------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_params(pairs: list[str], params_json: str | None) -> dict[str, Any]:
    """``--params`` then ``KEY=VALUE`` pairs (JSON values, else strings); ``ClientError`` if bad."""
    params: dict[str, Any] = {}
    if params_json is not None:
        try:
            loaded = json.loads(params_json, parse_constant=_reject_constant)
        except ValueError as exc:
            raise ClientError(f"--params is not valid JSON: {exc}", EXIT_USAGE) from None
        if not isinstance(loaded, dict):
            raise ClientError("--params must be a JSON object", EXIT_USAGE)
        params.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ClientError(f"expected KEY=VALUE, got {pair!r}", EXIT_USAGE)
        try:
            params[key] = json.loads(value, parse_constant=_reject_constant)
        except ValueError:
            params[key] = value
    return params


def run_ctl(
    args: argparse.Namespace,
    settings: SocketSettings,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``hark ctl METHOD [KEY=VALUE...]``: print the result as JSON; see the exit codes above."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    try:
        params = parse_params(args.pairs, args.params)
        with HarkConnection(socket_path(args, settings)) as conn:
            result = conn.call(args.method, params)
            # Following prints JSON lines, so the result is one line too.
            out.write(_dumps(result, compact=args.json or args.follow) + "\n")
            out.flush()
            if args.follow:
                return _follow(conn, result, out)
        return EXIT_OK
    except RemoteError as exc:
        err.write(f"hark: {exc}\n")
        if exc.data is not None:
            err.write(_dumps(exc.data, compact=True) + "\n")
        return EXIT_FAILED
    except ClientError as exc:
        err.write(f"hark: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _follow(conn: HarkConnection, result: Any, out: TextIO) -> int:
    """Print notifications; a ``message.send`` result's turn ends the stream when it ends."""
    turn_id = result.get("turn_id") if isinstance(result, dict) else None
    try:
        for note in conn.stream():
            out.write(_dumps(note, compact=True) + "\n")
            out.flush()
            params = note.get("params") or {}
            if turn_id and params.get("turn_id") == turn_id and params.get("type") in TURN_END:
                return EXIT_OK if params["type"] == "turn.completed" else EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK  # pragma: no cover - stream() only ends by raising


def _dumps(value: Any, *, compact: bool) -> str:
    if compact:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(value, ensure_ascii=False, indent=2)


# -- ask ------------------------------------------------------------------------------------


class _AskView:
    """Renders one turn's events like line mode: answer on stdout, the rest on stderr."""

    def __init__(self, out: TextIO, err: TextIO, raw: bool) -> None:
        self.out, self.err, self.raw = out, err, raw
        self.printed = ""
        self.lost = 0

    def show(self, note: dict[str, Any]) -> str | None:
        """Render a notification; the turn-end type when it ends the turn."""
        if self.raw:
            self.out.write(_dumps(note, compact=True) + "\n")
            self.out.flush()
        method, params = note.get("method"), note.get("params") or {}
        if method == "events.dropped":
            self.lost += int(params.get("count", 0))
            if not self.raw:
                self._info(f"(hark: {params.get('count')} events were lost on the way)")
            return None
        if method == "server.closing":
            raise ClientError(str(params.get("reason") or "Hark is shutting down"))
        if method != "event":
            return None
        kind = params.get("type")
        if not self.raw:
            self._render(kind, params)
        return kind if kind in TURN_END else None

    def _render(self, kind: Any, e: dict[str, Any]) -> None:
        if kind == "assistant.text.delta":
            self._write(str(e.get("delta", "")))
        elif kind == "tool.started" and not str(e.get("tool", "")).startswith("transfer_to_"):
            self._info(f"  … {e.get('progress', '')}")
        elif kind == "handoff":
            self._info(f"  ↪ {e.get('from_agent')} → {e.get('to_agent')}")
        elif kind == "assistant.message.completed":
            text = str(e.get("text", ""))
            if not self.printed:
                self._write(text)
            elif self.lost and text != self.printed:
                self._info("(hark: part of the answer was lost; here it is in full)")
                self._write("\n" + text)
            if self.printed and not self.printed.endswith("\n"):
                self._write("\n")
        elif kind == "followups.suggested":
            self._info("  Try: " + " | ".join(e.get("suggestions", [])))
        elif kind == "approval.requested":
            self._info(f"  Hark asks before it acts: {e.get('readback', '')}")
            self._info(APPROVAL_HINT.format(id=e.get("approval_id")))
        elif kind == "approval.resolved":
            self._info(f"  ({e.get('decision')})")
        elif kind == "turn.failed":
            self.err.write(f"hark: {e.get('message', 'the turn failed')}\n")
        elif kind == "turn.cancelled":
            self._info("  (answer cancelled)")

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()
        self.printed += text

    def _info(self, text: str) -> None:
        if self.printed and not self.printed.endswith("\n") and self.err is self.out:
            self._write("\n")
        self.err.write(text + "\n")
        self.err.flush()


def _question(args: argparse.Namespace, stdin: TextIO) -> str:
    text = " ".join(args.question).strip()
    if not text and not stdin.isatty():
        text = stdin.read().strip()
    if not text:
        raise ClientError("nothing to ask: give a question (or pipe one in)", EXIT_USAGE)
    return text


def run_ask(
    args: argparse.Namespace,
    settings: SocketSettings,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``hark ask QUESTION``: stream the answer; Ctrl+C cancels this answer (exit 130)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    view = _AskView(out, err, args.json)
    try:
        question = _question(args, stdin or sys.stdin)
        with HarkConnection(socket_path(args, settings)) as conn:
            if args.new:
                conn.call("conversations.new")
            started = conn.call("message.send", {"text": question})
            if args.json:
                out.write(_dumps({"result": started}, compact=True) + "\n")
            return _stream_turn(conn, view, str(started.get("turn_id", "")))
    except RemoteError as exc:
        err.write(f"hark: {exc}\n")
        return EXIT_FAILED
    except ClientError as exc:
        if view.printed and not view.printed.endswith("\n"):
            out.write("\n")
        err.write(f"hark: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def _stream_turn(conn: HarkConnection, view: _AskView, turn_id: str) -> int:
    interrupted = False
    while True:
        # Ctrl+C may land while waiting or while a delta is being printed: either way it
        # asks Hark to cancel this answer and keeps reading until Hark confirms.
        try:
            note = conn.next_notification()
            params = note.get("params") or {}
            end = view.show(note)
        except KeyboardInterrupt:
            if interrupted:
                raise  # a second Ctrl+C: leave now
            interrupted = True
            conn.notify("interrupt")
            continue
        if end is not None and params.get("turn_id") == turn_id:
            if end == "turn.completed":
                return EXIT_OK
            return EXIT_INTERRUPTED if interrupted else EXIT_FAILED
