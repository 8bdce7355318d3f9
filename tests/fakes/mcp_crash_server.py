"""A real (tiny) MCP server over stdio whose ``crash`` tool kills its own process.

Used to check that Hark reports a server that dies mid-session and skips it from then on.
It writes its process id to the file named by ``HARK_TEST_PID_FILE`` (when set), so a test
can check that closing Hark really ended the process.

    python -m tests.fakes.mcp_crash_server
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

READ_ONLY = ToolAnnotations(read_only_hint=True)

server = MCPServer("crashy")


@server.tool(name="echo", description="Repeat the text back.", annotations=READ_ONLY)
def echo(text: str) -> str:
    return text


@server.tool(name="crash", description="End the server process at once.", annotations=READ_ONLY)
def crash() -> str:
    os._exit(7)


def main() -> None:
    pid_file = os.environ.get("HARK_TEST_PID_FILE")
    if pid_file:
        Path(pid_file).write_text(str(os.getpid()), encoding="utf-8")
    asyncio.run(server.run_stdio_async())


if __name__ == "__main__":
    main()
