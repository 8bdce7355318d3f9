"""docs/socket.md stays true: every method, error code and event type, with valid examples."""

from __future__ import annotations

import json
import re
from pathlib import Path

from src.events.base import event_from_json, event_types
from src.presentation import socket_server  # noqa: F401  (registers every event type)
from src.presentation.socket_methods import METHODS
from src.presentation.socket_protocol import ErrorCode

DOC = (Path(__file__).resolve().parents[3] / "docs" / "socket.md").read_text(encoding="utf-8")


def test_every_method_has_a_heading_and_an_example() -> None:
    headings = "\n".join(line for line in DOC.splitlines() if line.startswith("### "))
    for name in METHODS:
        assert re.search(rf"`{re.escape(name)}[` ]", headings), name
        assert f'"method":"{name}"' in DOC, name


def test_every_error_code_is_in_the_table() -> None:
    for code in ErrorCode:
        assert re.search(rf"^\| {int(code)} \|", DOC, re.MULTILINE), code


def test_every_event_type_has_an_example_that_is_a_real_event() -> None:
    block = DOC.split("```jsonl\n", 1)[1].split("```", 1)[0]
    examples = [json.loads(line) for line in block.splitlines() if line.strip()]
    for example in examples:
        event = event_from_json(example)
        assert event.to_json() == example, example["type"]
    hark_types = [n for n, cls in event_types().items() if cls.__module__.startswith("src.")]
    assert sorted(e["type"] for e in examples) == sorted(hark_types)  # not tests' own events


def test_request_examples_are_json_rpc() -> None:
    for line in re.findall(r'^\{"jsonrpc":"2\.0".*\}$', DOC, re.MULTILINE):
        if "…" in line:
            continue
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0"
        if "method" in message and "id" in message:
            assert message["method"] in METHODS
