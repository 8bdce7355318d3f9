"""Routing accuracy of the orchestrator on the labelled set in tests/connectors/routing_set.py.

Baseline, always: the scripted lexical router (tests/fakes/routing.py) on the local scripted
server: it routes by the words requests share with the connectors' descriptions, no model.

Live, only with ``OPENAI_API_KEY`` set and ``HARK_BENCH_LIVE=1``: the same requests through
the same orchestrator and runner against the real model (``HARK_BENCH_MODEL``, default the
settings' model; ``OPENAI_BASE_URL`` honoured). Each turn stops at the first handoff, so no
connector runs and nothing is sent anywhere but the model (connectors get an HTTP client that
refuses every request, and no approver). It costs one short model call per request.

Prints accuracy and a confusion list (expected → got). Figures only; nothing asserts.

    python bench/routing_accuracy.py
    HARK_BENCH_LIVE=1 OPENAI_API_KEY=sk-... python bench/routing_accuracy.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from openai import AsyncOpenAI

from src.config.settings import ApiSettings
from src.connectors.base import ConnectorContext
from src.connectors.orchestrator import Orchestrator
from src.connectors.registry import discover
from src.services.text_runner import TextTurnRunner
from tests.connectors.routing_set import ROUTING_SET
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.fakes.routing import LexicalRouter, Routed, report, route_all


def _orchestrator() -> Orchestrator:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("the routing bench sends nothing to providers", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    return Orchestrator(discover(), ConnectorContext(http=http))


async def _run(client: AsyncOpenAI, api: ApiSettings) -> list[Routed]:
    runner = TextTurnRunner(lambda: client, api, _orchestrator())
    try:
        return await route_all(runner, ROUTING_SET)
    finally:
        await client.close()


async def scripted() -> list[Routed]:
    with ScriptedOpenAIServer(brain=LexicalRouter()) as server:
        api = ApiSettings(base_url=server.base_url, max_retries=0)
        client = AsyncOpenAI(api_key="sk-bench", base_url=server.base_url, max_retries=0)
        return await _run(client, api)


async def live(key: str) -> list[Routed]:
    api = ApiSettings(max_retries=2)
    model = os.environ.get("HARK_BENCH_MODEL")
    if model:
        api = api.model_copy(update={"model": model})
    client = AsyncOpenAI(api_key=key, base_url=api.base_url, max_retries=2)
    return await _run(client, api)


async def main() -> None:
    print(f"{len(ROUTING_SET)} labelled requests, {len({n for _, n in ROUTING_SET})} connectors")
    baseline = await scripted()
    print("\n== baseline: scripted lexical router (no model)")
    print(report(baseline))
    key = os.environ.get("OPENAI_API_KEY")
    if not key or os.environ.get("HARK_BENCH_LIVE") != "1":
        print("\n== live model: skipped (set OPENAI_API_KEY and HARK_BENCH_LIVE=1 to run it)")
        return
    results = await live(key)
    model = os.environ.get("HARK_BENCH_MODEL") or ApiSettings().model
    print(f"\n== live model: {model}")
    print(report(results))
    base, got = (sum(r.ok for r in rs) / len(rs) for rs in (baseline, results))
    print(f"\nlive vs baseline: {got:.1%} vs {base:.1%} ({got - base:+.1%})")


if __name__ == "__main__":
    asyncio.run(main())
