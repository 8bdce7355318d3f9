"""The user's MCP servers, read from the ``mcpServers`` JSON file desktop MCP clients share.

    {"mcpServers": {"time": {"command": "uvx", "args": ["mcp-server-time"], "env": {}}}}

The same file a user already keeps for another MCP client works here unchanged. Every fault
becomes one sentence naming the server (or the file) and what to fix; a bad entry is skipped
and the others still start, and a broken file means no MCP servers, never a Hark that will
not start. Besides the common keys (``command``, ``args``, ``env``, ``cwd``, ``disabled``),
two optional ones are honoured: ``description`` (what the server is for, shown to the
orchestrator when routing) and ``alwaysAllow`` (tool names that never ask for approval, as
some desktop clients spell it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SLUG = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 24
"""Server names become part of tool names, which the model APIs cap at 64 characters."""


@dataclass(frozen=True)
class McpServerSpec:
    """One server to start over stdio. ``slug`` is the name's safe form for agent and tool names."""

    name: str
    slug: str
    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    description: str = ""
    always_allow: frozenset[str] = frozenset()


@dataclass(frozen=True)
class McpConfig:
    """The servers that passed validation and one sentence for every problem found."""

    servers: tuple[McpServerSpec, ...] = ()
    problems: tuple[str, ...] = ()


def slug_for(name: str) -> str:
    """``"Brave Search"`` → ``"brave_search"``: letters, digits and underscores only."""
    return SLUG.sub("_", name.lower()).strip("_")[:MAX_SLUG].rstrip("_")


def load_mcp_config(path: Path) -> McpConfig:
    """Read and validate the file; a missing file simply means no MCP servers."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return McpConfig()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return McpConfig(problems=(f"The MCP config {path} could not be read ({reason}).",))
    return parse_mcp_config(text, str(path))


def parse_mcp_config(text: str, source: str) -> McpConfig:
    """Validate the text of an MCP config; ``source`` names the file in the sentences."""
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        return McpConfig(
            problems=(
                f"The MCP config {source} is not valid JSON (line {exc.lineno}, column "
                f"{exc.colno}: {exc.msg}), so no MCP servers were started.",
            )
        )
    if not isinstance(data, dict):
        return McpConfig(problems=(f"The MCP config {source} must be a JSON object.",))
    servers = data.get("mcpServers", {})
    if not isinstance(servers, dict):
        return McpConfig(
            problems=(
                f'In the MCP config {source}, "mcpServers" must be an object of named servers.',
            )
        )
    specs: list[McpServerSpec] = []
    problems: list[str] = []
    slugs: dict[str, str] = {}
    for name, entry in servers.items():
        spec_or_problem = _server(str(name), entry, source)
        if spec_or_problem is None:
            continue
        if isinstance(spec_or_problem, str):
            problems.append(spec_or_problem)
            continue
        clash = slugs.get(spec_or_problem.slug)
        if clash is not None:
            problems.append(
                f"MCP server “{name}” is skipped: its name is too close to “{clash}”; "
                "rename one of them."
            )
            continue
        slugs[spec_or_problem.slug] = str(name)
        specs.append(spec_or_problem)
    return McpConfig(tuple(specs), tuple(problems))


def _server(name: str, entry: Any, source: str) -> McpServerSpec | str | None:
    """A spec, a sentence saying why the entry is skipped, or None for a disabled server."""
    skipped = f"MCP server “{name}” in {source} is skipped:"
    if not isinstance(entry, dict):
        return f"{skipped} its entry must be an object with a command."
    if entry.get("disabled") is True:
        return None
    slug = slug_for(name)
    if not slug:
        return f"{skipped} its name needs at least one letter or digit."
    command = entry.get("command")
    if command is None and ("url" in entry or "serverUrl" in entry):
        return f"{skipped} it is reached by URL, and Hark starts only local (stdio) servers."
    if not isinstance(command, str) or not command.strip():
        return f'{skipped} it has no "command" to start it.'
    args = entry.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        return f'{skipped} "args" must be a list of strings.'
    env = entry.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        return f'{skipped} "env" must map names to string values.'
    cwd = entry.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        return f'{skipped} "cwd" must be a directory path.'
    description = entry.get("description", "")
    if not isinstance(description, str):
        return f'{skipped} "description" must be a sentence.'
    allowed = entry.get("alwaysAllow", [])
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        return f'{skipped} "alwaysAllow" must be a list of tool names.'
    return McpServerSpec(
        name=name,
        slug=slug,
        command=command.strip(),
        args=tuple(args),
        env={str(k): v for k, v in env.items()},
        cwd=cwd,
        description=description.strip(),
        always_allow=frozenset(allowed),
    )
