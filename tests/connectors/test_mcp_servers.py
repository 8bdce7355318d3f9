"""Real MCP servers through Hark's tool path: mcp-server-time (PyPI) and server-filesystem (npm).

Setup installs them (tests never download): ``pip install mcp-server-time`` and
``npm install --prefix tests/.npm @modelcontextprotocol/server-filesystem``. Without them these
tests are skipped with the command that installs them. The approval tests check the file
system itself: a rejected write leaves no file behind.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI

from src.config.settings import ApiSettings
from src.connectors.base import ConnectorContext
from src.connectors.mcp_hub import McpHub, load_mcp_config, parse_mcp_config
from src.connectors.orchestrator import DECLINED, Orchestrator
from src.connectors.registry import discover
from src.events.approvals import ApprovalRequested
from src.events.base import Event
from src.events.bus import EventBus
from src.events.commands import ResolveApproval
from src.events.conversation import HandoffOccurred, ToolCallFinished
from src.services.approvals import ApprovalService
from src.services.text_runner import RunFinished, TextTurnRunner
from tests.fakes.openai_brain import Rule, RuleBrain
from tests.fakes.openai_server import ScriptedOpenAIServer

NPM_DIR = Path(__file__).resolve().parents[1] / ".npm"
FS_SERVER = NPM_DIR / "node_modules" / "@modelcontextprotocol" / "server-filesystem" / "dist"
CRASH_SERVER = Path(__file__).resolve().parents[1] / "fakes" / "mcp_crash_server.py"

needs_time = pytest.mark.skipif(
    importlib.util.find_spec("mcp_server_time") is None,
    reason="mcp-server-time is not installed (setup: pip install mcp-server-time)",
)
needs_filesystem = pytest.mark.skipif(
    shutil.which("node") is None or not (FS_SERVER / "index.js").is_file(),
    reason="node or server-filesystem is missing (setup: npm install --prefix tests/.npm "
    "@modelcontextprotocol/server-filesystem)",
)


def _time_entry() -> dict[str, object]:
    return {"command": sys.executable, "args": ["-m", "mcp_server_time", "--local-timezone", "UTC"]}


def _files_entry(root: Path) -> dict[str, object]:
    node = shutil.which("node") or "node"
    return {"command": node, "args": [str(FS_SERVER / "index.js"), str(root)]}


def _hub(servers: dict[str, object]) -> McpHub:
    config = parse_mcp_config(json.dumps({"mcpServers": servers}), "mcp.json")
    return McpHub(config, start_timeout=30)


def _orchestrator(hub: McpHub, approver: object | None = None) -> Orchestrator:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(599)))
    return Orchestrator(discover(), ConnectorContext(http=http), approver=approver, mcp=hub)  # type: ignore[arg-type]


class Recorder:
    """An approver that answers ``answer`` and remembers every question."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str, str]] = []

    async def request(self, tool: str, agent: str, readback: str, arguments: str) -> bool:
        self.asked.append((tool, agent, readback))
        return self.answer


@pytest.fixture
async def both(tmp_path: Path) -> AsyncIterator[McpHub]:
    """Both real servers, one entry with no command, and one whose command does not exist."""
    hub = _hub(
        {
            "time": _time_entry(),
            "files": _files_entry(tmp_path),
            "no command": {"args": ["server.js"]},
            "ghost": {"command": str(tmp_path / "no-such-server")},
        }
    )
    async with hub:
        yield hub


@needs_time
@needs_filesystem
async def test_tools_of_both_servers_are_offered_and_bad_entries_are_skipped(
    both: McpHub, tmp_path: Path
) -> None:
    assert [s.spec.name for s in both.running()] == ["time", "files"]
    assert both.problems == [
        'MCP server “no command” in mcp.json is skipped: it has no "command" to start it.',
        f"MCP server “ghost” could not start: the command “{tmp_path / 'no-such-server'}” "
        "was not found.",
    ]
    orch = _orchestrator(both)
    names = set(orch.tool_names())
    assert {"mcp_time__get_current_time", "mcp_time__convert_time"} <= names
    assert {"mcp_files__write_file", "mcp_files__read_text_file"} <= names
    assert {"get_current_weather"} <= names  # the connectors are still there
    schemas = {s["name"]: s for s in orch.tool_schemas()}
    write = schemas["mcp_files__write_file"]
    assert write["parameters"]["required"] == ["path", "content"]
    assert write["description"].startswith("[files MCP server] Create a new file")
    # Each server is one specialist the root can hand off to, described by its tools.
    root = orch.root_agent()
    specialists = orch.specialists()
    assert {h.agent_name for h in root.handoffs} == set(specialists)
    assert {"mcp_time", "mcp_files"} <= set(specialists)
    assert "get_current_time" in specialists["mcp_time"].handoff_description
    assert "- mcp_time: " in orch.instructions()
    # Read-only by its hints: no approval; a write: approval.
    assert not orch.side_effect("mcp_time__get_current_time")
    assert orch.side_effect("mcp_files__write_file") and orch.side_effect("mcp_files__move_file")
    assert not orch.side_effect("mcp_files__read_text_file")
    connections = {c["name"]: c["connected"] for c in orch.connection_catalog()}
    assert connections["mcp_time"] and connections["mcp_files"] and not connections["mcp_ghost"]


