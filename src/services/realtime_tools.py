"""Function calls of a voice session: run them beside the audio, answer them together.

The speech model may ask for several tools in one response. Each runs as its own task, so a
slow web page never holds up the receive loop (and with it the audio) nor the other calls.
The user hears about it at once: ``ToolCallStarted`` carries a progress sentence front ends
show while the model says its filler. When every call of a response has an answer and the
response itself has finished, the model is asked, once, to continue.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from src.events.bus import EventBus
from src.events.conversation import ToolCallFinished, ToolCallStarted
from src.events.tasks import TaskOwner

log = logging.getLogger(__name__)

DEFAULT_PROGRESS = "Working on it..."
VOICE_AGENT = "voice"


class ToolExecutor(Protocol):
    """What the voice path needs from the orchestrator (injected: services never import it).

    ``run_tool`` never raises for a tool's own failure: it returns ``(False, sentence)`` and the
    sentence goes to the model to explain. An executor may also offer
    ``progress(name, arguments) -> str``; without it the progress text is generic.
    """

    def tool_schemas(self) -> list[dict[str, Any]]: ...

    async def run_tool(self, name: str, arguments: str, /) -> tuple[bool, str]: ...


Deliver = Callable[[int, str, str], Awaitable[bool]]
"""Send ``(generation, call_id, output)`` as a function_call_output; False if not delivered."""
Continue = Callable[[int], Awaitable[None]]
"""Ask the model to continue on link ``generation`` once a response's calls are answered."""


@dataclass
class _Batch:
    """The calls of one response; ``closed`` once the response is done (no more calls)."""

    generation: int
    running: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    closed: bool = False
    dead: bool = False
    continued: bool = False


class ToolCallCoordinator:
    """Starts each call once, runs calls in parallel, continues each response once."""

    def __init__(
        self,
        bus: EventBus,
        executor: ToolExecutor,
        tasks: TaskOwner,
        *,
        deliver: Deliver,
        continue_response: Continue,
    ) -> None:
        self._bus = bus
        self._executor = executor
        self._tasks = tasks
        self._deliver = deliver
        self._continue = continue_response
        self._batches: dict[str, _Batch] = {}

    @property
    def running(self) -> int:
        """How many calls are still running, across responses."""
        return sum(len(batch.running) for batch in self._batches.values())

    async def begin(
        self, generation: int, response_id: str, call_id: str, name: str, arguments: str
    ) -> None:
        """Start one call (a repeat of the same ``call_id`` is ignored)."""
        batch = self._batches.setdefault(response_id, _Batch(generation))
        if call_id in batch.seen:
            return
        batch.seen.add(call_id)
        batch.running.add(call_id)
        await self._bus.publish(
            ToolCallStarted(
                turn_id=response_id,
                call_id=call_id,
                tool=name,
                agent=VOICE_AGENT,
                arguments=arguments,
                progress=self._progress(name, arguments),
            )
        )
        self._tasks.spawn(
            self._run(batch, response_id, call_id, name, arguments), name=f"tool:{name}"
        )

    async def response_done(self, response_id: str) -> None:
        """The response ended: no more calls will join it; continue if all are answered."""
        batch = self._batches.get(response_id)
        if batch is None:
            return
        batch.closed = True
        await self._maybe_continue(response_id, batch)

    def forget(self, generation: int) -> None:
        """Drop batches of a link that ended; their calls still finish but answer nobody."""
        for response_id in [r for r, b in self._batches.items() if b.generation == generation]:
            self._batches.pop(response_id).dead = True

    def _progress(self, name: str, arguments: str) -> str:
        progress = getattr(self._executor, "progress", None)
        if not callable(progress):
            return DEFAULT_PROGRESS
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            parsed = {}
        args: Mapping[str, Any] = parsed if isinstance(parsed, dict) else {}
        text = progress(name, args)
        return text if isinstance(text, str) and text else DEFAULT_PROGRESS

    async def _run(
        self, batch: _Batch, response_id: str, call_id: str, name: str, arguments: str
    ) -> None:
        # The call leaves ``running`` only once its output is on the wire, so the response is
        # never continued before every output has been sent.
        try:
            ok, output = await self._call(name, arguments)
            await self._bus.publish(
                ToolCallFinished(
                    turn_id=response_id, call_id=call_id, tool=name, ok=ok, result=output
                )
            )
            if not await self._deliver(batch.generation, call_id, output):
                log.info("tool %s finished after its voice session ended; not delivered", name)
        finally:
            batch.running.discard(call_id)
        await self._maybe_continue(response_id, batch)

    async def _call(self, name: str, arguments: str) -> tuple[bool, str]:
        try:
            return await self._executor.run_tool(name, arguments)
        except Exception:
            # The executor promises not to raise; if it does, the model must still get an
            # answer, or the conversation waits forever for this call.
            log.exception("tool %s raised instead of returning an error", name)
            return False, f"{name} failed unexpectedly."

    async def _maybe_continue(self, response_id: str, batch: _Batch) -> None:
        if batch.dead or batch.continued or not batch.closed or batch.running:
            return
        batch.continued = True
        if self._batches.get(response_id) is batch:
            del self._batches[response_id]
        await self._continue(batch.generation)
