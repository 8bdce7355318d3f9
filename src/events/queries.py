"""Questions front ends ask and the answers services give, matched by ``request_id``.

Front ends never read the database or call a service: the TUI's history screen, the socket's
``history.search`` and friends publish a ``Query`` and wait for the ``QueryResult`` with the
same ``request_id``. Results carry plain JSON data so the socket can pass them on unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from src.events.base import Event

QueryKind = Literal[
    "status",
    "conversations.list",
    "conversations.show",
    "conversations.search",
    "unhandled.list",
    "tools.list",
    "connections.list",
    "devices.list",
]


@dataclass(frozen=True, kw_only=True)
class Query(Event):
    """Ask for data; ``params`` are per kind (e.g. ``{"limit": 20}``, ``{"id": "conv_1"}``)."""

    type: Literal["query"] = "query"
    request_id: str
    kind: QueryKind
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class QueryResult(Event):
    """The answer to one ``Query``; ``error`` is a sentence for the user when ``ok`` is false."""

    type: Literal["query.result"] = "query.result"
    request_id: str
    kind: str
    ok: bool
    data: Any = None
    error: str = ""
