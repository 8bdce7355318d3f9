"""Routing check: every connector is reachable by the words users say to it.

Each labelled request of ``routing_set`` goes through the REAL orchestrator and text runner
against the scripted server, whose model is ``LexicalRouter``: it picks the handoff tool whose
description shares the most (rare) words with the request. The handoff that really happened
(``HandoffOccurred``) is compared with the label.

Threshold. A lexical router knows no synonyms ("umbrella" is not "rain") and cannot weigh
context, and a few pairs of connectors overlap by design (places and local businesses both
find "a pharmacy near me"; flight status and flight search share "flight"). So it will not be
perfect, and a real model does better (``bench/routing_accuracy.py``). What it can show is
that descriptions carry the users' own words: at or above ``THRESHOLD`` the roster is
routable by words alone; below it, some descriptions have lost the vocabulary of their
requests. And every connector must win at least one of its own requests: a connector that
no request reaches by its words has a description users will not match. The report (printed
with ``-s``, and on failure) says which requests went where.
"""

from __future__ import annotations

from collections import Counter

import httpx
from openai import AsyncOpenAI

from src.config.settings import ApiSettings
from src.connectors.base import ConnectorContext
from src.connectors.orchestrator import Orchestrator
from src.connectors.registry import discover
from src.services.text_runner import TextTurnRunner
from tests.connectors.routing_set import REQUESTS, ROUTING_SET
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.fakes.routing import LexicalRouter, report, route_all, score

THRESHOLD = 0.7
MIN_REQUESTS = 60


def test_the_set_covers_every_connector_and_only_real_ones() -> None:
    names = {c.name for c in discover()}
    missing = sorted(names - set(REQUESTS))
    assert not missing, f"add routing requests for: {', '.join(missing)}"
    unknown = sorted(set(REQUESTS) - names)
    assert not unknown, f"routing requests name connectors that do not exist: {unknown}"
    assert len(ROUTING_SET) >= MIN_REQUESTS
    assert all(REQUESTS[name] for name in names)
    duplicates = [text for text, n in Counter(t for t, _ in ROUTING_SET).items() if n > 1]
    assert not duplicates


def test_the_lexical_router_weighs_rare_words() -> None:
    descriptions = {
        "transfer_to_weather": "Handoff to the weather agent. Rain and forecasts.",
        "transfer_to_news": "Handoff to the news agent. Headlines and forecasts of markets.",
    }
    scores = score("will it rain tomorrow", descriptions)
    assert scores["transfer_to_weather"] > 0 == scores["transfer_to_news"]
    # "agent"/"handoff" are in every description: they weigh nothing.
    assert score("handoff agent", descriptions) == {name: 0.0 for name in descriptions}


async def test_requests_reach_their_connector(openai_server: ScriptedOpenAIServer) -> None:
    openai_server.brain = LexicalRouter()
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(599)))
    orchestrator = Orchestrator(discover(), ConnectorContext(http=http))
    client = AsyncOpenAI(api_key="sk-test", base_url=openai_server.base_url, max_retries=0)
    runner = TextTurnRunner(
        lambda: client, ApiSettings(base_url=openai_server.base_url, max_retries=0), orchestrator
    )

    results = await route_all(runner, ROUTING_SET)
    await client.close()

    summary = report(results)
    print(summary)
    accuracy = sum(r.ok for r in results) / len(results)
    assert accuracy >= THRESHOLD, summary
    unreachable = sorted(set(REQUESTS) - {r.expected for r in results if r.ok})
    assert not unreachable, f"no request reached: {unreachable}\n{summary}"
