"""MCP servers end to end: the real main.py starts the user's mcp.json servers and uses them.

Needs ``mcp-server-time`` installed (setup: ``pip install mcp-server-time``) and the
``connectors.mcp_config`` setting that ``build_core`` reads to start the ``McpHub``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from src.config.settings import ConnectorSettings
from tests.e2e.harness import HarkHome
from tests.fakes.openai_brain import Rule, RuleBrain
from tests.fakes.openai_server import ScriptedOpenAIServer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        importlib.util.find_spec("mcp_server_time") is None,
        reason="mcp-server-time is not installed (setup: pip install mcp-server-time)",
    ),
    pytest.mark.skipif(
        "mcp_config" not in ConnectorSettings.model_fields,
        reason="build_core does not start MCP servers yet (no connectors.mcp_config setting)",
    ),
]

KEY = "sk-test-" + "mcp" * 8


def test_the_users_mcp_servers_start_with_hark_and_answer(
    tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    home = HarkHome(tmp_path)
    config = home.root / "config" / "mcp.json"
    config.parent.mkdir(parents=True)
    time_server = {"command": sys.executable, "args": ["-m", "mcp_server_time"]}
    config.write_text(json.dumps({"mcpServers": {"time": time_server, "broken": {"args": []}}}))
    openai_server.brain = RuleBrain(
        [
            Rule("time", "transfer_to_mcp_time"),
            Rule(r" in (\S+)$", "mcp_time__get_current_time", lambda m: {"timezone": m.group(1)}),
        ],
        answer="{output}",
    )

    run = home.run(
        "--text-only",
        input="what time is it in Asia/Tokyo\n",
        OPENAI_BASE_URL=openai_server.base_url,
        OPENAI_API_KEY=KEY,
    )

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["timezone"] == "Asia/Tokyo"
    assert "MCP server “broken”" in run.stderr and 'no "command"' in run.stderr
    assert "Running get_current_time on time..." in run.stderr
    assert "Traceback" not in run.stderr
    logs = list((home.root / "logs").glob("mcp-time.log"))
    assert logs, "the server's stderr goes to the log directory, not the terminal"
