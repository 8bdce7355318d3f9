"""Over ten thousand malformed or hostile messages; afterwards Hark answers and has lost nothing.

One Hark serves the whole test. Each hypothesis example pipelines a few dozen hostile lines
(cut into random pieces on the wire) and reads back exactly the replies JSON-RPC 2.0 calls
for: one per request with an id, one (id null) per line that is not JSON or not a request,
one array per batch that has something to answer, nothing for notifications. The count is
decided by an independent reading of the spec (``expected_replies``), not by Hark's code.
"""

from __future__ import annotations

import collections
import itertools
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.presentation.socket_methods import METHODS
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.presentation.socket.conftest import WAIT, LiveHark, hark_settings
from tests.presentation.socket.helpers import turn_events

LIMIT = 4096
MAX_DEPTH = 64
MIN_MESSAGES = 10_000
STATE_CHANGING = {"message.send", "conversations.new", "conversations.resume", "shutdown"}
SAFE_METHODS = sorted(set(METHODS) - STATE_CHANGING)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ids = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(max_size=12),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def rpc_objects(draw: st.DrawFn) -> dict[str, Any]:
    """Request-shaped objects, mostly almost right."""
    obj: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        obj["jsonrpc"] = draw(st.sampled_from(["2.0", "2.0", "2.0", "1.0", 2.0, None]))
    method = draw(
        st.one_of(
            st.sampled_from(SAFE_METHODS),
            st.sampled_from(sorted(STATE_CHANGING)),
            st.text(max_size=15),
            json_values,
        )
    )
    if draw(st.integers(0, 19)):
        obj["method"] = method
    if draw(st.integers(0, 3)):
        obj["id"] = draw(ids)
    if draw(st.booleans()):
        params = draw(
            st.one_of(
                st.dictionaries(
                    st.sampled_from(
                        ["text", "id", "limit", "types", "mode", "muted", "query", "approval_id"]
                    ),
                    json_values,
                    max_size=3,
                ),
                json_values,
            )
        )
        obj["params"] = params
    if isinstance(method, str) and method in STATE_CHANGING:
        # Hostile but never legitimate: state-changing calls always carry an unknown param.
        params = obj.get("params")
        obj["params"] = {**(params if isinstance(params, dict) else {})}
        obj["params"]["x-" + draw(st.text(max_size=5))] = 1
    return obj


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()


hostile_lines = st.one_of(
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")),
    json_values.map(_dump),
    rpc_objects().map(_dump),
    st.lists(rpc_objects(), min_size=1, max_size=8).map(_dump),
    st.lists(json_values, max_size=5).map(_dump),
    st.integers(LIMIT + 1, 4 * LIMIT).map(lambda n: b"x" * n),
    st.integers(LIMIT - 100, 3 * LIMIT).map(
        lambda n: _dump({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"p": "a" * n}})
    ),
    st.integers(1, 2000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 3000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(1, 2000).map(lambda n: b"[" * n),
    st.just(b'{"jsonrpc":"2.0","method":"ping","id":1,"params":{"x":NaN}}'),
    st.just(b'{"jsonrpc":"2.0","id":1,"method":"ping"' + b" " * 10),
    st.just(b"[" + b'{"jsonrpc":"2.0","method":"ping"},' * 150 + b"1]"),
    st.just(b"\xef\xbb\xbf" + b'{"jsonrpc":"2.0","method":"ping","id":"bom"}'),
    st.just(b"   \t "),
)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _valid_id(value: Any) -> bool:
    return (
        value is None
        or isinstance(value, str)
        or (isinstance(value, int) and not isinstance(value, bool))
    )


