"""The history model: conversations made of turns, turns of messages and tool calls.

Pure data plus the rules that belong to it: how a title is made from the first request, how
a past conversation becomes context for the model when it is resumed.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

TurnStatus = Literal["in_progress", "completed", "cancelled", "failed"]
Role = Literal["user", "assistant"]

TITLE_MAX_CHARS = 60

_FILLER = re.compile(
    r"^(hey|hi|hello|ok(ay)?|so|please|hark)[,!.\s]+|^(can|could|would) you (please )?",
    re.IGNORECASE,
)


def new_id(prefix: str) -> str:
    """Short, sortable-enough unique ids such as ``conv_1a2b3c4d5e6f``."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def make_title(first_request: str) -> str:
    """A readable title from the first thing the user asked.

    Greetings and politeness are dropped, whitespace is folded, the first letter is capitalised
    and long requests are cut at a word boundary with an ellipsis.
    """
    text = " ".join(first_request.split())
    previous = None
    while previous != text:
        previous = text
        text = _FILLER.sub("", text).strip()
    text = text.rstrip("?!. ")
    if not text:
        return "New conversation"
    text = text[0].upper() + text[1:]
    if len(text) <= TITLE_MAX_CHARS:
        return text
    cut = text[: TITLE_MAX_CHARS - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(",;: ") + "…"


@dataclass(frozen=True)
class Usage:
    """Tokens a turn used and what they cost (USD, from the pricing table)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            round(self.cost_usd + other.cost_usd, 8),
        )


@dataclass
class ToolCall:
    """One tool invocation inside a turn, with what went in and what came out."""

    call_id: str
    name: str
    agent: str
    arguments: str
    result: str | None = None
    ok: bool = True
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None


@dataclass
class Turn:
    """A user request and everything the assistant did to answer it."""

    id: str
    conversation_id: str
    user_text: str
    source: Literal["text", "voice"] = "text"
    assistant_text: str = ""
    status: TurnStatus = "in_progress"
    tool_calls: list[ToolCall] = field(default_factory=list)
    handoffs: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None


@dataclass
class Conversation:
    id: str
    title: str
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    turns: list[Turn] = field(default_factory=list)

    @property
    def usage(self) -> Usage:
        total = Usage()
        for turn in self.turns:
            total = total + turn.usage
        return total

    def context_messages(self, max_turns: int = 50) -> list[dict[str, str]]:
        """Past turns as chat messages for the model, oldest first.

        Only turns with an answer are replayed; a cancelled answer is kept as far as it went,
        marked so the model knows the user cut it off.
        """
        out: list[dict[str, str]] = []
        for turn in self.turns[-max_turns:]:
            if turn.status == "in_progress":
                continue
            out.append({"role": "user", "content": turn.user_text})
            answer = turn.assistant_text
            if turn.status == "cancelled":
                answer = (answer + " [interrupted by the user]").strip()
            elif turn.status == "failed" and not answer:
                answer = "[no answer: the request failed]"
            if answer:
                out.append({"role": "assistant", "content": answer})
        return out
