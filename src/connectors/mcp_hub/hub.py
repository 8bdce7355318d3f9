"""Starts the user's MCP servers with Hark, calls their tools, and stops them on shutdown.

Each server runs as a child process spoken to over stdio through openai-agents'
``MCPServerStdio`` (see docs/decisions/0002-mcp.md). A server that will not start, or that
dies later, is reported in one sentence and skipped: Hark itself always starts. A server's
stderr goes to a file, never to the user's terminal, and its last line explains a failed
start. Servers start concurrently, each within ``start_timeout``, so one slow server costs
at most that long.

    async with McpHub(load_mcp_config(path)) as hub:
        for problem in hub.problems: ...
        text = await hub.call(hub.tools()["mcp_time__get_current_time"], {"timezone": "UTC"})
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TextIO, cast

from src.connectors.base import ConnectorError
from src.connectors.mcp_hub.config import McpConfig, McpServerSpec
from src.connectors.mcp_hub.tools import McpTool, from_mcp, result_text

log = logging.getLogger(__name__)

Status = Literal["waiting", "running", "failed", "stopped"]
Report = Callable[[str], Awaitable[None]]

CONNECTION_CLOSED = -32000
"""JSON-RPC code the ``mcp`` client raises when the server's pipe closed (it crashed)."""
DEFAULT_START_TIMEOUT = 20.0
DEFAULT_CALL_TIMEOUT = 120.0
MAX_DESCRIPTION = 600


@dataclass
class McpServerState:
    """One configured server: how it is doing and, while it runs, its tools."""

    spec: McpServerSpec
    status: Status = "waiting"
    tools: tuple[McpTool, ...] = ()
    problem: str = ""
    instructions: str = ""
    client: Any = field(default=None, repr=False)
    stderr: TextIO | None = field(default=None, repr=False)

    @property
    def agent_name(self) -> str:
        """The specialist agent that serves this server's tools (``mcp_<slug>``)."""
        return f"mcp_{self.spec.slug}"

    def description(self) -> str:
        """What the server is for: the config's description, else its tools' first lines."""
        if self.spec.description:
            return self.spec.description
        summaries = []
        for tool in self.tools:
            first = tool.description.split("\n")[0].split(". ")[0].rstrip(".")
            summaries.append(f"{tool.name} ({first})" if first else tool.name)
        text = f"Tools of the “{self.spec.name}” MCP server: " + "; ".join(summaries) + "."
        return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


