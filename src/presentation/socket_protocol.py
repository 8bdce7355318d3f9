"""JSON-RPC 2.0 framing for the control socket: one JSON document per line, bounded.

Everything here is pure (no sockets, no asyncio) so the hostile-input rules can be tested
and fuzzed on their own:

* ``LineSplitter`` cuts a byte stream into lines and never buffers more than the limit: a
  line that grows past it is reported once as ``OVERSIZED`` and the rest of it is thrown
  away as it arrives, so a client cannot make Hark hold a gigabyte waiting for a newline.
* ``decode`` turns one line into requests or ready-made error replies, following the
  JSON-RPC 2.0 rules on ids, notifications and batches.
* ``encode_*`` build the reply lines; non-finite floats are refused so every line Hark
  writes is strict JSON.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

JSONRPC: Final = "2.0"
MAX_BATCH: Final = 100
"""Requests in one batch; a larger batch is refused whole with ``INVALID_REQUEST``."""
MAX_DEPTH: Final = 64
"""Deepest nesting of arrays/objects accepted. The JSON decoder's own limit depends on how
deep the call stack already is, so without a fixed limit the same line could be accepted in
one place and refused in another."""

RequestId: TypeAlias = str | int | None


class ErrorCode(enum.IntEnum):
    """Error codes: JSON-RPC's standard ones and Hark's own in -32000..-32099."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    SHUTTING_DOWN = -32000
    NO_OPENAI_KEY = -32001
    CONVERSATION_NOT_FOUND = -32002
    APPROVAL_NOT_PENDING = -32003
    BUSY = -32004
    MESSAGE_TOO_LARGE = -32005
    VOICE_UNAVAILABLE = -32006
    TURN_FAILED = -32007
    TURN_CANCELLED = -32008
    TIMEOUT = -32009
    REQUEST_FAILED = -32010
    PERMISSION_DENIED = -32011