@needs_time
async def test_get_current_time_runs_through_the_voice_path_without_asking() -> None:
    approver = Recorder(answer=False)
    async with _hub({"time": _time_entry()}) as hub:
        orch = _orchestrator(hub, approver)
        ok, out = await orch.run_tool("mcp_time__get_current_time", '{"timezone": "Europe/Paris"}')
        assert ok, out
        assert json.loads(out)["timezone"] == "Europe/Paris"
        # A tool error (is_error) becomes a sentence, not an exception.
        ok, out = await orch.run_tool("mcp_time__get_current_time", '{"timezone": "Mars/Olympus"}')
        assert not ok
        assert out.startswith(
            "[tool error] The MCP server “time” reported a problem with get_current_time:"
        )
        assert "Mars/Olympus" in out
        ok, out = await orch.run_tool("mcp_time__get_current_time", "[1]")
        assert (ok, out) == (
            False,
            "[tool error] The arguments for mcp_time__get_current_time must be an object.",
        )
    assert approver.asked == []


@needs_time
async def test_get_current_time_runs_through_the_text_runner(
    openai_server: ScriptedOpenAIServer,
) -> None:
    openai_server.brain = RuleBrain(
        [
            Rule("time", "transfer_to_mcp_time"),
            Rule(
                r"time is it in (\S+)",
                "mcp_time__get_current_time",
                lambda m: {"timezone": m.group(1)},
            ),
        ],
        answer="{output}",
    )
    async with _hub({"time": _time_entry()}) as hub:
        final, events = await _turn(
            openai_server, _orchestrator(hub), "what time is it in Asia/Tokyo"
        )
    assert json.loads(final)["timezone"] == "Asia/Tokyo"
    assert [(e.from_agent, e.to_agent) for e in events if isinstance(e, HandoffOccurred)] == [
        ("orchestrator", "mcp_time")
    ]
    root_ask = openai_server.model_requests("responses")[0]
    assert "transfer_to_mcp_time" in root_ask.tool_names


@needs_filesystem
@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_a_write_happens_only_after_the_user_approves(
    openai_server: ScriptedOpenAIServer, tmp_path: Path, decision: str
) -> None:
    target = tmp_path / "shopping.txt"
    openai_server.brain = RuleBrain(
        [
            Rule("file", "transfer_to_mcp_files"),
            Rule(
                r"write (\w+) to the file (\S+)",
                "mcp_files__write_file",
                lambda m: {"path": m.group(2), "content": m.group(1)},
            ),
        ],
        answer="{output}",
    )
    bus = EventBus()
    approvals = ApprovalService(bus)
    await approvals.start()
    async with _hub({"files": _files_entry(tmp_path)}) as hub:
        orch = _orchestrator(hub, approvals)

        async def answer() -> ApprovalRequested:
            request: ApprovalRequested = await bus.next_event(ApprovalRequested)
            assert not target.exists()  # nothing was written before the answer
            await bus.publish(ResolveApproval(approval_id=request.approval_id, decision=decision))  # type: ignore[arg-type]
            return request

        answering = asyncio.create_task(answer())
        final, events = await _turn(openai_server, orch, f"write milk to the file {target}")
        request = await answering
    await bus.close()

    assert request.tool == "mcp_files__write_file" and request.agent == "mcp_files"
    assert request.readback == (
        f"Run write_file on the MCP server “files” with path={target}, content=milk"
    )
    assert json.loads(request.arguments) == {"path": str(target), "content": "milk"}
    written = [
        e for e in events if isinstance(e, ToolCallFinished) and e.tool != "transfer_to_mcp_files"
    ]
    if decision == "approve":
        assert target.read_text() == "milk"
        assert written[0].ok and final == written[0].result
    else:
        assert not target.exists()
        assert final == DECLINED


