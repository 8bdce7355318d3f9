"""The pure parts of the socket: bounded line splitting, JSON-RPC decoding, the outbox."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.presentation.socket_outbox import Outbox, OutboxClosed
from src.presentation.socket_protocol import (
    MAX_BATCH,
    OVERSIZED,
    ErrorCode,
    Invalid,
    LineSplitter,
    Request,
    decode,
    encode,
    result_document,
)

LIMIT = 64

lines = st.lists(st.binary(max_size=3 * LIMIT).map(lambda b: b.replace(b"\n", b"")), max_size=20)


@settings(max_examples=300, deadline=None)
@given(lines=lines, cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=30))
def test_splitting_any_chunking_gives_the_same_lines_and_never_holds_more_than_the_limit(
    lines: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(line + b"\n" for line in lines)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    splitter = LineSplitter(LIMIT)
    out: list[object] = []
    for start, end in itertools.pairwise(points):
        out += splitter.feed(stream[start:end])
        assert splitter.buffered <= LIMIT
    assert splitter.finish() is None
    assert out == [line if len(line) <= LIMIT else OVERSIZED for line in lines]


def test_an_oversized_line_is_reported_once_as_soon_as_it_overflows() -> None:
    splitter = LineSplitter(LIMIT)
    assert splitter.feed(b"x" * 40) == []
    assert splitter.feed(b"x" * 40) == [OVERSIZED]
    for _ in range(1000):  # the rest of it streams in and is thrown away, unbuffered
        assert splitter.feed(b"y" * 4096) == []
        assert splitter.buffered == 0
    assert splitter.feed(b"tail\nnext\n") == [b"next"]


def test_an_unterminated_last_line_is_kept_for_end_of_stream() -> None:
    splitter = LineSplitter(LIMIT)
    assert splitter.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert splitter.finish() == b'{"b"'


def _error(line: bytes) -> tuple[int, object]:
    parsed = decode(line)
    assert isinstance(parsed, Invalid), parsed
    return parsed.error.code, parsed.id


@pytest.mark.parametrize(
    ("line", "code", "request_id"),
    [
        (b"{", ErrorCode.PARSE_ERROR, None),
        (b"\xff\xfe\x00garbage", ErrorCode.PARSE_ERROR, None),
        (b'{"jsonrpc":"2.0","method":"ping","id":1,"x":NaN}', ErrorCode.PARSE_ERROR, None),
        (b"[" * 5000 + b"]" * 5000, ErrorCode.PARSE_ERROR, None),
        (b"[" * 65 + b"]" * 65, ErrorCode.PARSE_ERROR, None),
        (
            b'{"jsonrpc":"2.0","method":"ping","id":1,"params":' + b"[" * 64 + b"]" * 64 + b"}",
            ErrorCode.PARSE_ERROR,
            None,
        ),
        (b"[]", ErrorCode.INVALID_REQUEST, None),
        (b"42", ErrorCode.INVALID_REQUEST, None),
        (b'"ping"', ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","method":"ping","id":1.5}', ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","method":"ping","id":true}', ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","method":"ping","id":{}}', ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc":"1.0","method":"ping","id":7}', ErrorCode.INVALID_REQUEST, 7),
        (b'{"method":"ping","id":"a"}', ErrorCode.INVALID_REQUEST, "a"),
        (b'{"jsonrpc":"2.0","method":3,"id":2}', ErrorCode.INVALID_REQUEST, 2),
        (b'{"jsonrpc":"2.0","method":"","id":2}', ErrorCode.INVALID_REQUEST, 2),
        (b'{"jsonrpc":"2.0","method":"ping","params":"x","id":2}', ErrorCode.INVALID_REQUEST, 2),
        (b'{"jsonrpc":"2.0","method":"ping","params":"x"}', ErrorCode.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","method":"ping","params":[1],"id":3}', ErrorCode.INVALID_PARAMS, 3),
    ],
)
def test_bad_messages_become_the_right_errors(line: bytes, code: int, request_id: object) -> None:
    assert _error(line) == (code, request_id)


def test_requests_notifications_batches_and_blank_lines() -> None:
    assert decode(b"  \r") is None
    assert decode(b'{"jsonrpc":"2.0","method":"ping","id":"x"}') == Request("ping", {}, "x")
    assert decode(b'{"jsonrpc":"2.0","method":"ping","id":null}') == Request("ping", {}, None)
    assert decode(b'{"jsonrpc":"2.0","method":"interrupt"}') == Request(
        "interrupt", {}, None, notification=True
    )
    silent = decode(b'{"jsonrpc":"2.0","method":"interrupt","params":[1]}')
    assert isinstance(silent, Invalid) and silent.silent
    batch = decode(b'[{"jsonrpc":"2.0","method":"ping","id":1}, 5]')
    assert isinstance(batch, list) and isinstance(batch[0], Request)
    assert isinstance(batch[1], Invalid)
    too_many = json.dumps([{"jsonrpc": "2.0", "method": "ping"}] * (MAX_BATCH + 1)).encode()
    assert _error(too_many) == (ErrorCode.INVALID_REQUEST, None)


def test_replies_are_strict_json_or_an_internal_error() -> None:
    assert encode(result_document(1, {"a": 1})) == b'{"jsonrpc":"2.0","id":1,"result":{"a":1}}\n'
    broken = json.loads(encode(result_document(2, float("nan"))))
    assert broken["id"] == 2 and broken["error"]["code"] == ErrorCode.INTERNAL_ERROR


async def test_the_outbox_drops_the_oldest_events_never_replies_and_says_where() -> None:
    box = Outbox(max_events=3, max_replies=10)
    box.put_event(b"e1\n")
    box.put_reply(b"r1\n")
    for n in range(2, 7):
        box.put_event(f"e{n}\n".encode())
    box.put_reply(b"r2\n")
    data = await box.get_batch()
    lines = data.decode().splitlines()
    notice = json.loads(lines[1])
    assert lines[0] == "r1"
    assert notice["method"] == "events.dropped" and notice["params"] == {"count": 3, "total": 3}
    assert lines[2:] == ["e4", "e5", "e6", "r2"]
    assert box.dropped == 3
    box.close()
    with pytest.raises(OutboxClosed):
        await box.get_batch()


async def test_a_client_that_does_not_read_replies_stops_being_read() -> None:
    box = Outbox(max_events=3, max_replies=2)
    box.put_reply(b"r1\n")
    box.put_reply(b"r2\n")
    waiting = asyncio.ensure_future(box.wait_for_room())
    await asyncio.sleep(0)
    assert not waiting.done()
    await box.get_batch()
    await asyncio.wait_for(waiting, 5)
