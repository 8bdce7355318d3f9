"""Time to the first streamed character: Hark's text path against a bare ``openai`` SDK call.

Both talk to the same local scripted OpenAI server in the same process and run alternately.
The target (the issue's measure): Hark within 10 % of a bare SDK streaming call sending the
same request. Hark sends its unchanging tool list already prepared (``tool_list_cache``), which
a bare call does not; so the bench also times a bare call that does the same, and prints what
Hark's own layers (the agents Runner, the orchestrator, event mapping) cost on top of that.

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
from src.services.openai_client import make_openai_client
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
        hark_client = make_openai_client(api, "sk-bench")
        http = httpx.AsyncClient()
        orchestrator = Orchestrator(discover(), ConnectorContext(http=http))
        runner = TextTurnRunner(lambda: hark_client, api, orchestrator)
        runner.warm_up()
        await hark_first_delta(runner)
        # The same request Hark sends (instructions, handoff tools), made by the bare SDK.
        same_body = dict(server.requests[-1].body)
        # The same request again, its tools sent as they are (what Hark's client does for them).
        prepared_body = {k: v for k, v in same_body.items() if k != "tools"}
        prepared_body["extra_body"] = {"tools": same_body["tools"]}
        minimal = {"model": api.model, "input": "hello there", "stream": True}
        for _ in range(3):  # warm every path: connections, imports, schema building
            await bare_first_delta(client, minimal)
            await bare_first_delta(client, same_body)
            await bare_first_delta(client, prepared_body)
            await hark_first_delta(runner)
        bare, same, prepared, hark = [], [], [], []
        for _ in range(runs):
            bare.append(await bare_first_delta(client, minimal))
            same.append(await bare_first_delta(client, same_body))
            prepared.append(await bare_first_delta(client, prepared_body))
            hark.append(await hark_first_delta(runner))
        await http.aclose()
        await client.close()
        await hark_client.close()
    b50, s50, h50 = statistics.median(bare), statistics.median(same), statistics.median(hark)
    p50 = statistics.median(prepared)
    print(f"runs: {runs} (alternating, same server, same process)")
    for label, values in (
        ("bare SDK, minimal request ", bare),
        ("bare SDK, Hark's request  ", same),
        ("bare SDK, tools prepared  ", prepared),
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
        f"ratio hark / bare, tools prepared alike (p50): {h50 / p50:.2f}"
        f"  overhead {(h50 - p50) * 1000:.2f} ms  (Hark's own layers)"
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
