"""``hark history list|show|search|unhandled``: read past conversations from the terminal."""

from __future__ import annotations

import datetime as dt
from typing import Any, TextIO


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def history_list(store: Any, out: TextIO, limit: int = 20) -> int:
    rows = store.list_conversations(limit=limit)
    if not rows:
        out.write("No conversations yet.\n")
        return 0
    for row in rows:
        cost = f"${row.cost_usd:.4f}" if row.cost_usd else "-"
        when = _when(row.updated_at)
        out.write(f"{row.id}  {when}  {row.turn_count:>3} turns  {cost:>9}  {row.title}\n")
    return 0


def history_show(store: Any, conversation_id: str, out: TextIO) -> int:
    conv = store.load_conversation(store.resolve_id(conversation_id))
    if conv is None:
        out.write(f"hark: no conversation {conversation_id}\n")
        return 1
    out.write(f"{conv.title}\n{conv.id} · started {_when(conv.created_at)}\n\n")
    for turn in conv.turns:
        out.write(f"you> {turn.user_text}\n")
        for hand in turn.handoffs:
            out.write(f"  ↪ {hand}\n")
        for call in turn.tool_calls:
            mark = "✓" if call.ok else "✗"
            out.write(f"  {mark} {call.agent}.{call.name}({call.arguments})\n")
        if turn.assistant_text:
            out.write(f"hark> {turn.assistant_text}\n")
        if turn.status != "completed":
            detail = f": {turn.error}" if turn.error else ""
            out.write(f"  [{turn.status}{detail}]\n")
        usage = turn.usage
        if usage.input_tokens or usage.output_tokens:
            out.write(
                f"  [{usage.input_tokens} in / {usage.output_tokens} out tokens, "
                f"${usage.cost_usd:.5f}]\n"
            )
        out.write("\n")
    total = conv.usage
    out.write(
        f"Total: {total.input_tokens} in / {total.output_tokens} out tokens, "
        f"${total.cost_usd:.5f}\n"
    )
    return 0


def history_search(store: Any, words: str, out: TextIO, limit: int = 20) -> int:
    hits = store.search(words, limit=limit)
    if not hits:
        out.write(f"Nothing found for {words!r}.\n")
        return 1
    for hit in hits:
        out.write(f"{hit.conversation_id}  {hit.title}\n    {hit.snippet}\n")
    return 0


def history_unhandled(store: Any, out: TextIO, limit: int = 50) -> int:
    rows = store.list_unhandled(limit=limit)
    if not rows:
        out.write("No unhandled requests.\n")
        return 0
    for row in rows:
        out.write(f"{_when(row.created_at)}  {row.text}\n    reason: {row.reason}\n")
    return 0
