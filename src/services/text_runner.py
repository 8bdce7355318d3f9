"""Runs a text turn through the orchestrator with the openai-agents streaming API.

The SDK's stream (raw model deltas, run items, agent switches) is translated into Hark's own
events here and nowhere else, so front ends and storage never see SDK types. The agents SDK
is imported on first use: it costs about a second, which must not delay the first prompt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from src.config.settings import ApiSettings
from src.domain.history import Usage
from src.domain.pricing import cost_usd
from src.events.base import Event
from src.events.conversation import (
    AssistantTextDelta,
    HandoffOccurred,
    ToolCallFinished,
    ToolCallStarted,
)
from src.services.model_errors import explain_model_error

if TYPE_CHECKING:
    from openai import AsyncOpenAI

log = logging.getLogger(__name__)

TOOL_ERROR_PREFIX = "[tool error]"
"""Tool outputs that start with this are failures phrased for the user."""

UNHANDLED_TOOL = "note_unhandled_request"
"""The orchestrator's tool for requests no connector can serve; storage records them."""


class Planner(Protocol):
    """What the runner needs from the orchestrator (implemented in ``src.connectors``)."""

    def root_agent(self) -> Any: ...

    def progress(self, tool: str, arguments: Mapping[str, Any]) -> str: ...


@dataclass(frozen=True)
class RunFinished:
    """Last item of a run: the whole answer and what it used."""

    text: str
    usage: Usage
    agent: str


class TextTurnRunner:
    """Streams one turn; the caller cancels the iteration to cancel the turn."""

    def __init__(
        self, client_factory: Callable[[], AsyncOpenAI], api: ApiSettings, planner: Planner
    ) -> None:
        self._client_factory = client_factory
        self._api = api
        self._planner = planner
        self._run_config: Any = None
        self._ready = threading.Lock()
        self._prepared: tuple[Any, Any] | None = None
        self._client_generation = 0  # bumped when the key changes
        self._prepared_generation = 0

    @property
    def model(self) -> str:
        return self._api.model

    def warm_up(self) -> None:
        """Import the agents SDK and build the agents now (call it off the critical path)."""
        self._prepare()

    def reset_client(self) -> None:
        """Build the next turn's OpenAI client afresh (the key changed); the agents are kept.

        No lock here: it is called on the event loop, which must not wait behind a warm-up
        building the agents on another thread. ``_prepare`` sees the new generation.
        """
        self._client_generation += 1

    def _prepare(self) -> tuple[Any, Any]:
        """The agent graph and run config, built once even if two threads ask at once."""
        with self._ready:
            generation = self._client_generation
            if self._prepared is None or self._prepared_generation != generation:
                if self._prepared is not None:
                    self._run_config = None  # its client carries the old key
                self._prepared = (self._planner.root_agent(), self._config())
                self._prepared_generation = generation
            return self._prepared

    def _config(self) -> Any:
        if self._run_config is None:
            from agents import RunConfig, set_tracing_disabled
            from agents.models.openai_provider import OpenAIProvider

            set_tracing_disabled(True)
            from src.services.eager_delta_model import EagerDeltaProvider

            provider = EagerDeltaProvider(
                OpenAIProvider(
                    openai_client=self._client_factory(),
                    use_responses=self._api.backend == "responses",
                )
            )
            self._run_config = RunConfig(
                model=self._api.model,
                model_provider=provider,
                tracing_disabled=True,
                workflow_name="hark text turn",
            )
        return self._run_config

    async def stream(
        self, turn_id: str, context: Sequence[Mapping[str, str]], text: str
    ) -> AsyncIterator[Event | RunFinished]:
        # The first turn may build the agents (a second of imports): keep that off the loop.
        prepared = self._prepared
        if prepared is None or self._prepared_generation != self._client_generation:
            prepared = await asyncio.to_thread(self._prepare)
        agent, config = prepared
        from agents import Runner
        from agents.exceptions import AgentsException, MaxTurnsExceeded
        from agents.stream_events import (
            AgentUpdatedStreamEvent,
            RawResponsesStreamEvent,
            RunItemStreamEvent,
        )
        from openai import OpenAIError

        items: list[Any] = [dict(m) for m in context]
        items.append({"role": "user", "content": text})
        result = Runner.run_streamed(agent, input=items, run_config=config, max_turns=12)
        parts: list[str] = []
        agent_name = "orchestrator"
        tool_names: dict[str, str] = {}
        try:
            async for ev in result.stream_events():
                if isinstance(ev, RawResponsesStreamEvent):
                    if ev.data.type == "response.output_text.delta" and ev.data.delta:
                        parts.append(ev.data.delta)
                        yield AssistantTextDelta(turn_id=turn_id, delta=ev.data.delta)
                elif isinstance(ev, AgentUpdatedStreamEvent):
                    agent_name = ev.new_agent.name
                elif isinstance(ev, RunItemStreamEvent):
                    mapped = self._map_item(turn_id, ev, tool_names)
                    if mapped is not None:
                        yield mapped
        except MaxTurnsExceeded:
            log.warning("turn %s hit the max-turns limit", turn_id)
            parts.append("\n(I stopped here: the request needed more steps than I allow.)")
        except OpenAIError as exc:
            raise explain_model_error(exc, self._api.base_url) from exc
        except AgentsException as exc:
            raise explain_model_error(exc, self._api.base_url) from exc
        finally:
            if not result.is_complete:
                result.cancel()
        raw_usage = result.context_wrapper.usage
        usage = Usage(
            raw_usage.input_tokens,
            raw_usage.output_tokens,
            cost_usd(self._api.model, raw_usage.input_tokens, raw_usage.output_tokens),
        )
        yield RunFinished(text="".join(parts), usage=usage, agent=agent_name)

    def _map_item(self, turn_id: str, ev: Any, tool_names: dict[str, str]) -> Event | None:
        item = ev.item
        if ev.name == "tool_called":
            raw = item.raw_item
            name = getattr(raw, "name", None) or "tool"
            call_id = getattr(raw, "call_id", None) or getattr(raw, "id", "") or ""
            arguments = getattr(raw, "arguments", "") or ""
            tool_names[call_id] = name
            try:
                parsed = json.loads(arguments) if arguments else {}
            except json.JSONDecodeError:
                parsed = {}
            if not isinstance(parsed, dict):
                parsed = {}
            return ToolCallStarted(
                turn_id=turn_id,
                call_id=call_id,
                tool=name,
                agent=item.agent.name,
                arguments=arguments,
                progress=self._planner.progress(name, parsed),
            )
        if ev.name == "tool_output":
            raw = item.raw_item
            call_id = (
                raw.get("call_id", "") if isinstance(raw, dict) else getattr(raw, "call_id", "")
            )
            output = item.output if isinstance(item.output, str) else str(item.output)
            return ToolCallFinished(
                turn_id=turn_id,
                call_id=call_id,
                tool=tool_names.get(call_id, "tool"),
                ok=not output.startswith(TOOL_ERROR_PREFIX),
                result=output,
            )
        if ev.name == "handoff_occured":
            return HandoffOccurred(
                turn_id=turn_id,
                from_agent=item.source_agent.name,
                to_agent=item.target_agent.name,
            )
        return None
