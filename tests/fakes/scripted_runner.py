"""A scripted stand-in for the text runner, for conversation-service tests without a server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from src.domain.history import Usage
from src.events.base import Event
from src.events.conversation import AssistantTextDelta, ToolCallFinished, ToolCallStarted
from src.services.model_errors import ModelError
from src.services.text_runner import RunFinished


@dataclass
class ScriptedRunner:
    """Yields a fixed answer, optionally with a tool call, a hang point or an error."""

    model: str = "gpt-4.1-mini"
    answer: str = "It is sunny."
    tool: str | None = None
    fail_with: ModelError | None = None
    hang_after_chars: int | None = None
    contexts: list[list[dict[str, str]]] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def stream(
        self, turn_id: str, context: Sequence[Any], text: str
    ) -> AsyncIterator[Event | RunFinished]:
        self.contexts.append([dict(m) for m in context])
        if self.tool:
            yield ToolCallStarted(
                turn_id=turn_id,
                call_id="call_1",
                tool=self.tool,
                agent="weather",
                arguments='{"location": "Paris"}',
                progress="Checking the weather in Paris...",
            )
            yield ToolCallFinished(
                turn_id=turn_id,
                call_id="call_1",
                tool=self.tool,
                ok=True,
                result="Paris: 21°C, clear sky",
            )
        if self.fail_with is not None:
            yield AssistantTextDelta(turn_id=turn_id, delta="Let me")
            raise self.fail_with
        for i in range(0, len(self.answer), 4):
            if self.hang_after_chars is not None and i >= self.hang_after_chars:
                await self.released.wait()
            yield AssistantTextDelta(turn_id=turn_id, delta=self.answer[i : i + 4])
        yield RunFinished(text=self.answer, usage=Usage(120, 30, 0.0001), agent="weather")
