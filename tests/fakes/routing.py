"""A deliberately simple lexical router for the scripted model, and a routing-check runner.

``LexicalRouter`` is a brain for the scripted OpenAI server that plays the orchestrator's
"tool picking" with no intelligence at all: it scores each offered ``transfer_to_*`` handoff
tool by the words its description shares with the user's request, each word weighted by how
rare it is among the offered descriptions (IDF: "weather" counts, "the"/"request"/"agent"
count for nothing), with crude stemming ("flights" = "flight"). No synonyms, no context.

That makes it a floor, not a model: a request it routes right is one whose specialist's
description carries the user's own words, so a real model routes it right too. A drop in its
accuracy after a description changes means the description lost the words users say.

``first_handoff`` runs one request through the real runner and returns the specialist the
root agent handed off to (the ``HandoffOccurred`` event), stopping the turn right there.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from src.events.conversation import HandoffOccurred
from tests.fakes.openai_brain import HANDOFF_PREFIX, ModelRequest, Reply, Text, ToolCall

BACK_TO_ROOT = "transfer_to_orchestrator"
UNHANDLED = "note_unhandled_request"
NO_HANDOFF = "(no handoff)"

_STOPWORDS_TEXT = """
    a about after again all am an and any are as at be been before being but by can could
    did do does doing for from had has have having he her here hers him his how i if in into
    is it its itself just me more most my myself no nor not now of off on once only or other
    our out over own please same she should so some such than that the their them then there
    these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your yours tell show give get find let know need want
    like could hey ok okay also much many one right"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
WORD = re.compile(r"[a-z0-9]+")
URL = re.compile(r"\b(?:https?://|www\.)\S+")
CONTRACTION = re.compile(r"['’][a-z]*")


def stem(word: str) -> str:
    """Crude plural folding: "flights" = "flight", "cities" = "city"; "news" stays "news"."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and len(word) > 3 and not word.endswith(("ss", "us", "is", "ws")):
        return word[:-1]
    return word


def words(text: str) -> set[str]:
    """The stemmed content words of a text.

    Contractions lose their tail ("what's" → "what"), underscores split (``flight_status``),
    and a URL is the word "link": that is what a user gives when they say one.
    """
    text = URL.sub(" link ", text.lower())
    text = CONTRACTION.sub("", text.replace("_", " "))
    return {stem(w) for w in WORD.findall(text) if w not in STOPWORDS}


def handoff_descriptions(request: ModelRequest) -> dict[str, str]:
    """``transfer_to_*`` tool name → its description, from either HTTP API's ``tools`` list."""
    found: dict[str, str] = {}
    for tool in request.raw.get("tools") or []:
        if not isinstance(tool, Mapping):
            continue
        nested = tool.get("function")
        spec: Mapping[str, Any] = nested if isinstance(nested, Mapping) else tool
        name = str(spec.get("name", ""))
        if name.startswith(HANDOFF_PREFIX) and name != BACK_TO_ROOT:
            found[name] = str(spec.get("description", ""))
    return found


def score(text: str, descriptions: Mapping[str, str]) -> dict[str, float]:
    """IDF-weighted overlap between the request's words and each description's words."""
    bags = {
        name: words(f"{name.removeprefix(HANDOFF_PREFIX)} {d}") for name, d in descriptions.items()
    }
    frequency = Counter(word for bag in bags.values() for word in bag)
    total = len(bags)
    asked = words(text)
    return {
        name: sum(math.log(total / frequency[w]) for w in asked & bag) for name, bag in bags.items()
    }


class LexicalRouter:
    """Brain: at the root, hand off to the best-scoring specialist; in a specialist, answer.

    With no word in common with any description, it notes the request as unhandled (when that
    tool is offered), as the root agent's instructions ask.
    """

    def __call__(self, request: ModelRequest) -> Reply:
        answered = any(item.kind == "tool_output" for item in request.items_since_latest_user())
        descriptions = handoff_descriptions(request)
        if answered or not descriptions:
            return Reply([Text("Routed.")])
        scores = score(request.latest_user_text, descriptions)
        best = max(sorted(scores), key=lambda name: scores[name])
        if scores[best] > 0:
            return Reply([ToolCall(best)])
        if UNHANDLED in request.tool_names:
            return Reply([ToolCall(UNHANDLED, {"reason": request.latest_user_text[:80]})])
        return Reply([Text("I can't help with that yet.")])


@dataclass(frozen=True)
class Routed:
    """One request of the set: where it should go and where it went."""

    text: str
    expected: str
    got: str

    @property
    def ok(self) -> bool:
        return self.expected == self.got


async def first_handoff(runner: Any, text: str) -> str:
    """The specialist the root handed ``text`` to, or ``NO_HANDOFF``; the turn stops there."""
    stream = runner.stream("routing", [], text)
    async with contextlib.aclosing(stream):
        async for item in stream:
            if isinstance(item, HandoffOccurred):
                return item.to_agent
    return NO_HANDOFF


async def route_all(runner: Any, labelled: Sequence[tuple[str, str]]) -> list[Routed]:
    return [Routed(text, label, await first_handoff(runner, text)) for text, label in labelled]


def report(results: Sequence[Routed]) -> str:
    """Accuracy, per-connector misses and a confusion list (expected → got: request)."""
    right = sum(r.ok for r in results)
    lines = [f"routing accuracy: {right}/{len(results)} = {right / max(len(results), 1):.1%}"]
    confusion = Counter((r.expected, r.got) for r in results if not r.ok)
    for (expected, got), count in confusion.most_common():
        lines.append(f"  {expected} → {got} ×{count}")
    lines.extend(f"    {r.expected} → {r.got}: {r.text}" for r in results if not r.ok)
    return "\n".join(lines)
