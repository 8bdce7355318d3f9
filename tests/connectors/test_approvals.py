"""No side-effecting tool runs without the user's approval, on the text and the voice path."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from src.config.settings import ApiSettings
from src.connectors.base import Connector, ConnectorContext, ToolDef
from src.connectors.orchestrator import DECLINED, Orchestrator
from src.connectors.registry import discover
from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.bus import EventBus
from src.events.commands import ResolveApproval
from src.services.approvals import ApprovalService
from src.services.text_runner import RunFinished, TextTurnRunner
from tests.fakes.openai_brain import Rule, RuleBrain
from tests.fakes.openai_server import ScriptedOpenAIServer

SIDE_EFFECT_VERBS = re.compile(
    r"^(send|post|buy|sell|trade|order|create|delete|remove|cancel|"
    r"book|pay|transfer|reply|forward|archive|update|write)_"
)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []


def mail_connector(outbox: Outbox) -> Connector:
    def build(ctx: ConnectorContext) -> list[ToolDef]:
        async def send_note(to: str, body: str) -> str:
            """Send a short note to someone.

            Args:
                to: The recipient's address.
                body: The text of the note.
            """
            outbox.sent.append((to, body))
            return f"Sent to {to}."

        return [
            ToolDef(
                send_note,
                progress="Sending a note to {to}...",
                side_effect=True,
                readback="Send to {to}: {body}",
            )
        ]

    return Connector(
        name="notes",
        title="Notes",
        description="Sends notes.",
        instructions="Send notes.",
        build_tools=build,
    )


def make(outbox: Outbox, approver: object | None) -> Orchestrator:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    return Orchestrator([mail_connector(outbox)], ConnectorContext(http=http), approver=approver)  # type: ignore[arg-type]


async def answer_next_approval(bus: EventBus, decision: str) -> ApprovalRequested:
    request: ApprovalRequested = await bus.next_event(ApprovalRequested)
    await bus.publish(ResolveApproval(approval_id=request.approval_id, decision=decision))  # type: ignore[arg-type]
    return request


async def test_the_tool_waits_for_approval_and_reads_back_exactly() -> None:
    bus, outbox = EventBus(), Outbox()
    approvals = ApprovalService(bus)
    await approvals.start()
    orchestrator = make(outbox, approvals)
    run = asyncio.create_task(
        orchestrator.run_tool(
            "send_note", json.dumps({"to": "ana@example.com", "body": "See you Friday"})
        )
    )
    request = await bus.next_event(ApprovalRequested)
    assert request.readback == "Send to ana@example.com: See you Friday"
    assert request.tool == "send_note" and request.agent == "notes"
    assert outbox.sent == [] and not run.done()  # nothing happened before the answer
    resolved = asyncio.create_task(bus.next_event(ApprovalResolved))
    await bus.publish(ResolveApproval(approval_id=request.approval_id, decision="approve"))
    assert await run == (True, "Sent to ana@example.com.")
    assert (await resolved).decision == "approve"
    assert outbox.sent == [("ana@example.com", "See you Friday")]
    await bus.close()


async def test_a_rejection_means_the_tool_never_runs() -> None:
    bus, outbox = EventBus(), Outbox()
    approvals = ApprovalService(bus)
    await approvals.start()
    orchestrator = make(outbox, approvals)
    run = asyncio.create_task(orchestrator.run_tool("send_note", '{"to": "x@y.z", "body": "hi"}'))
    await answer_next_approval(bus, "reject")
    assert await run == (True, DECLINED)
    assert outbox.sent == []
    await bus.close()


async def test_silence_expires_as_a_rejection() -> None:
    bus, outbox = EventBus(), Outbox()
    approvals = ApprovalService(bus, timeout=0.05)
    await approvals.start()
    expired = asyncio.create_task(bus.next_event(ApprovalResolved))
    _ok, out = await make(outbox, approvals).run_tool("send_note", '{"to": "a@b.c", "body": "x"}')
    assert out == DECLINED and outbox.sent == []
    assert (await expired).decision == "expired"
    assert approvals.pending() == []
    await bus.close()


async def test_always_allow_is_per_tool_and_persisted() -> None:
    bus, outbox = EventBus(), Outbox()
    saved: list[frozenset[str]] = []
    approvals = ApprovalService(bus, persist_always=saved.append)
    await approvals.start()
    orchestrator = make(outbox, approvals)
    run = asyncio.create_task(orchestrator.run_tool("send_note", '{"to": "a@b.c", "body": "1"}'))
    await answer_next_approval(bus, "always")
    await run
    assert saved == [frozenset({"send_note"})]
    asked: list[ApprovalRequested] = []
    bus.subscribe(ApprovalRequested, asked.append)
    assert (await orchestrator.run_tool("send_note", '{"to": "a@b.c", "body": "2"}'))[0]
    await bus.drain()
    assert asked == [] and [b for _, b in outbox.sent] == ["1", "2"]
    await bus.close()


async def test_without_an_approver_a_side_effect_never_runs() -> None:
    outbox = Outbox()
    _ok, out = await make(outbox, None).run_tool("send_note", '{"to": "a@b.c", "body": "x"}')
    assert out.startswith("[tool error]") and "approval" in out
    assert outbox.sent == []


@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_the_agents_runner_path_also_waits(
    openai_server: ScriptedOpenAIServer, decision: str
) -> None:
    openai_server.brain = RuleBrain(
        [
            Rule("note", "transfer_to_notes"),
            Rule(
                r"note to (\S+) saying (.+)",
                "send_note",
                lambda m: {"to": m.group(1), "body": m.group(2)},
            ),
        ],
        answer="Done: {output}",
    )
    bus, outbox = EventBus(), Outbox()
    approvals = ApprovalService(bus)
    await approvals.start()
    orchestrator = make(outbox, approvals)
    api = ApiSettings(base_url=openai_server.base_url, max_retries=0)
    from openai import AsyncOpenAI

    client = AsyncOpenAI(api_key="sk-test", base_url=openai_server.base_url, max_retries=0)
    runner = TextTurnRunner(lambda: client, api, orchestrator)
    answering = asyncio.create_task(answer_next_approval(bus, decision))

    async def run_turn() -> str:
        final = ""
        async for item in runner.stream("turn_1", [], "send a note to ana@example.com saying hi"):
            if isinstance(item, RunFinished):
                final = item.text
        return final

    final = await run_turn()
    request = await answering
    assert request.readback == "Send to ana@example.com: hi"
    if decision == "approve":
        assert outbox.sent == [("ana@example.com", "hi")] and "Sent to" in final
    else:
        assert outbox.sent == [] and DECLINED in final
    await client.close()
    await bus.close()


def test_every_registered_side_effecting_tool_declares_it() -> None:
    """Tools named like actions must declare side effects and a read-back of what they do."""
    http = httpx.AsyncClient()
    context = ConnectorContext(http=http)
    for connector in discover():
        for tool in connector.build_tools(context):
            if SIDE_EFFECT_VERBS.match(tool.name):
                assert tool.side_effect, f"{connector.name}.{tool.name} must set side_effect"
            if tool.side_effect:
                assert tool.readback, f"{connector.name}.{tool.name} needs a readback"


async def test_every_registered_side_effecting_tool_is_refused_on_rejection() -> None:
    """Run each real side-effecting tool with a rejecting approver: none may reach its provider."""
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={})

    class Refuse:
        async def request(self, tool: str, agent: str, readback: str, arguments: str) -> bool:
            return False

    http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    orchestrator = Orchestrator(discover(), ConnectorContext(http=http), approver=Refuse())
    for schema in orchestrator.tool_schemas():
        if not orchestrator.side_effect(schema["name"]):
            continue
        args = {name: "x" for name in schema["parameters"].get("required", [])}
        _ok, out = await orchestrator.run_tool(schema["name"], json.dumps(args))
        assert out == DECLINED, schema["name"]
    assert calls == []
