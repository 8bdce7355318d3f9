"""Orchestration quality: parallel tool calls, per-tool timeouts, retries of idempotent reads.

The parallel and retry tests drive the real orchestrator through the real text runner against
the scripted OpenAI server, so they check what the agents SDK really does with Hark's tools.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from openai import AsyncOpenAI

from src.config.settings import ApiSettings
from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef
from src.connectors.orchestrator import Orchestrator
from src.connectors.tool_policy import RetryPolicy
from src.events.base import Event
from src.events.conversation import ToolCallFinished
from src.services.text_runner import RunFinished, TextTurnRunner
from tests.fakes.openai_brain import ModelRequest, Reply, Rule, RuleBrain, Text, ToolCall
from tests.fakes.openai_server import ScriptedOpenAIServer

HANDSHAKE_LIMIT = 10.0
"""Only a failing run waits this long: each leg gives up if the other never shows up."""


class Pauses:
    """An injected ``sleep`` that records each pause and returns at once."""

    def __init__(self) -> None:
        self.taken: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)


def _connector(name: str, tools: list[ToolDef]) -> Connector:
    return Connector(
        name=name,
        title=name.title(),
        description=f"The {name} specialist.",
        instructions=f"Serve {name} requests.",
        build_tools=lambda _ctx: tools,
    )


def _context() -> ConnectorContext:
    return ConnectorContext(http=httpx.AsyncClient(transport=httpx.MockTransport(_refuse)))


def _refuse(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no HTTP expected, got {request.url}")


@pytest.fixture
def client(openai_server: ScriptedOpenAIServer) -> Iterator[AsyncOpenAI]:
    yield AsyncOpenAI(api_key="sk-test", base_url=openai_server.base_url, max_retries=0)


async def _run_turn(runner: TextTurnRunner, text: str) -> tuple[str, list[Event]]:
    events: list[Event] = []
    final = ""
    async for item in runner.stream("turn_1", [], text):
        if isinstance(item, RunFinished):
            final = item.text
        else:
            events.append(item)
    return final, events


def _runner(
    server: ScriptedOpenAIServer, client: AsyncOpenAI, orch: Orchestrator
) -> TextTurnRunner:
    api = ApiSettings(base_url=server.base_url, max_retries=0)
    return TextTurnRunner(lambda: client, api, orch)


# ---- parallel tool calls ----------------------------------------------------------------------


def _two_city_brain(request: ModelRequest) -> Reply:
    """Hand off to "pair", then ask for both legs in ONE reply, then sum up both outputs."""
    if "transfer_to_pair" in request.tool_names:
        return Reply([ToolCall("transfer_to_pair")])
    outputs = [i for i in request.trailing_tool_outputs() if not i.is_handoff]
    if outputs:
        return Reply([Text(" + ".join(i.text for i in outputs))])
    return Reply([ToolCall("left_leg", {"city": "Paris"}), ToolCall("right_leg", {"city": "Oslo"})])


async def test_two_tool_calls_in_one_reply_run_concurrently(
    openai_server: ScriptedOpenAIServer, client: AsyncOpenAI
) -> None:
    """Each leg announces itself, then waits for the other: only overlapping runs finish."""
    left_started, right_started = asyncio.Event(), asyncio.Event()

    async def left_leg(city: str) -> str:
        """Look up the left city.

        Args:
            city: The city.
        """
        left_started.set()
        async with asyncio.timeout(HANDSHAKE_LIMIT):
            await right_started.wait()
        return f"left {city}"

    async def right_leg(city: str) -> str:
        """Look up the right city.

        Args:
            city: The city.
        """
        right_started.set()
        async with asyncio.timeout(HANDSHAKE_LIMIT):
            await left_started.wait()
        return f"right {city}"

    tools = [ToolDef(left_leg, progress="Left..."), ToolDef(right_leg, progress="Right...")]
    orch = Orchestrator([_connector("pair", tools)], _context(), tool_timeout=30)
    openai_server.brain = _two_city_brain

    final, events = await _run_turn(_runner(openai_server, client, orch), "both cities please")

    assert final == "left Paris + right Oslo"
    finished = [
        e for e in events if isinstance(e, ToolCallFinished) and e.tool != "transfer_to_pair"
    ]
    assert sorted((e.tool, e.ok) for e in finished) == [("left_leg", True), ("right_leg", True)]
    specialist_asks = [
        r.raw for r in openai_server.model_requests("responses") if "left_leg" in r.tool_names
    ]
    assert specialist_asks and all(
        raw.get("parallel_tool_calls") is True for raw in specialist_asks
    )


# ---- per-tool timeout ---------------------------------------------------------------------------


def _stuck_connector(released: asyncio.Event) -> Connector:
    async def slow_lookup(topic: str) -> str:
        """Look something up that never answers.

        Args:
            topic: What to look up.
        """
        await released.wait()
        return "late"

    return _connector("slow", [ToolDef(slow_lookup, progress="Looking up {topic}...")])


async def test_a_tool_past_its_timeout_is_stopped_with_a_sentence_on_the_voice_path() -> None:
    released = asyncio.Event()  # never set: the tool would wait forever
    orch = Orchestrator([_stuck_connector(released)], _context(), tool_timeout=0.05)
    ok, out = await orch.run_tool("slow_lookup", '{"topic": "tides"}')
    assert (ok, out) == (False, "[tool error] slow_lookup took too long and was stopped.")


async def test_a_tool_past_its_timeout_is_stopped_on_the_text_path(
    openai_server: ScriptedOpenAIServer, client: AsyncOpenAI
) -> None:
    released = asyncio.Event()
    orch = Orchestrator([_stuck_connector(released)], _context(), tool_timeout=0.05)
    openai_server.brain = RuleBrain(
        [Rule("tides", "transfer_to_slow"), Rule("tides", "slow_lookup", {"topic": "tides"})],
        answer="{output}",
    )
    final, events = await _run_turn(_runner(openai_server, client, orch), "tides today?")
    (done,) = [e for e in events if isinstance(e, ToolCallFinished) and e.tool == "slow_lookup"]
    assert not done.ok and done.result == "[tool error] slow_lookup took too long and was stopped."
    assert final == done.result


# ---- retries of idempotent reads --------------------------------------------------------------


class Flaky:
    """A provider that fails ``failures`` times with the given retryability, then answers."""

    def __init__(self, failures: int, *, retryable: bool = True) -> None:
        self.failures = failures
        self.retryable = retryable
        self.calls = 0

    def tools(self) -> list[ToolDef]:
        async def get_quote(symbol: str) -> str:
            """The latest price of a stock.

            Args:
                symbol: The ticker symbol.
            """
            return await self._answer(f"{symbol} is at 101.5")

        async def send_order(symbol: str) -> str:
            """Buy one share.

            Args:
                symbol: The ticker symbol.
            """
            return await self._answer(f"Bought one {symbol}.")

        return [
            ToolDef(get_quote, progress="Checking {symbol}..."),
            ToolDef(send_order, progress="Buying...", side_effect=True, readback="Buy {symbol}"),
        ]

    async def _answer(self, text: str) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectorError("The market data service is busy.", retryable=self.retryable)
        return text


class Yes:
    async def request(self, tool: str, agent: str, readback: str, arguments: str) -> bool:
        return True


def _market(flaky: Flaky, pauses: Pauses, attempts: int = 3) -> Orchestrator:
    return Orchestrator(
        [_connector("market", flaky.tools())],
        _context(),
        approver=Yes(),
        retry=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=4.0, sleep=pauses),
    )


async def test_a_read_is_retried_with_exponential_backoff_until_it_answers() -> None:
    flaky, pauses = Flaky(failures=2), Pauses()
    assert await _market(flaky, pauses).run_tool("get_quote", '{"symbol": "ACME"}') == (
        True,
        "ACME is at 101.5",
    )
    assert flaky.calls == 3 and pauses.taken == [0.5, 1.0]


async def test_retries_stop_at_the_limit_and_the_last_failure_is_relayed() -> None:
    flaky, pauses = Flaky(failures=10), Pauses()
    ok, out = await _market(flaky, pauses, attempts=4).run_tool("get_quote", '{"symbol": "X"}')
    assert (ok, out) == (False, "[tool error] The market data service is busy.")
    assert flaky.calls == 4 and pauses.taken == [0.5, 1.0, 2.0]


async def test_a_failure_that_retrying_cannot_fix_is_not_retried() -> None:
    flaky, pauses = Flaky(failures=1, retryable=False), Pauses()
    ok, _out = await _market(flaky, pauses).run_tool("get_quote", '{"symbol": "X"}')
    assert not ok and flaky.calls == 1 and pauses.taken == []


async def test_a_side_effecting_tool_is_never_retried() -> None:
    flaky, pauses = Flaky(failures=1), Pauses()
    ok, out = await _market(flaky, pauses).run_tool("send_order", '{"symbol": "X"}')
    assert (ok, out) == (False, "[tool error] The market data service is busy.")
    assert flaky.calls == 1 and pauses.taken == []


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(attempts=6, base_delay=0.25, max_delay=1.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


async def test_the_text_path_retries_the_same_way(
    openai_server: ScriptedOpenAIServer, client: AsyncOpenAI
) -> None:
    flaky, pauses = Flaky(failures=2), Pauses()
    openai_server.brain = RuleBrain(
        [
            Rule("price", "transfer_to_market"),
            Rule(r"price of (\w+)", "get_quote", lambda m: {"symbol": m.group(1)}),
        ],
        answer="{output}",
    )
    final, events = await _run_turn(
        _runner(openai_server, client, _market(flaky, pauses)), "price of ACME"
    )
    assert final == "ACME is at 101.5"
    assert flaky.calls == 3 and pauses.taken == [0.5, 1.0]
    quote = [e for e in events if isinstance(e, ToolCallFinished) and e.tool == "get_quote"]
    assert [e.ok for e in quote] == [True]  # the model saw one call with one answer
