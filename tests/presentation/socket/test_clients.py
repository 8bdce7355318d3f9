"""Many clients at once: their own turns, their own subscriptions, and a stalled one."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from src.events.conversation import AssistantTextDelta
from src.presentation.socket_protocol import ErrorCode
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.presentation.socket.conftest import WAIT, LiveHark, hark_settings
from tests.presentation.socket.helpers import turn_events

FLOOD_ROUNDS = 30
FLOOD_PER_ROUND = 100
SUBSCRIBED = ["assistant.text.delta", "turn.*"]


def test_two_clients_each_get_their_own_turn_and_nothing_else(live: LiveHark) -> None:
    with live.connect() as one, live.connect() as two:
        a = one.call("message.send", {"text": "first client"})
        b = two.call("message.send", {"text": "second client"})
        events_a = turn_events(one, a["turn_id"])
        events_b = turn_events(two, b["turn_id"])
        assert one.call("ping") == "pong" and two.call("ping") == "pong"
        assert not one.notifications and not two.notifications
    assert {e["turn_id"] for e in events_a} == {a["turn_id"]}
    assert {e["turn_id"] for e in events_b} == {b["turn_id"]}
    assert events_a[-1]["type"] == events_b[-1]["type"] == "turn.completed"


def test_a_client_that_hangs_up_mid_turn_does_not_disturb_the_turn(live: LiveHark) -> None:
    with live.connect() as leaver:
        started = leaver.call("message.send", {"text": "answer me anyway"})
    with live.connect() as conn:
        conn.call("events.subscribe", {"types": ["turn.completed"]})
        again = conn.call("message.send", {"text": "next one", "wait": True})
        shown = conn.call("conversations.show", {"id": again["conversation_id"]})
    assert [(t["id"], t["status"]) for t in shown["turns"]] == [
        (started["turn_id"], "completed"),
        (again["turn_id"], "completed"),
    ]


@pytest.fixture
def small_hark(tmp_path: Path, openai_server: ScriptedOpenAIServer) -> Iterator[LiveHark]:
    hark = LiveHark(
        hark_settings(tmp_path, openai_server),
        limits={"max_events_per_client": 200, "max_clients": 3},
    ).start()
    yield hark
    hark.stop()


def test_too_many_clients_are_told_so(small_hark: LiveHark) -> None:
    conns = [small_hark.connect() for _ in range(3)]
    try:
        assert all(c.call("ping") == "pong" for c in conns)
        with socket.socket(socket.AF_UNIX) as extra:
            extra.connect(str(small_hark.path))
            lines = extra.makefile("rb").readlines()
        assert len(lines) == 1
        assert json.loads(lines[0])["error"]["code"] == ErrorCode.BUSY
    finally:
        for conn in conns:
            conn.close()


class Collector(threading.Thread):
    """Reads one connection's events as fast as it can, on its own thread."""

    def __init__(self, hark: LiveHark) -> None:
        super().__init__(daemon=True)
        self.conn = hark.connect()
        self.conn.call("events.subscribe", {"types": SUBSCRIBED})
        self.events: list[dict[str, Any]] = []
        self.notices: list[dict[str, Any]] = []
        self.changed = threading.Condition()

    def run(self) -> None:
        while True:
            note = self.conn.next_notification()
            with self.changed:
                if note["method"] == "event":
                    self.events.append(note["params"])
                else:
                    self.notices.append(note)
                self.changed.notify_all()
                if note.get("params", {}).get("type") == "turn.completed":
                    return  # the one real turn of the test has ended

    def wait_count(self, count: int) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.events) >= count, WAIT):
                raise TimeoutError(f"{len(self.events)} of {count} events arrived")


def test_a_stalled_client_loses_only_its_own_events_and_is_told_exactly_where(
    small_hark: LiveHark,
) -> None:
    hark = small_hark
    stalled = socket.socket(socket.AF_UNIX)
    stalled.connect(str(hark.path))
    stalled_file = stalled.makefile("rb")
    request = {"jsonrpc": "2.0", "id": 1, "method": "events.subscribe"}
    stalled.sendall(json.dumps({**request, "params": {"types": SUBSCRIBED}}).encode() + b"\n")
    assert json.loads(stalled_file.readline())["result"] == {"types": SUBSCRIBED}
    # From here on the stalled client reads nothing until the end.

    keeper = Collector(hark)
    keeper.start()
    filler = "x" * 1000
    for round_ in range(FLOOD_ROUNDS):
        hark.publish(
            *(
                AssistantTextDelta(
                    turn_id="flood", delta=f"{round_ * FLOOD_PER_ROUND + n:05d}{filler}"
                )
                for n in range(FLOOD_PER_ROUND)
            )
        )
        keeper.wait_count((round_ + 1) * FLOOD_PER_ROUND)

    with hark.connect() as asker:  # Hark keeps answering while one client is stalled
        assert asker.call("status")["state"] == "idle"
        answer = asker.call("message.send", {"text": "still there?", "wait": True})
    assert answer["text"] == "You said: still there?"
    keeper.join(WAIT)
    assert not keeper.is_alive()
    keeper.conn.close()

    # The client that kept reading got everything, in order, with no gap.
    assert keeper.notices == []
    flood = [e["delta"][:5] for e in keeper.events if e.get("turn_id") == "flood"]
    assert flood == [f"{n:05d}" for n in range(FLOOD_ROUNDS * FLOOD_PER_ROUND)]
    assert keeper.events[-1]["type"] == "turn.completed"
    assert keeper.events[-1]["turn_id"] == answer["turn_id"]

    # The stalled one now reads: the newest events, with a notice at each gap saying how many.
    received: list[dict[str, Any] | int] = []
    while True:
        note = json.loads(stalled_file.readline())
        if note["method"] == "events.dropped":
            received.append(note["params"]["count"])
            continue
        received.append(note["params"])
        if note["params"]["type"] == "turn.completed":
            break
    stalled.close()
    expected = iter(keeper.events)
    dropped = 0
    for item in received:
        if isinstance(item, int):
            dropped += item
            for _ in range(item):
                next(expected)  # the gap is exactly the next `count` events
        else:
            assert item == next(expected)
    assert next(expected, None) is None
    assert dropped > 0
    assert len([r for r in received if not isinstance(r, int)]) + dropped == len(keeper.events)


def test_many_clients_with_their_own_subscriptions(live: LiveHark) -> None:
    kinds = ["turn.started", "assistant.text.delta", "turn.completed", "state.changed"]
    conns = [live.connect() for _ in kinds]
    try:
        for conn, kind in zip(conns, kinds, strict=True):
            conn.call("events.subscribe", {"types": [kind]})
        with live.connect() as asker:
            asker.call("message.send", {"text": "for everyone", "wait": True})
        with concurrent.futures.ThreadPoolExecutor(len(conns)) as pool:
            firsts = list(pool.map(lambda c: c.next_notification()["params"]["type"], conns))
    finally:
        for conn in conns:
            conn.close()
    assert firsts == kinds