class RpcError(Exception):
    """A failure to report to the client as a JSON-RPC error object."""

    def __init__(self, code: ErrorCode, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": int(self.code), "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


@dataclass(frozen=True)
class Request:
    """A well-formed request; ``notification`` requests get no reply, even on error."""

    method: str
    params: dict[str, Any]
    id: RequestId = None
    notification: bool = False


@dataclass(frozen=True)
class Invalid:
    """A message that could not become a request: reply with ``error`` to ``id``.

    ``silent`` is set for a structurally valid notification whose params are unusable: the
    spec forbids replying to notifications, so it is dropped without a word.
    """

    error: RpcError
    id: RequestId = None
    silent: bool = False


Parsed: TypeAlias = Request | Invalid


class _Oversized:
    """Marker for a line longer than the limit (its content was not kept)."""

    def __repr__(self) -> str:
        return "OVERSIZED"


OVERSIZED: Final = _Oversized()


class LineSplitter:
    """Splits a byte stream on ``\\n`` holding at most ``limit`` bytes of any one line."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be positive")
        self.limit = limit
        self._buffer = bytearray()
        self._discarding = False

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished line held now (never more than ``limit``)."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[bytes | _Oversized]:
        """Complete lines (without their newline) in ``chunk``, in order."""
        out: list[bytes | _Oversized] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            piece = chunk[start:end]
            if self._discarding:
                self._discarding = False  # the tail of a line already reported as too long
            elif len(self._buffer) + len(piece) > self.limit:
                out.append(OVERSIZED)
            else:
                self._buffer += piece
                out.append(bytes(self._buffer))
            self._buffer.clear()
            start = end + 1
        rest = chunk[start:]
        if rest and not self._discarding:
            if len(self._buffer) + len(rest) > self.limit:
                self._buffer.clear()
                self._discarding = True
                out.append(OVERSIZED)
            else:
                self._buffer += rest
        return out

    def finish(self) -> bytes | None:
        """At end of stream: an unterminated last line, if there is one."""
        data = bytes(self._buffer) if self._buffer and not self._discarding else None
        self._buffer.clear()
        self._discarding = False
        return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_TOO_DEEP = f"Parse error: nested deeper than {MAX_DEPTH} levels"


def parse_json(line: bytes) -> Any:
    """Strict JSON (no NaN/Infinity, bounded nesting); ``RpcError(PARSE_ERROR)`` if not."""
    try:
        document = json.loads(line, parse_constant=_reject_constant)
    except RecursionError:
        raise RpcError(ErrorCode.PARSE_ERROR, _TOO_DEEP) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limits
        reason = str(exc).split("\n")[0][:200]
        raise RpcError(ErrorCode.PARSE_ERROR, f"Parse error: {reason}") from None
    if _deeper_than(document, MAX_DEPTH):
        raise RpcError(ErrorCode.PARSE_ERROR, _TOO_DEEP)
    return document


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays/objects nest more than ``limit`` deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def decode(line: bytes) -> Parsed | list[Parsed] | None:
    """One line: a request, a batch, an error to send back, or ``None`` for a blank line."""
    if not line.strip():
        return None
    try:
        document = parse_json(line)
    except RpcError as exc:
        return Invalid(exc)
    if isinstance(document, list):
        if not document:
            return Invalid(RpcError(ErrorCode.INVALID_REQUEST, "Invalid request: empty batch"))
        if len(document) > MAX_BATCH:
            return Invalid(
                RpcError(
                    ErrorCode.INVALID_REQUEST,
                    f"Invalid request: a batch may hold at most {MAX_BATCH} requests",
                )
            )
        return [validate(item) for item in document]
    return validate(document)


def _valid_id(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int) and not isinstance(value, bool))
    )


def validate(document: Any) -> Parsed:
    """Check one request object against JSON-RPC 2.0."""
    if not isinstance(document, dict):
        return Invalid(RpcError(ErrorCode.INVALID_REQUEST, "Invalid request: not an object"))
    has_id = "id" in document
    request_id = document.get("id")
    if has_id and not _valid_id(request_id):
        return Invalid(
            RpcError(ErrorCode.INVALID_REQUEST, "Invalid request: id must be a string or integer")
        )
    if document.get("jsonrpc") != JSONRPC:
        return Invalid(
            RpcError(ErrorCode.INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"'),
            request_id,
        )
    method = document.get("method")
    if not isinstance(method, str) or not method:
        return Invalid(
            RpcError(ErrorCode.INVALID_REQUEST, "Invalid request: method must be a string"),
            request_id,
        )
    params = document.get("params", {})
    if isinstance(params, list) and not params:
        params = {}
    if isinstance(params, list):
        return Invalid(
            RpcError(ErrorCode.INVALID_PARAMS, "Invalid params: use named parameters (an object)"),
            request_id,
            silent=not has_id,
        )
    if not isinstance(params, dict):
        return Invalid(
            RpcError(ErrorCode.INVALID_REQUEST, "Invalid request: params must be an object"),
            request_id,
        )
    return Request(method, params, request_id, notification=not has_id)


def _dump(document: Any) -> bytes:
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.encode("utf-8") + b"\n"


def result_document(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "id": request_id, "result": result}


def error_document(request_id: RequestId, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": JSONRPC, "id": request_id, "error": error.to_json()}


def encode(document: Any) -> bytes:
    """One line of strict JSON; a reply that cannot be encoded becomes an internal error."""
    try:
        return _dump(document)
    except (TypeError, ValueError) as exc:
        request_id = document.get("id") if isinstance(document, dict) else None
        error = RpcError(ErrorCode.INTERNAL_ERROR, f"Internal error: the reply is not JSON ({exc})")
        return _dump(error_document(request_id if _valid_id(request_id) else None, error))


def encode_notification(method: str, params: Any) -> bytes:
    """A server-to-client notification line (no id, so the client never replies)."""
    return _dump({"jsonrpc": JSONRPC, "method": method, "params": params})
