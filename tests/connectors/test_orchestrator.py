"""The orchestrator: discovery, routing instructions, progress, follow-ups and direct tool runs."""

from __future__ import annotations

import json

import httpx
import pytest

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef
from src.connectors.orchestrator import HANDOFF_FRAMEWORK, Orchestrator
from src.connectors.registry import discover
from src.connectors.tool_policy import RetryPolicy
from src.domain.history import ToolCall


def _echo_connector() -> Connector:
    def build(ctx: ConnectorContext) -> list[ToolDef]:
        async def shout(text: str) -> str:
            """Repeat text loudly.

            Args:
                text: What to repeat.
            """
            if text == "fail":
                raise ConnectorError("The shouting service is down.", retryable=True)
            return text.upper()

        return [ToolDef(shout, progress="Shouting {text}...")]

    return Connector(
        name="echo",
        title="Echo",
        description="Repeats things.",
        instructions="Repeat.",
        build_tools=build,
        followups=("Shout {text} again?", "Whisper {missing}?"),
    )


async def _no_pause(_seconds: float) -> None:
    """Retries without waiting: the pauses are the retry tests' business."""


@pytest.fixture
def orchestrator() -> Orchestrator:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    return Orchestrator(
        [_echo_connector()], ConnectorContext(http=http), retry=RetryPolicy(sleep=_no_pause)
    )


def test_the_registry_finds_one_connector_per_file() -> None:
    names = [c.name for c in discover()]
    assert {"weather", "clock", "web_reader"} <= set(names)
    assert len(names) == len(set(names))


def test_root_instructions_carry_the_handoff_framework_and_roster() -> None:
    http = httpx.AsyncClient()
    orch = Orchestrator(discover(), ConnectorContext(http=http))
    text = orch.instructions()
    assert HANDOFF_FRAMEWORK in text
    for letter_word in (
        "Has capability",
        "Access",
        "Need",
        "Delay",
        "Output quality",
        "Failure fallback",
        "Fusion",
    ):
        assert letter_word in text
    for connector in orch.connectors:
        assert f"- {connector.name}: {connector.description}" in text
    root = orch.root_agent()
    assert {h.agent_name for h in root.handoffs} == {c.name for c in orch.connectors}
    assert {h.tool_name for h in root.handoffs} == {
        f"transfer_to_{c.name}" for c in orch.connectors
    }
    specialists = orch.specialists()
    assert set(specialists) == {c.name for c in orch.connectors}
    assert all(root in agent.handoffs for agent in specialists.values())


async def test_each_handoff_leads_to_its_specialist_yet_the_sdk_graph_is_the_root_alone(
    orchestrator: Orchestrator,
) -> None:
    """The agents SDK serialises every agent it can reach on each run; it must reach only one."""
    from agents._run_state_agent_identity import _iter_agent_graph

    root = orchestrator.root_agent()
    assert list(_iter_agent_graph(root)) == [root]
    specialists = orchestrator.specialists()
    for handoff in root.handoffs:
        target = await handoff.on_invoke_handoff(None, "{}")
        assert target is specialists[handoff.agent_name]
        assert handoff.input_json_schema["additionalProperties"] is False


def test_progress_strings(orchestrator: Orchestrator) -> None:
    assert orchestrator.progress("shout", {"text": "hi"}) == "Shouting hi..."
    assert orchestrator.progress("transfer_to_echo", {}) == "Asking the echo specialist..."
    assert orchestrator.progress("unknown_tool", {}) == "Running unknown_tool..."


def test_followups_only_use_templates_whose_arguments_were_given(
    orchestrator: Orchestrator,
) -> None:
    calls = [ToolCall("c1", "shout", "echo", json.dumps({"text": "hey"}))]
    assert orchestrator.followups(calls) == ["Shout hey again?"]
    failed = [ToolCall("c1", "shout", "echo", "{}", ok=False)]
    assert orchestrator.followups(failed) == []


async def test_run_tool_maps_every_fault_to_a_sentence(orchestrator: Orchestrator) -> None:
    assert await orchestrator.run_tool("shout", '{"text": "hi"}') == (True, "HI")
    ok, out = await orchestrator.run_tool("shout", '{"text": "fail"}')
    assert not ok and out == "[tool error] The shouting service is down."
    for args in ("not json", "[1]", '{"wrong": 1}'):
        ok, out = await orchestrator.run_tool("shout", args)
        assert not ok and out.startswith("[tool error]")
    ok, out = await orchestrator.run_tool("nope", "{}")
    assert not ok and "no tool called nope" in out


def test_tool_schemas_are_flat_function_definitions(orchestrator: Orchestrator) -> None:
    (schema,) = orchestrator.tool_schemas()
    assert schema["type"] == "function" and schema["name"] == "shout"
    assert schema["parameters"]["required"] == ["text"]
    assert "Repeat text loudly." in schema["description"]


def test_oauth_connectors_are_connected_only_with_tokens() -> None:
    class Secrets:
        def __init__(self, stored: dict[str, str]) -> None:
            self.stored = stored

        def get(self, name: str) -> str | None:
            return self.stored.get(name)

    http = httpx.AsyncClient()
    gmail = [c for c in discover() if c.name == "gmail"]
    without = Orchestrator(gmail, ConnectorContext(http=http, secrets=Secrets({})))
    (row,) = without.connection_catalog()
    assert row["connected"] is False and row["requires"] == ["google account"]
    signed_in = Secrets({"oauth.google": '{"access_token": "x"}'})
    with_tokens = Orchestrator(gmail, ConnectorContext(http=http, secrets=signed_in))
    assert with_tokens.connection_catalog()[0]["connected"] is True
