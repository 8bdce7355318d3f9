"""Reading what crossed the socket, for the tests."""

from __future__ import annotations

from typing import Any

import pytest

from src.presentation.socket_client import HarkConnection, RemoteError

TURN_END = {"turn.completed", "turn.cancelled", "turn.failed"}


def events_until(
    conn: HarkConnection, done: Any, *, skip_notices: bool = True
) -> list[dict[str, Any]]:
    """Event payloads (``params``) read until ``done(payload)`` is true (included)."""
    seen: list[dict[str, Any]] = []
    while True:
        note = conn.next_notification()
        if note["method"] != "event":
            if skip_notices:
                continue
            raise AssertionError(f"unexpected notification {note}")
        seen.append(note["params"])
        if done(note["params"]):
            return seen


def turn_events(conn: HarkConnection, turn_id: str) -> list[dict[str, Any]]:
    """Every event of one turn, up to and including how it ended."""
    return [
        e
        for e in events_until(conn, lambda e: e.get("turn_id") == turn_id and e["type"] in TURN_END)
        if e.get("turn_id") == turn_id
    ]


def rpc_error(conn: HarkConnection, method: str, params: dict[str, Any] | None = None) -> Any:
    with pytest.raises(RemoteError) as caught:
        conn.call(method, params)
    return caught.value
