"""The text runner after a key change: the next turn's client carries the new key, and the
change never waits for a warm-up building the agents on another thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any

import httpx

from src.config.settings import ApiSettings
from src.connectors.base import ConnectorContext
from src.connectors.orchestrator import Orchestrator
from src.connectors.registry import discover
from src.services.openai_client import make_openai_client
from src.services.text_runner import RunFinished, TextTurnRunner
from tests.fakes.openai_server import ScriptedOpenAIServer


class SlowPlanner:
    """The orchestrator, but building the agents waits until the test lets it go on."""

    def __init__(self, inner: Orchestrator) -> None:
        self._inner = inner
        self.building = threading.Event()
        self.go_on = threading.Event()

    def root_agent(self) -> Any:
        self.building.set()
        self.go_on.wait(timeout=30)
        return self._inner.root_agent()

    def progress(self, tool: str, arguments: Mapping[str, Any]) -> str:
        return self._inner.progress(tool, arguments)


async def _answer(runner: TextTurnRunner, text: str) -> str:
    async for item in runner.stream("turn_1", [], text):
        if isinstance(item, RunFinished):
            return item.text
    raise AssertionError("the run did not finish")


async def test_the_turn_after_a_key_change_uses_the_new_key_and_the_change_never_waits(
    openai_server: ScriptedOpenAIServer,
) -> None:
    api = ApiSettings(base_url=openai_server.base_url, max_retries=0)
    key = ["sk-test-before"]
    async with httpx.AsyncClient() as http:
        planner = SlowPlanner(Orchestrator(discover(), ConnectorContext(http=http)))
        runner = TextTurnRunner(lambda: make_openai_client(api, key[0]), api, planner)
        warming = asyncio.get_running_loop().run_in_executor(None, runner.warm_up)
        await asyncio.to_thread(planner.building.wait, 30)

        # The warm-up holds the runner's lock while it builds; the key change returns at once.
        key[0] = "sk-test-after"
        runner.reset_client()
        assert not warming.done()
        planner.go_on.set()
        await warming

        assert await _answer(runner, "hello")
        runner.reset_client()  # a change after the client was built
        key[0] = "sk-test-third"
        assert await _answer(runner, "hello again")
    sent = [r.api_key for r in openai_server.requests if r.api == "responses"]
    assert sent == ["sk-test-after", "sk-test-third"]
