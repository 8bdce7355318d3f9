"""The ``mcpServers`` file: what is accepted, and the sentence for each thing that is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from src.connectors.mcp_hub import McpTool, load_mcp_config, parse_mcp_config
from src.connectors.mcp_hub.tools import qualified_name


def _parse(servers: Any) -> Any:
    return parse_mcp_config(json.dumps({"mcpServers": servers}), "mcp.json")


def test_a_desktop_client_config_is_read_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "filesystem": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-filesystem", "/home/ana"],
                    },
                    "Brave Search": {
                        "command": "uvx",
                        "args": ["brave-search-mcp"],
                        "env": {"BRAVE_API_KEY": "xyz"},
                        "cwd": "/tmp",
                        "description": "Searches the web with Brave.",
                        "alwaysAllow": ["brave_web_search"],
                    },
                    "old": {"command": "old-server", "disabled": True},
                },
                "otherClientSetting": {"theme": "dark"},
            }
        )
    )
    config = load_mcp_config(path)
    assert config.problems == ()
    fs, brave = config.servers
    assert (fs.name, fs.slug, fs.command) == ("filesystem", "filesystem", "npx")
    assert fs.args == ("-y", "@modelcontextprotocol/server-filesystem", "/home/ana")
    assert (brave.slug, dict(brave.env), brave.cwd) == (
        "brave_search",
        {"BRAVE_API_KEY": "xyz"},
        "/tmp",
    )
    assert brave.description == "Searches the web with Brave."
    assert brave.always_allow == frozenset({"brave_web_search"})


def test_no_file_means_no_servers_and_no_complaint(tmp_path: Path) -> None:
    config = load_mcp_config(tmp_path / "missing.json")
    assert config.servers == () and config.problems == ()


def test_bad_json_is_one_sentence_with_the_place_of_the_fault(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_text('{"mcpServers": {"time": {"command": "x",}}}')
    config = load_mcp_config(path)
    assert config.servers == ()
    (problem,) = config.problems
    assert problem.startswith(f"The MCP config {path} is not valid JSON (line 1, column")
    assert problem.endswith("so no MCP servers were started.")


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"args": ["x"]}, 'it has no "command" to start it.'),
        ({"command": "  "}, 'it has no "command" to start it.'),
        ("npx server", "its entry must be an object with a command."),
        ({"url": "https://mcp.example.com/sse"}, "Hark starts only local (stdio) servers."),
        ({"command": "x", "args": "--flag"}, '"args" must be a list of strings.'),
        ({"command": "x", "env": {"PORT": 8080}}, '"env" must map names to string values.'),
        ({"command": "x", "alwaysAllow": "all"}, '"alwaysAllow" must be a list of tool names.'),
    ],
)
def test_a_bad_entry_is_skipped_with_a_sentence_naming_it(entry: Any, reason: str) -> None:
    config = _parse({"broken": entry, "good": {"command": "good-server"}})
    assert [s.name for s in config.servers] == ["good"]
    (problem,) = config.problems
    assert problem.startswith("MCP server “broken” in mcp.json is skipped:")
    assert problem.endswith(reason)


def test_names_that_clash_once_made_safe_keep_the_first() -> None:
    config = _parse({"my-server": {"command": "a"}, "My Server": {"command": "b"}})
    assert [s.command for s in config.servers] == ["a"]
    assert config.problems == (
        "MCP server “My Server” is skipped: its name is too close to “my-server”; "
        "rename one of them.",
    )


@pytest.mark.parametrize(
    "text",
    ['["not", "an", "object"]', '{"mcpServers": ["time"]}'],
)
def test_a_file_of_the_wrong_shape_is_explained(text: str) -> None:
    config = parse_mcp_config(text, "mcp.json")
    assert config.servers == () and len(config.problems) == 1
    assert "mcp.json" in config.problems[0]


def _tool(read_only: bool, destructive: bool | None, allowed: bool = False) -> McpTool:
    return McpTool(
        server="files",
        server_slug="files",
        name="write_file",
        qualified="mcp_files__write_file",
        description="Write a file.",
        read_only=read_only,
        destructive=destructive,
        always_allowed=allowed,
    )


@pytest.mark.parametrize(
    ("read_only", "destructive", "allowed", "asks"),
    [
        (True, None, False, False),  # a declared read: runs at once
        (True, False, False, False),
        (True, True, False, True),  # contradictory hints: the cautious reading
        (False, False, False, True),  # additive but not read-only: still a change
        (False, True, False, True),
        (False, None, False, True),  # no hints at all (MCP's defaults): ask
        (False, True, True, False),  # the user's alwaysAllow in the config
    ],
)
def test_the_approval_rule_follows_the_mcp_hints(
    read_only: bool, destructive: bool | None, allowed: bool, asks: bool
) -> None:
    assert _tool(read_only, destructive, allowed).needs_approval is asks


def test_the_readback_names_server_tool_and_every_argument() -> None:
    text = _tool(False, True).readback({"path": "/tmp/a.txt", "content": "hello", "n": 2})
    assert (
        text == "Run write_file on the MCP server “files” with path=/tmp/a.txt, content=hello, n=2"
    )
    long = _tool(False, True).readback({"content": "x" * 1000})
    assert len(long) < 400 and long.endswith("…")


def test_tool_names_are_safe_and_prefixed_like_the_agents_sdk_does() -> None:
    assert qualified_name("time", "get_current_time") == "mcp_time__get_current_time"
    assert qualified_name("gh", "create-issue") == "mcp_gh__create-issue"
    assert qualified_name("gh", "list issues (open)") == "mcp_gh__list_issues_open"
    long_a, long_b = qualified_name("s" * 24, "t" * 80), qualified_name("s" * 24, "t" * 81)
    assert len(long_a) == len(long_b) == 64 and long_a != long_b


def test_a_schema_without_properties_gets_them() -> None:
    tool = McpTool("s", "s", "t", "mcp_s__t", "", input_schema={"type": "object"})
    assert tool.schema() == {"type": "object", "properties": {}}
