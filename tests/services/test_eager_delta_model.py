"""The eager-delta wrapper: the reader sees a delta before the Runner parses the next event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents import Agent, RunConfig, Runner
from agents.models.interface import Model, ModelProvider
from agents.stream_events import RawResponsesStreamEvent
from openai.types.responses import ResponseTextDeltaEvent

from src.services.eager_delta_model import EagerDeltaProvider


def _delta(text: str, sequence: int) -> ResponseTextDeltaEvent:
    return ResponseTextDeltaEvent(
        type="response.output_text.delta",
        delta=text,
        item_id="msg_1",
        output_index=0,
        content_index=0,
        sequence_number=sequence,
        logprobs=[],
    )


class BurstModel(Model):
    """Yields three deltas with no pause between them, as a stream read from one TCP burst does;
    ``produced`` counts how many the Runner has pulled so far."""

    def __init__(self) -> None:
        self.produced = 0
        self.closed = False

    async def get_response(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the streamed path must not call get_response")

    async def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        for sequence, text in enumerate(["one", "two", "three"], start=1):
            self.produced += 1
            yield _delta(text, sequence)
        # The Runner needs a final response to finish; stopping here ends the run with an
        # error after the deltas, which is all this test needs.

    async def close(self) -> None:
        self.closed = True


class OneModel(ModelProvider):
    def __init__(self, model: Model) -> None:
        self.model = model

    def get_model(self, model_name: str | None) -> Model:
        return self.model


async def _produced_when_first_delta_is_seen(provider: ModelProvider, model: BurstModel) -> int:
    result = Runner.run_streamed(
        Agent(name="plain"),
        input="hi",
        run_config=RunConfig(model_provider=provider, tracing_disabled=True),
    )
    seen_at = -1
    try:
        async for event in result.stream_events():
            if isinstance(event, RawResponsesStreamEvent) and seen_at < 0:
                seen_at = model.produced
                break
    finally:
        result.cancel()
    return seen_at


async def test_the_first_delta_reaches_the_reader_before_the_next_is_produced() -> None:
    model = BurstModel()
    assert await _produced_when_first_delta_is_seen(EagerDeltaProvider(OneModel(model)), model) == 1


async def test_without_the_wrapper_the_runner_drains_the_burst_first() -> None:
    """The reason the wrapper exists: the SDK alone parses every buffered event first."""
    model = BurstModel()
    assert await _produced_when_first_delta_is_seen(OneModel(model), model) == 3


async def test_other_calls_pass_through_to_the_wrapped_model() -> None:
    model = BurstModel()
    wrapped = EagerDeltaProvider(OneModel(model)).get_model("any")
    with pytest.raises(AssertionError, match="must not call get_response"):
        await wrapped.get_response(None, "hi", None, [], None, [], None)  # type: ignore[arg-type]
    await wrapped.close()
    assert model.closed