@needs_filesystem
async def test_a_filesystem_error_is_relayed_as_a_sentence(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    outside = tmp_path / "outside.txt"
    async with _hub({"files": _files_entry(allowed)}) as hub:
        orch = _orchestrator(hub, Recorder(answer=True))
        ok, out = await orch.run_tool(
            "mcp_files__write_file", json.dumps({"path": str(outside), "content": "x"})
        )
    assert not ok and not outside.exists()
    assert out.startswith("[tool error] The MCP server “files” reported a problem with write_file:")
    assert "outside allowed directories" in out


async def test_a_server_that_dies_mid_session_is_reported_and_skipped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    reported: list[str] = []

    async def report(problem: str) -> None:
        reported.append(problem)

    config = parse_mcp_config(
        json.dumps(
            {
                "mcpServers": {
                    "crashy": {
                        "command": sys.executable,
                        "args": [str(CRASH_SERVER)],
                        "env": {"HARK_TEST_PID_FILE": str(pid_file)},
                    }
                }
            }
        ),
        "mcp.json",
    )
    async with McpHub(config, report=report) as hub:
        orch = _orchestrator(hub)
        assert await orch.run_tool("mcp_crashy__echo", '{"text": "still here"}') == (
            True,
            "still here",
        )
        ok, out = await orch.run_tool("mcp_crashy__crash", "{}")
        assert not ok
        assert out == (
            "[tool error] The MCP server “crashy” has stopped; its tools are unavailable "
            "until Hark restarts."
        )
        assert reported == [out.removeprefix("[tool error] ")]
        assert [s.spec.name for s in hub.running()] == []
        ok, out = await orch.run_tool("mcp_crashy__echo", '{"text": "again"}')
        assert not ok and "not running" in out


async def test_servers_are_stopped_when_the_hub_closes(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    config = parse_mcp_config(
        json.dumps(
            {
                "mcpServers": {
                    "crashy": {
                        "command": sys.executable,
                        "args": [str(CRASH_SERVER)],
                        "env": {"HARK_TEST_PID_FILE": str(pid_file)},
                    }
                }
            }
        ),
        "mcp.json",
    )
    async with McpHub(config) as hub:
        assert [s.status for s in hub.servers()] == ["running"]
        pid = int(pid_file.read_text())
        os.kill(pid, 0)  # alive while Hark runs
    assert [s.status for s in hub.servers()] == ["stopped"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_server_that_exits_at_start_is_explained_by_its_last_words() -> None:
    script = "import sys; print('missing API token', file=sys.stderr); sys.exit(3)"
    async with _hub({"broken": {"command": sys.executable, "args": ["-c", script]}}) as hub:
        assert hub.running() == [] and hub.tools() == {}
        orch = _orchestrator(hub)
        assert not any(name.startswith("mcp_") for name in orch.tool_names())
    assert hub.problems == ["MCP server “broken” stopped while starting: missing API token"]


async def _turn(
    server: ScriptedOpenAIServer, orch: Orchestrator, text: str
) -> tuple[str, list[Event]]:
    client = AsyncOpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0)
    runner = TextTurnRunner(
        lambda: client, ApiSettings(base_url=server.base_url, max_retries=0), orch
    )
    final, events = "", list[Event]()
    async for item in runner.stream("turn_1", [], text):
        if isinstance(item, RunFinished):
            final = item.text
        else:
            events.append(item)
    await client.close()
    return final, events


async def test_a_server_that_never_answers_is_given_up_on_at_the_start_timeout() -> None:
    silent = "import sys; sys.stdin.read()"  # reads requests, never answers; exits on EOF
    config = parse_mcp_config(
        json.dumps({"mcpServers": {"mute": {"command": sys.executable, "args": ["-c", silent]}}}),
        "mcp.json",
    )
    async with McpHub(config, start_timeout=0.2) as hub:
        assert hub.running() == []
    assert hub.problems == [
        "MCP server “mute” did not answer within 0.2 seconds, so it is skipped."
    ]


async def test_a_broken_config_file_leaves_hark_working_without_mcp(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"time": ')
    reported: list[str] = []

    async def report(problem: str) -> None:
        reported.append(problem)

    async with McpHub(load_mcp_config(path), report=report) as hub:
        assert hub.servers() == [] and hub.tools() == {}
        orch = _orchestrator(hub)
        root = orch.root_agent()
        assert {h.agent_name for h in root.handoffs} == {c.name for c in discover()}
    (problem,) = hub.problems
    assert problem.startswith(f"The MCP config {path} is not valid JSON")
    assert reported == [problem]
