"""Answers front ends' questions (``Query`` events) from history and the running session.

The TUI's screens and the socket's read-only methods all come through here, so both see
exactly the same data in the same JSON shapes. Bad parameters and unknown ids become a
``QueryResult`` with ``ok=False`` and a sentence, never an exception on the bus.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any

from src.domain.history import Conversation, Turn, Usage
from src.events.bus import EventBus
from src.events.queries import Query, QueryResult
from src.services.storage import HistoryStore, StorageError

log = logging.getLogger(__name__)

Provider = Callable[[], Any]


class QueryError(Exception):
    """A query that cannot be answered as asked; the message is for the user."""


def _int_param(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueryError(f"{name} must be a whole number")
    if not low <= value <= high:
        raise QueryError(f"{name} must be between {low} and {high}")
    return value


def _str_param(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value.strip():
        raise QueryError(f"{name} is required (a non-empty string)")
    return value.strip()


def usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cost_usd": usage.cost_usd,
    }


def turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "id": turn.id,
        "source": turn.source,
        "status": turn.status,
        "user_text": turn.user_text,
        "assistant_text": turn.assistant_text,
        "error": turn.error,
        "model": turn.model,
        "started_at": turn.started_at,
        "finished_at": turn.finished_at,
        "handoffs": list(turn.handoffs),
        "tool_calls": [
            {
                "call_id": c.call_id,
                "name": c.name,
                "agent": c.agent,
                "arguments": c.arguments,
                "result": c.result,
                "ok": c.ok,
            }
            for c in turn.tool_calls
        ],
        "usage": usage_json(turn.usage),
    }


def conversation_json(conv: Conversation) -> dict[str, Any]:
    return {
        "id": conv.id,
        "title": conv.title,
        "created_at": conv.created_at,
        "updated_at": conv.updated_at,
        "turns": [turn_json(t) for t in conv.turns],
        "usage": usage_json(conv.usage),
    }


class QueryService:
    def __init__(
        self,
        bus: EventBus,
        store: HistoryStore,
        *,
        status: Provider,
        tools: Provider,
        connections: Provider,
        devices: Provider | None = None,
    ) -> None:
        self._bus = bus
        self._store = store
        self._providers: dict[str, Provider] = {
            "status": status,
            "tools.list": tools,
            "connections.list": connections,
        }
        if devices is not None:
            self._providers["devices.list"] = devices

    async def start(self) -> None:
        self._bus.subscribe(Query, self._answer, name="queries")

    async def _answer(self, query: Query) -> None:
        try:
            data = self.answer(query.kind, query.params)
            result = QueryResult(request_id=query.request_id, kind=query.kind, ok=True, data=data)
        except (QueryError, StorageError) as exc:
            result = QueryResult(
                request_id=query.request_id, kind=query.kind, ok=False, error=str(exc)
            )
        await self._bus.publish(result)

    def answer(self, kind: str, params: Mapping[str, Any]) -> Any:
        """The data for one query (also used directly by tests and the CLI)."""
        if not isinstance(params, Mapping):
            raise QueryError("params must be an object")
        store = self._store
        if kind == "conversations.list":
            limit = _int_param(params, "limit", 20, 1, 500)
            offset = _int_param(params, "offset", 0, 0, 1_000_000)
            return [dataclasses.asdict(s) for s in store.list_conversations(limit, offset)]
        if kind == "conversations.show":
            conv_id = store.resolve_id(_str_param(params, "id"))
            conv = store.load_conversation(conv_id)
            if conv is None:
                raise QueryError(f"no conversation {conv_id}")
            return conversation_json(conv)
        if kind == "conversations.search":
            text = _str_param(params, "query")
            limit = _int_param(params, "limit", 20, 1, 200)
            return [dataclasses.asdict(h) for h in store.search(text, limit=limit)]
        if kind == "unhandled.list":
            limit = _int_param(params, "limit", 50, 1, 500)
            return [dataclasses.asdict(u) for u in store.list_unhandled(limit=limit)]
        provider = self._providers.get(kind)
        if provider is None:
            raise QueryError(f"unknown query {kind!r}")
        return provider()