class McpHub:
    """The MCP servers of one Hark run: an async context (or ``start()`` / ``close()``)."""

    def __init__(
        self,
        config: McpConfig,
        *,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        stderr_dir: Path | None = None,
        report: Report | None = None,
    ) -> None:
        self._states = [McpServerState(spec) for spec in config.servers]
        self._config_problems = config.problems
        self._problems: list[str] = []
        self._start_timeout = start_timeout
        self._call_timeout = call_timeout
        self._stderr_dir = stderr_dir
        self._report = report
        self._tools: dict[str, tuple[McpServerState, McpTool]] = {}

    async def __aenter__(self) -> McpHub:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def problems(self) -> list[str]:
        """Since ``start()``: each config fault and server that failed or stopped, in order."""
        return list(self._problems)

    def servers(self) -> list[McpServerState]:
        """Every configured server (running or not), in config order."""
        return list(self._states)

    def running(self) -> list[McpServerState]:
        return [s for s in self._states if s.status == "running"]

    def tools(self) -> dict[str, McpTool]:
        """Every tool of every server that started, by the name the model sees."""
        return {name: tool for name, (_state, tool) in self._tools.items()}

    async def start(self) -> list[str]:
        """Start every server at once; returns the problems (config and start failures).

        Each problem is also logged and given to ``report`` (e.g. published for the front
        ends), as is a server's crash later on.
        """
        for problem in self._config_problems:
            await self._note(problem)
        if not self._states:
            return self.problems
        # The agents SDK costs about a second to import: keep that off the event loop.
        await asyncio.to_thread(importlib.import_module, "agents.mcp")
        await asyncio.gather(*(self._start_one(state) for state in self._states))
        for state in self._states:
            if state.status == "failed":
                await self._note(state.problem)
                continue
            for tool in state.tools:
                if tool.qualified in self._tools:
                    log.warning("MCP tool %s is listed twice; the second is ignored", tool.name)
                    continue
                self._tools[tool.qualified] = (state, tool)
        return self.problems

    async def close(self) -> None:
        """Stop every server that runs (each gets its transport's grace period to exit)."""
        await asyncio.gather(*(self._stop(state) for state in self._states))
        self._tools.clear()

    async def call(self, tool: McpTool, arguments: dict[str, Any]) -> str:
        """Call a tool; its text on success, else a ``ConnectorError`` with a sentence."""
        entry = self._tools.get(tool.qualified)
        state = entry[0] if entry else None
        if state is None or state.status != "running" or state.client is None:
            raise ConnectorError(
                f"The MCP server “{tool.server}” is not running, so {tool.name} is unavailable."
            )
        mcp_error = _mcp_error_class()
        try:
            result = await state.client.call_tool(tool.name, arguments)
        except mcp_error as exc:
            if getattr(exc, "code", None) == CONNECTION_CLOSED:
                await self._lost(state)
                raise ConnectorError(state.problem) from exc
            message = getattr(exc, "message", str(exc))
            raise ConnectorError(
                f"The MCP server “{tool.server}” refused {tool.name}: {message}"
            ) from exc
        except (asyncio.CancelledError, TimeoutError):
            raise
        except Exception as exc:
            log.warning("MCP tool %s on %s failed", tool.name, tool.server, exc_info=exc)
            raise ConnectorError(
                f"The MCP server “{tool.server}” could not run {tool.name} ({_reason(exc)})."
            ) from exc
        text = result_text(result.content)
        if result.is_error:
            raise ConnectorError(
                f"The MCP server “{tool.server}” reported a problem with {tool.name}: "
                f"{text or 'no details given'}"
            )
        return text or f"{tool.name} finished with no output."

    # ---- one server ---------------------------------------------------------------------

    async def _start_one(self, state: McpServerState) -> None:
        spec = state.spec
        state.stderr = self._stderr_file(spec)
        client = _stdio_class()(
            {
                "command": spec.command,
                "args": list(spec.args),
                "env": dict(spec.env),
                **({"cwd": spec.cwd} if spec.cwd else {}),
            },
            name=spec.name,
            cache_tools_list=True,
            client_session_timeout_seconds=self._call_timeout,
            errlog=state.stderr,
        )
        try:
            async with asyncio.timeout(self._start_timeout):
                await client.connect()
                listed = await client.list_tools()
        except TimeoutError:
            state.problem = (
                f"MCP server “{spec.name}” did not answer within {self._start_timeout:g} "
                "seconds, so it is skipped."
            )
        except FileNotFoundError:
            state.problem = (
                f"MCP server “{spec.name}” could not start: the command “{spec.command}” "
                "was not found."
            )
        except PermissionError:
            state.problem = (
                f"MCP server “{spec.name}” could not start: “{spec.command}” is not executable."
            )
        except Exception as exc:
            log.info("MCP server %s failed to start", spec.name, exc_info=exc)
            said = self._last_stderr_line(state)
            state.problem = f"MCP server “{spec.name}” stopped while starting" + (
                f": {said}" if said else f" ({_reason(exc)})."
            )
        else:
            state.client = client
            state.status = "running"
            init = getattr(client, "server_initialize_result", None)
            state.instructions = (getattr(init, "instructions", None) or "").strip()
            state.tools = tuple(
                from_mcp(spec.name, spec.slug, tool, spec.always_allow) for tool in listed
            )
            log.info("MCP server %s is running with %d tools", spec.name, len(state.tools))
            return
        state.status = "failed"
        await _quietly_cleanup(client, spec.name)

    async def _stop(self, state: McpServerState) -> None:
        client, state.client = state.client, None
        if client is not None:
            await _quietly_cleanup(client, state.spec.name)
        if state.status == "running":
            state.status = "stopped"
        if state.stderr is not None:
            state.stderr.close()
            state.stderr = None

    async def _lost(self, state: McpServerState) -> None:
        """A server died mid-session: say so once, forget its tools, release its pipes."""
        if state.status != "running":
            return
        state.status = "failed"
        said = self._last_stderr_line(state)
        state.problem = (
            f"The MCP server “{state.spec.name}” has stopped"
            + (f" ({said})" if said else "")
            + "; its tools are unavailable until Hark restarts."
        )
        await self._note(state.problem)
        client, state.client = state.client, None
        if client is not None:
            await _quietly_cleanup(client, state.spec.name)

    async def _note(self, problem: str) -> None:
        self._problems.append(problem)
        log.warning("%s", problem)
        if self._report is not None:
            try:
                await self._report(problem)
            except Exception as exc:
                log.error("could not report an MCP problem", exc_info=exc)

    def _stderr_file(self, spec: McpServerSpec) -> TextIO:
        if self._stderr_dir is None:
            return cast(TextIO, tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace"))
        self._stderr_dir.mkdir(parents=True, exist_ok=True)
        path = self._stderr_dir / f"mcp-{spec.slug}.log"
        return cast(TextIO, path.open("a+", encoding="utf-8", errors="replace"))

    @staticmethod
    def _last_stderr_line(state: McpServerState) -> str:
        handle = state.stderr
        if handle is None:
            return ""
        try:
            handle.flush()
            handle.seek(0)
            lines = [line.strip() for line in handle.read()[-4000:].splitlines()]
        except (OSError, ValueError):
            return ""
        finally:
            with contextlib.suppress(OSError, ValueError):
                handle.seek(0, 2)
        said = [line for line in lines if line]
        return said[-1][:200] if said else ""


async def _quietly_cleanup(client: Any, name: str) -> None:
    try:
        await client.cleanup()
    except Exception as exc:
        log.info("MCP server %s did not close cleanly", name, exc_info=exc)


def _reason(exc: BaseException) -> str:
    """The innermost message of an exception (task groups nest the real one)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(text)[:200]


def _mcp_error_class() -> type[Exception]:
    from mcp.shared.exceptions import MCPError

    return MCPError


_STDIO: list[type[Any]] = []


def _stdio_class() -> type[Any]:
    """``MCPServerStdio`` whose child writes stderr to Hark's file instead of the terminal."""
    if not _STDIO:
        from agents.mcp import MCPServerStdio
        from mcp.client.stdio import stdio_client

        class QuietStdioServer(MCPServerStdio):
            def __init__(self, *args: Any, errlog: TextIO, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self._errlog = errlog

            def create_streams(self) -> Any:
                return stdio_client(self.params, errlog=self._errlog)

        _STDIO.append(QuietStdioServer)
    return _STDIO[0]
