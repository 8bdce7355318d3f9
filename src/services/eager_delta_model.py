"""A model wrapper that lets the reader see each streamed event before the next is parsed.

Why: the agents Runner reads the model's stream in a background task and hands events to
``stream_events()`` through a queue without ever yielding in between. When the server's bytes
arrive in one burst (a short answer, a fast local server, a proxy that buffers), that task parses
the whole response before the reader runs, so the first character waits for the last: 4 ms on
the bench's 40-event reply, more on a long one. Pausing for one loop turn after each delta hands
it to the screen as soon as it is parsed (bookkeeping events such as ``response.created`` go
on without a pause: nobody waits for them). The wrapper changes nothing else: every
call is passed through to the SDK's own model.

Imported lazily by ``text_runner`` (this module imports the agents SDK).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from agents.models.interface import Model, ModelProvider


class EagerDeltaModel(Model):
    """Passes every call to ``inner``; yields the loop once after each streamed delta."""

    def __init__(self, inner: Model) -> None:
        self._inner = inner

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        return await self._inner.get_response(*args, **kwargs)

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async for event in self._inner.stream_response(*args, **kwargs):
            yield event
            if str(getattr(event, "type", "")).endswith(".delta"):
                await asyncio.sleep(0)  # bookkeeping events need no reader in between

    def get_retry_advice(self, request: Any) -> Any:
        return self._inner.get_retry_advice(request)

    async def _cleanup_on_run_end(self, owner: object) -> None:
        await self._inner._cleanup_on_run_end(owner)

    async def close(self) -> None:
        await self._inner.close()


class EagerDeltaProvider(ModelProvider):
    """Wraps each model that ``inner`` provides in an :class:`EagerDeltaModel`."""

    def __init__(self, inner: ModelProvider) -> None:
        self._inner = inner

    def get_model(self, model_name: str | None) -> Model:
        return EagerDeltaModel(self._inner.get_model(model_name))

    async def aclose(self) -> None:
        await self._inner.aclose()
