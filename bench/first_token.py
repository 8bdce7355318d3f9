"""Time to the first streamed character: Hark's text path against a bare ``openai`` SDK call.

Both talk to the same local scripted OpenAI server in the same process and run alternately,
so the ratio isolates what Hark adds (the agents Runner, the orchestrator, event mapping).
Target: Hark within 10 % of the bare SDK.

    python bench/first_token.py [runs]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from openai import AsyncOpenAI

from src.config.settings import ApiSettings
from src.connectors.base import ConnectorContext
from src.connectors.orchestrator import Orchestrator
from src.connectors.registry import discover
from src.events.conversation import AssistantTextDelta
from src.services.text_runner import TextTurnRunner
from tests.fakes.openai_server import ScriptedOpenAIServer


async def bare_first_delta(client: AsyncOpenAI, body: dict[str, Any]) -> float:
    start = time.perf_counter()
    stream = await client.responses.create(**body)
    first = float("nan")
    async for event in stream:
        if event.type == "response.output_text.delta" and first != first:
            first = time.perf_counter() - start
    return first


async def hark_first_delta(runner: TextTurnRunner) -> float:
    start = time.perf_counter()
    first = float("nan")
    async for item in runner.stream("turn_bench", [], "hello there"):
        if isinstance(item, AssistantTextDelta) and first != first:
            first = time.perf_counter() - start
    return first


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(runs: int) -> None:
    with ScriptedOpenAIServer() as server:
        api = ApiSettings(base_url=server.base_url, max_retries=0)
        client = AsyncOpenAI(api_key="sk-bench", base_url=server.base_url, max_retries=0)
        http = httpx.AsyncClient()
        orchestrator = Orchestrator(discover(), ConnectorContext(http=http))
        runner = TextTurnRunner(lambda: client, api, orchestrator)
        runner.warm_up()
        await hark_first_delta(runner)
        # The same request Hark sends (instructions, handoff tools), made by the bare SDK.
        same_body = dict(server.requests[-1].body)
        minimal = {"model": api.model, "input": "hello there", "stream": True}
        for _ in range(3):  # warm every path: connections, imports, schema building
            await bare_first_delta(client, minimal)
            await bare_first_delta(client, same_body)
            await hark_first_delta(runner)
        bare, same, hark = [], [], []
        for _ in range(runs):
            bare.append(await bare_first_delta(client, minimal))
            same.append(await bare_first_delta(client, same_body))
            hark.append(await hark_first_delta(runner))
        await http.aclose()
        await client.close()
    b50, s50, h50 = statistics.median(bare), statistics.median(same), statistics.median(hark)
    print(f"runs: {runs} (alternating, same server, same process)")
    for label, values in (
        ("bare SDK, minimal request ", bare),
        ("bare SDK, Hark's request  ", same),
        ("Hark text path            ", hark),
    ):
        print(
            f"{label} first delta: p50 {statistics.median(values) * 1000:6.2f} ms"
            f"  p90 {pct(values, 0.9) * 1000:6.2f} ms"
        )
    print(
        f"ratio hark / bare with the same request (p50): {h50 / s50:.2f}"
        f"  overhead {(h50 - s50) * 1000:.2f} ms"
    )
    print(
        f"ratio hark / bare minimal request (p50):       {h50 / b50:.2f}"
        f"  overhead {(h50 - b50) * 1000:.2f} ms"
    )
    print(
        f"target, Hark within 10 % of the bare SDK on the same request: "
        f"{'met' if h50 <= s50 * 1.10 else 'NOT met'}"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40))