def _depth(doc: Any) -> int:
    deepest, todo = 0, [(doc, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            todo += [(v, depth + 1) for v in (value.values() if isinstance(value, dict) else value)]
    return deepest


def _one(doc: Any) -> list[Any]:
    """Ids of the replies one request object calls for (JSON-RPC 2.0, section 4-5)."""
    if not isinstance(doc, dict):
        return [None]
    if "id" in doc and not _valid_id(doc["id"]):
        return [None]
    request_id = doc.get("id")
    params = doc.get("params", {})
    structurally_bad = (
        doc.get("jsonrpc") != "2.0"
        or not isinstance(doc.get("method"), str)
        or not doc.get("method")
        or not isinstance(params, dict | list)
    )
    if structurally_bad:
        return [request_id]
    return [request_id] if "id" in doc else []


def expected_replies(line: bytes) -> list[Any]:
    """What Hark must send back for ``line``: ids, or ``("batch", ids)`` for one array."""
    if len(line) > LIMIT:
        return [None]
    if not line.strip():
        return []
    try:
        doc = json.loads(line, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return [None]
    if _depth(doc) > MAX_DEPTH:
        return [None]  # refused as a parse error: nested too deep
    if isinstance(doc, list):
        if not doc or len(doc) > 100:
            return [None]
        inner = [i for item in doc for i in _one(item)]
        return [("batch", sorted(map(repr, inner)))] if inner else []
    return _one(doc)


def _reply_key(message: Any) -> Any:
    if isinstance(message, list):
        return ("batch", sorted(repr(m["id"]) for m in message))
    return message["id"]


def _check_reply(message: Any) -> None:
    for item in message if isinstance(message, list) else [message]:
        assert item["jsonrpc"] == "2.0" and "id" in item
        assert ("result" in item) != ("error" in item)
        if "error" in item:
            assert isinstance(item["error"]["code"], int) and item["error"]["message"]


class Wire:
    """A raw connection that counts replies and skips notifications."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(WAIT)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def replies(self, count: int) -> list[Any]:
        got: list[Any] = []
        while len(got) < count:
            line = self.file.readline()
            assert line, "Hark closed the connection"
            message = json.loads(line)
            if isinstance(message, dict) and "method" in message and "id" not in message:
                continue  # an event notification (the fuzz may subscribe itself to events)
            _check_reply(message)
            got.append(message)
        return got

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture(scope="module")
def fuzz_hark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHark]:
    with ScriptedOpenAIServer() as server:
        home = tmp_path_factory.mktemp("fuzz")
        settings_ = hark_settings(home, server, HARK_SOCKET__MAX_MESSAGE_BYTES=str(LIMIT))
        hark = LiveHark(settings_).start()
        yield hark
        hark.stop()
        server.assert_wire_clean()


def test_hostile_input_is_answered_exactly_and_loses_nothing(fuzz_hark: LiveHark) -> None:
    hark = fuzz_hark
    with hark.connect() as setup:
        before = setup.call("message.send", {"text": "remember 42", "wait": True})
        history = setup.call("conversations.show", {"id": before["conversation_id"]})
    watcher = hark.connect()
    watcher.call("events.subscribe", {"types": ["turn.*", "assistant.message.completed"]})
    wire = Wire(hark.path)
    sent = collections.Counter[str]()
    sentinel = iter(range(10**9))

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        lines=st.lists(hostile_lines, min_size=30, max_size=60),
        cuts=st.lists(st.integers(min_value=1, max_value=1 << 20), max_size=8),
        hang_up_mid_line=st.booleans(),
    )
    def hostile(lines: list[bytes], cuts: list[int], hang_up_mid_line: bool) -> None:
        stream = b"".join(line + b"\n" for line in lines)
        points = sorted({c % len(stream) for c in cuts} | {0, len(stream)})
        for start, end in itertools.pairwise(points):
            wire.sock.sendall(stream[start:end])
        expected = [reply for line in lines for reply in expected_replies(line)]
        got = wire.replies(len(expected))
        assert collections.Counter(map(repr, map(_reply_key, got))) == collections.Counter(
            map(repr, expected)
        )
        mark = f"sentinel-{next(sentinel)}"
        wire.sock.sendall(_dump({"jsonrpc": "2.0", "id": mark, "method": "ping"}) + b"\n")
        assert wire.replies(1) == [{"jsonrpc": "2.0", "id": mark, "result": "pong"}]
        if hang_up_mid_line:
            other = Wire(hark.path)
            other.sock.sendall(stream[: len(stream) // 2] + b'{"jsonrpc":"2.0","id":1,"meth')
            other.close()
        sent["lines"] += len(lines)

    hostile()

    # A flood: thousands of pipelined requests before reading a single reply.
    flood = 3000
    wire.sock.sendall(
        b"".join(_dump({"jsonrpc": "2.0", "id": n, "method": "ping"}) + b"\n" for n in range(flood))
    )
    assert sorted(r["id"] for r in wire.replies(flood)) == list(range(flood))
    sent["lines"] += flood
    wire.close()
    print(f"{sent['lines']} hostile or malformed messages sent")  # visible with -s
    assert sent["lines"] >= MIN_MESSAGES

    # Nothing was lost: history is intact, the subscribed client still gets every event.
    with hark.connect() as after:
        assert after.call("ping") == "pong"
        assert after.call("conversations.show", {"id": before["conversation_id"]}) == history
        answer = after.call("message.send", {"text": "still 42?"})
        events = turn_events(watcher, answer["turn_id"])
    assert [e["type"] for e in events] == [
        "turn.started",
        "assistant.message.completed",
        "turn.completed",
    ]
    assert not any(n["method"] == "events.dropped" for n in watcher.notifications)
    watcher.close()
