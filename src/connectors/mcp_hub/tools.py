"""MCP tools as Hark sees them: a name unique across Hark, a schema, and the approval rule.

MCP servers describe their tools with hints (``readOnlyHint``, ``destructiveHint``). Hark
asks the user before a tool that may change something: anything not declared read-only, and
anything declared destructive even if it also claims to be read-only (contradictory hints are
read the cautious way). Results are flattened to text, because every Hark tool answers in
sentences; a result the server flags with ``is_error`` becomes a failure sentence.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_TOOL_NAME = 64
UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_READBACK_VALUE = 300
"""A read-back is heard before approving; very long values are cut (the JSON is sent whole)."""


@dataclass(frozen=True)
class McpTool:
    """One tool of one running server, under the name the model sees (``mcp_time__get_...``)."""

    server: str
    """The server's name as the user wrote it in the config."""
    server_slug: str
    name: str
    """The tool's own name on its server."""
    qualified: str
    description: str
    input_schema: Mapping[str, Any] = field(default_factory=dict)
    read_only: bool = False
    destructive: bool | None = None
    always_allowed: bool = False

    @property
    def needs_approval(self) -> bool:
        """Destructive, or not declared read-only: ask first (unless the config allows it)."""
        if self.always_allowed:
            return False
        return not self.read_only or self.destructive is True

    def schema(self) -> dict[str, Any]:
        """The parameters schema, with the ``properties`` the model APIs require."""
        schema = json.loads(json.dumps(dict(self.input_schema))) if self.input_schema else {}
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        schema.pop("$schema", None)
        return schema

    def readback(self, arguments: Mapping[str, Any]) -> str:
        """What will happen, naming server, tool and every argument, for the approval prompt."""
        parts = [f"{key}={_short(value)}" for key, value in arguments.items()]
        given = f" with {', '.join(parts)}" if parts else " with no arguments"
        return f"Run {self.name} on the MCP server “{self.server}”{given}"


def qualified_name(server_slug: str, tool: str) -> str:
    """``mcp_<server>__<tool>``: the agents SDK's own convention for prefixed MCP tools.

    The model APIs allow 64 characters of ``[A-Za-z0-9_-]``; a longer name keeps a stem and a
    hash of the full name, so two long names stay apart.
    """
    name = f"mcp_{server_slug}__{UNSAFE.sub('_', tool).strip('_-') or 'tool'}"
    if len(name) <= MAX_TOOL_NAME:
        return name
    digest = hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
    return f"{name[: MAX_TOOL_NAME - 9]}_{digest}"


def from_mcp(server: str, server_slug: str, tool: Any, always_allow: frozenset[str]) -> McpTool:
    """Hark's view of an ``mcp.types.Tool`` (annotations may be missing entirely)."""
    hints = getattr(tool, "annotations", None)
    read_only = bool(getattr(hints, "read_only_hint", False))
    destructive = getattr(hints, "destructive_hint", None)
    schema = getattr(tool, "input_schema", None) or {}
    return McpTool(
        server=server,
        server_slug=server_slug,
        name=str(tool.name),
        qualified=qualified_name(server_slug, str(tool.name)),
        description=(getattr(tool, "description", None) or "").strip(),
        input_schema=schema if isinstance(schema, dict) else {},
        read_only=read_only,
        destructive=destructive if isinstance(destructive, bool) else None,
        always_allowed=str(tool.name) in always_allow,
    )


def result_text(content: Sequence[Any]) -> str:
    """The text of a ``CallToolResult``'s content blocks; other kinds are named, not dumped."""
    pieces: list[str] = []
    for block in content:
        kind = getattr(block, "type", "")
        if kind == "text":
            pieces.append(str(block.text))
        elif kind == "image":
            pieces.append(f"[an image ({getattr(block, 'mime_type', 'unknown type')})]")
        elif kind == "audio":
            pieces.append("[an audio clip]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            pieces.append(str(text) if text is not None else f"[a file at {resource.uri}]")
        elif kind == "resource_link":
            pieces.append(f"[a link to {block.uri}]")
        else:
            pieces.append(f"[{kind or 'unknown'} content]")
    return "\n".join(pieces).strip()


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_READBACK_VALUE else text[: MAX_READBACK_VALUE - 1] + "…"
