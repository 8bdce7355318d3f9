"""MCP servers as Hark tools: the user's ``mcpServers`` file, started and stopped with Hark.

A package (not a module) so connector discovery skips it: it defines no ``CONNECTOR``. The
orchestrator turns each running server into one specialist; see ``hub`` for the lifecycle.
"""

from src.connectors.mcp_hub.config import (
    McpConfig,
    McpServerSpec,
    load_mcp_config,
    parse_mcp_config,
)
from src.connectors.mcp_hub.hub import McpHub, McpServerState
from src.connectors.mcp_hub.tools import McpTool

__all__ = [
    "McpConfig",
    "McpHub",
    "McpServerSpec",
    "McpServerState",
    "McpTool",
    "load_mcp_config",
    "parse_mcp_config",
]
