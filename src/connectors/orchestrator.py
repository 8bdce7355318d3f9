"""The orchestrator: a root agent that routes each request to the right specialist.

Every connector becomes a specialist agent (its own instructions and tools); the root agent
hands a request to one of them by handoff, following the H.A.N.D.O.F.F. routing checklist in
its instructions. Specialists can hand back to the root when a request spans several
domains. Requests nobody can serve are noted through a tool so the user can review them.
The user's MCP servers (``mcp_hub``) join as one specialist each, under the same approval rule.

Every tool runs through one wrapper, on the text path (agents SDK) and the voice path
(``run_tool``) alike: side effects wait for the user's approval, reads are retried on passing
failures (``tool_policy``), and nothing runs past the tool timeout. Specialists may ask for
several tools in one reply; those run concurrently.

The agents SDK is imported only when the agents are first built (see ``root_agent``).
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import string
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from src.connectors.base import (
    Connector,
    ConnectorContext,
    ConnectorError,
    ToolDef,
    ToolFunction,
    render_progress,
)
from src.connectors.tool_policy import RetryPolicy, with_retries, within
from src.domain.history import ToolCall
from src.services.text_runner import TOOL_ERROR_PREFIX, UNHANDLED_TOOL

if TYPE_CHECKING:
    from src.connectors.mcp_hub import McpHub, McpServerState, McpTool

log = logging.getLogger(__name__)

ROOT_NAME = "orchestrator"
DECLINED = "The user did not approve this action, so nothing was done."
MAX_FOLLOWUPS = 3

HANDOFF_FRAMEWORK = """\
Route every request with the H.A.N.D.O.F.F. checklist before you answer:
- Has capability: which specialist's description covers this request? Prefer the narrowest fit.
- Access: does that specialist need an account the user has not connected? If so, say how to
  connect it instead of guessing.
- Need: does the request need live or personal data at all? Chit-chat, general knowledge and
  follow-ups on what was already said can be answered directly, without a handoff.
- Delay and cost: choose the route with the fewest calls; do not hand off twice for one fact.
- Output quality: pick the specialist whose data will make the most accurate answer.
- Failure fallback: if a specialist reports an error, relay it in plain words and offer an
  alternative; if no specialist can serve the request, call note_unhandled_request once with a
  short reason, then tell the user honestly what you cannot do yet.
- Fusion: when a request spans several domains, gather each part from its specialist and
  combine the results into one answer."""

ROOT_INSTRUCTIONS = """\
You are Hark, a voice-first assistant running on the user's own laptop. Answers are often
spoken aloud: keep them short, plain and conversational; no tables, no markdown headings, no
URLs read out unless asked. Never invent live data (weather, times, prices, page contents):
get it from a specialist.

{framework}

Specialists you can hand off to:
{roster}
"""

VOICE_INSTRUCTIONS = """\
You are Hark, a voice assistant running on the user's own laptop, talking out loud. Speak
naturally and briefly: one to three sentences unless asked for more; no lists, no markdown,
no URLs read out. Never invent live data (weather, times, prices, page contents): call a tool.
Before any tool that may take more than a moment, say a short filler first ("Let me check.")
so the user never sits in silence. If a tool's answer starts with "[tool error]", explain the
problem plainly without the marker. Actions that send, post, buy, create or delete are
confirmed by Hark with the user before they run; if the user declines, say nothing was done.
If the user interrupts you, stop and listen. If nothing can serve a request, say so honestly.

What you can do with your tools:
{areas}
"""

SPECIALIST_SUFFIX = """

You are one of Hark's specialists. Use your tools for live data and answer in one to three
short spoken-style sentences. If a tool returns a sentence starting with "[tool error]", relay
the problem plainly without the marker. If the request needs another specialist, hand back to
the orchestrator."""


class Approver(Protocol):
    """Asks the user before a side-effecting tool runs (``src.services.approvals``)."""

    async def request(self, tool: str, agent: str, readback: str, arguments: str) -> bool: ...


class Orchestrator:
    """Builds the agent graph from connectors and answers the runner's questions about tools."""

    def __init__(
        self,
        connectors: Sequence[Connector],
        context: ConnectorContext,
        *,
        tool_timeout: float = 20.0,
        approver: Approver | None = None,
        retry: RetryPolicy | None = None,
        mcp: McpHub | None = None,
    ) -> None:
        self.connectors = list(connectors)
        self._context = context
        self._tool_timeout = tool_timeout
        self._approver = approver
        self._retry = retry or RetryPolicy()
        self._mcp = mcp
        self._tooldefs: dict[str, tuple[Connector, ToolDef]] = {}
        self._runnable: dict[str, ToolFunction] = {}
        for connector in self.connectors:
            for tool in connector.build_tools(context):
                if tool.name in self._tooldefs:
                    raise ValueError(f"tool name {tool.name!r} is used by two connectors")
                self._tooldefs[tool.name] = (connector, tool)
                self._runnable[tool.name] = self._wrapped(connector, tool)
        self._root: Any = None
        self._specialists: dict[str, Any] = {}

    def tool_names(self) -> list[str]:
        return sorted([*self._tooldefs, *self._mcp_tools()])

    def progress(self, tool: str, arguments: Mapping[str, Any]) -> str:
        if tool.startswith("transfer_to_mcp_"):
            return f"Asking the {tool.removeprefix('transfer_to_mcp_')} MCP server..."
        if tool.startswith("transfer_to_"):
            return f"Asking the {tool.removeprefix('transfer_to_')} specialist..."
        if tool == UNHANDLED_TOOL:
            return "Noting a request I can't handle yet..."
        mcp_tool = self._mcp_tools().get(tool)
        if mcp_tool is not None:
            return f"Running {mcp_tool.name} on {mcp_tool.server}..."
        entry = self._tooldefs.get(tool)
        if entry is None:
            return f"Running {tool}..."
        return render_progress(entry[1].progress, arguments)

    def followups(self, calls: Sequence[ToolCall]) -> list[str]:
        """Suggested next prompts, from the templates of the connectors used in the turn.

        A template is used only when every argument it names was given and not empty.
        """
        out: list[str] = []
        for call in calls:
            entry = self._tooldefs.get(call.name)
            if entry is None or not call.ok:
                continue
            try:
                args = json.loads(call.arguments) if call.arguments else {}
            except json.JSONDecodeError:
                args = {}
            if not isinstance(args, dict):
                args = {}
            for template in entry[0].followups:
                needed = [name for _, name, _, _ in string.Formatter().parse(template) if name]
                if not all(str(args.get(name, "")).strip() for name in needed):
                    continue
                text = render_progress(template, args)
                if text not in out:
                    out.append(text)
        return out[:MAX_FOLLOWUPS]

    def tool_schemas(self) -> list[dict[str, Any]]:
        """Every tool as a flat function definition (the Realtime API's format).

        A voice session has no handoffs: the speech model sees all specialists' tools (MCP
        servers' too) at once and calls them directly, so voice and text share one tool code.
        """
        from agents import function_tool

        out = []
        for _connector, tool in self._tooldefs.values():
            wrapped = function_tool(tool.func)
            out.append(
                {
                    "type": "function",
                    "name": wrapped.name,
                    "description": wrapped.description,
                    "parameters": wrapped.params_json_schema,
                }
            )
        for name, mcp_tool in self._mcp_tools().items():
            out.append(
                {
                    "type": "function",
                    "name": name,
                    "description": _mcp_tool_description(mcp_tool),
                    "parameters": mcp_tool.schema(),
                }
            )
        return out

    def tool_catalog(self) -> list[dict[str, Any]]:
        """Every tool with its connector and whether it has side effects (for UIs, the socket)."""
        catalog = [
            {
                "name": tool.name,
                "connector": connector.name,
                "description": (tool.func.__doc__ or "").strip().split("\n")[0],
                "side_effect": tool.side_effect,
            }
            for connector, tool in self._tooldefs.values()
        ]
        catalog.extend(
            {
                "name": name,
                "connector": f"mcp_{tool.server_slug}",
                "description": tool.description.split("\n")[0],
                "side_effect": tool.needs_approval,
            }
            for name, tool in self._mcp_tools().items()
        )
        return catalog

    def connection_catalog(self) -> list[dict[str, Any]]:
        """Each connector, the secrets it needs, and whether they are all stored.

        MCP servers are listed too: "connected" means the server is running.
        """
        secrets = self._context.secrets
        out = []
        for c in self.connectors:
            needs = list(c.requires_secrets)
            if c.oauth is not None:
                # An account signed in by browser: its tokens are the proof of connection.
                needs.append(f"oauth.{c.oauth.provider}")
            missing = [s for s in needs if secrets is None or not secrets.get(s)]
            out.append(
                {
                    "name": c.name,
                    "title": c.title,
                    "requires": (
                        [*c.requires_secrets, f"{c.oauth.provider} account"]
                        if c.oauth is not None
                        else list(c.requires_secrets)
                    ),
                    "connected": not missing,
                }
            )
        for state in self._mcp.servers() if self._mcp is not None else []:
            out.append(
                {
                    "name": state.agent_name,
                    "title": f"{state.spec.name} (MCP server)",
                    "requires": [],
                    "connected": state.status == "running",
                }
            )
        return out

    def side_effect(self, tool: str) -> bool:
        mcp_tool = self._mcp_tools().get(tool)
        if mcp_tool is not None:
            return mcp_tool.needs_approval
        entry = self._tooldefs.get(tool)
        return bool(entry and entry[1].side_effect)

    async def run_tool(self, tool: str, arguments: str) -> tuple[bool, str]:
        """Run one tool by name with JSON arguments; never raises for tool or argument faults.

        Returns ``(ok, output)`` where a failed output is a sentence for the model to relay.
        The same wrapper as the text path: approval, retries and the timeout all apply.
        """
        mcp_tool = self._mcp_tools().get(tool)
        if mcp_tool is not None:
            return await self._run_mcp(mcp_tool, arguments)
        entry = self._tooldefs.get(tool)
        if entry is None:
            return False, f"{TOOL_ERROR_PREFIX} There is no tool called {tool}."
        args = _parse_arguments(tool, arguments)
        if isinstance(args, str):
            return False, args
        try:
            inspect.signature(entry[1].func).bind(**args)
        except TypeError:
            log.warning("tool %s called with unexpected arguments", tool)
            return False, f"{TOOL_ERROR_PREFIX} {tool} was called with the wrong arguments."
        try:
            return True, await self._runnable[tool](**args)
        except ConnectorError as exc:
            return False, f"{TOOL_ERROR_PREFIX} {exc.message}"
        except TypeError:
            log.warning("tool %s called with unexpected arguments", tool)
            return False, f"{TOOL_ERROR_PREFIX} {tool} was called with the wrong arguments."
        except Exception as exc:
            log.error("tool %s failed unexpectedly", tool, exc_info=exc)
            return False, f"{TOOL_ERROR_PREFIX} {tool} failed unexpectedly."

    def _wrapped(self, connector: Connector, tool: ToolDef) -> ToolFunction:
        """The tool's function as Hark runs it, on the text and the voice path alike.

        A side-effecting tool first waits for the user's approval (the wait is not bound by
        the timeout; without an approver it never runs) and is never retried. A read is
        retried on retryable failures. Either way the work itself is bound by the tool
        timeout. ``functools.wraps`` keeps signature and docstring, so the agents SDK derives
        the same schema.
        """
        func = tool.func
        signature = inspect.signature(func)

        @functools.wraps(func)
        async def wrapped(*args: Any, **kwargs: Any) -> str:
            if not tool.side_effect:
                return await within(
                    self._tool_timeout,
                    tool.name,
                    with_retries(tool.name, lambda: func(*args, **kwargs), self._retry),
                )
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            template = tool.readback or f"Run {tool.name} with {{arguments}}"
            readback = render_progress(template, {**arguments, "arguments": arguments})
            refusal = await self._ask(tool.name, connector.name, readback, arguments)
            if refusal is not None:
                return refusal
            return await within(self._tool_timeout, tool.name, func(*args, **kwargs))

        return wrapped

    async def _ask(
        self, tool: str, agent: str, readback: str, arguments: Mapping[str, Any]
    ) -> str | None:
        """None when the user approved; otherwise the sentence the model gets instead."""
        if self._approver is None:
            return (
                f"{TOOL_ERROR_PREFIX} {tool} needs the user's approval, "
                "and there is no way to ask for it here."
            )
        approved = await self._approver.request(
            tool, agent, readback, json.dumps(dict(arguments), ensure_ascii=False)
        )
        return None if approved else DECLINED

    # ---- MCP servers ----------------------------------------------------------------------

    def _mcp_tools(self) -> dict[str, McpTool]:
        """The running MCP servers' tools; names that clash with a connector's are left out."""
        if self._mcp is None:
            return {}
        return {n: t for n, t in self._mcp.tools().items() if n not in self._tooldefs}

    def _mcp_servers(self) -> list[McpServerState]:
        return self._mcp.running() if self._mcp is not None else []

    async def _run_mcp(self, tool: McpTool, arguments: str) -> tuple[bool, str]:
        """An MCP tool call: approval by the server's hints, then the call within the timeout.

        MCP tools are not retried: their hints do not promise that a repeat is harmless.
        """
        assert self._mcp is not None
        args = _parse_arguments(tool.qualified, arguments)
        if isinstance(args, str):
            return False, args
        if tool.needs_approval:
            refusal = await self._ask(
                tool.qualified, f"mcp_{tool.server_slug}", tool.readback(args), args
            )
            if refusal is not None:
                return True, refusal
        try:
            return True, await within(self._tool_timeout, tool.name, self._mcp.call(tool, args))
        except ConnectorError as exc:
            return False, f"{TOOL_ERROR_PREFIX} {exc.message}"

    def _mcp_function_tool(self, tool: McpTool) -> Any:
        """An MCP tool for the agents SDK, invoked through ``_run_mcp`` like the voice path."""
        from agents import FunctionTool

        async def invoke(_context: Any, arguments: str) -> str:
            return (await self._run_mcp(tool, arguments))[1]

        return FunctionTool(
            name=tool.qualified,
            description=_mcp_tool_description(tool),
            params_json_schema=tool.schema(),
            on_invoke_tool=invoke,
            strict_json_schema=False,
        )

    # ---- instructions and the agent graph -------------------------------------------------

    def _roster(self) -> list[tuple[str, str, str]]:
        """(agent name, title, description) of every specialist, connectors then MCP servers."""
        roster = [(c.name, c.title, c.description) for c in self.connectors]
        roster.extend(
            (s.agent_name, f"{s.spec.name} (MCP server)", s.description())
            for s in self._mcp_servers()
        )
        return roster

    def voice_instructions(self) -> str:
        """Instructions for a speech-to-speech session: every tool at hand, no handoffs."""
        areas = "\n".join(f"- {title}: {text}" for _name, title, text in self._roster())
        return VOICE_INSTRUCTIONS.format(areas=areas)

    def instructions(self) -> str:
        roster = "\n".join(f"- {name}: {text}" for name, _title, text in self._roster())
        return ROOT_INSTRUCTIONS.format(framework=HANDOFF_FRAMEWORK, roster=roster)

    def root_agent(self) -> Any:
        """The agent graph, built once; start the MCP hub first so its servers are in it."""
        if self._root is None:
            self._root, self._specialists = self._build()
        return self._root

    def specialists(self) -> dict[str, Any]:
        """The specialist agents by name (the root reaches them through opaque handoffs)."""
        self.root_agent()
        return dict(self._specialists)

    def _build(self) -> tuple[Any, dict[str, Any]]:
        from agents import Agent, ModelSettings, Tool, function_tool

        def failure(_ctx: Any, error: Exception) -> str:
            if isinstance(error, ConnectorError):
                return f"{TOOL_ERROR_PREFIX} {error.message}"
            log.error("tool failed unexpectedly: %s", type(error).__name__, exc_info=error)
            return f"{TOOL_ERROR_PREFIX} The tool failed unexpectedly; the details are in the log."

        # Independent reads in one reply (two cities' weather) run at once, not one by one.
        parallel = ModelSettings(parallel_tool_calls=True)
        specialists = []
        for connector in self.connectors:
            tools: list[Tool] = [
                function_tool(self._runnable[tool.name], failure_error_function=failure)
                for c, tool in self._tooldefs.values()
                if c is connector
            ]
            specialists.append(
                Agent(
                    name=connector.name,
                    handoff_description=connector.description,
                    instructions=connector.instructions + SPECIALIST_SUFFIX,
                    tools=tools,
                    model_settings=parallel,
                )
            )
        mcp_tools = self._mcp_tools()
        for state in self._mcp_servers():
            specialists.append(
                Agent(
                    name=state.agent_name,
                    handoff_description=state.description(),
                    instructions=(state.instructions or state.description()) + SPECIALIST_SUFFIX,
                    tools=[
                        self._mcp_function_tool(t)
                        for t in state.tools
                        if mcp_tools.get(t.qualified) is t
                    ],
                    model_settings=parallel,
                )
            )

        async def note_unhandled_request(reason: str) -> str:
            """Record that no specialist can serve the user's request, for later review.

            Args:
                reason: In a few words, what was asked that Hark cannot do yet.
            """
            return "Noted. Tell the user plainly that you cannot do this yet."

        # The root hands off (one specialist at a time), so it keeps the default: no parallel
        # handoffs for the SDK to drop.
        root = Agent(
            name=ROOT_NAME,
            instructions=self.instructions(),
            handoffs=[_opaque_handoff(agent) for agent in specialists],
            tools=[function_tool(note_unhandled_request, name_override=UNHANDLED_TOOL)],
        )
        for agent in specialists:
            agent.handoffs.append(root)
        return root, {agent.name: agent for agent in specialists}


def _opaque_handoff(target: Any) -> Any:
    """A handoff to ``target`` that the agents SDK cannot walk through to the specialist.

    Why: per run, openai-agents builds an identity map of every agent reachable from the root,
    twice, by serialising each agent's instructions, tools and schemas (about 10 ms for thirty
    specialists, a third of the time to the first character). Hark never serialises a run state,
    so nothing needs that map. A ``Handoff`` built from its public fields, without the weak
    reference that ``agents.handoff()`` adds, keeps the same tool name, description and target;
    the graph seen by the SDK is then the root alone.
    """
    from agents import Handoff

    async def invoke(_ctx: Any, _arguments: str) -> Any:
        return target

    return Handoff(
        tool_name=Handoff.default_tool_name(target),
        tool_description=Handoff.default_tool_description(target),
        # What ``agents.handoff()`` sends for a handoff without input: a strict empty object.
        input_json_schema={
            "type": "object",
            "properties": {},
            "required": [],
            "additionalProperties": False,
        },
        on_invoke_handoff=invoke,
        agent_name=target.name,
    )


def _parse_arguments(tool: str, arguments: str) -> dict[str, Any] | str:
    """The JSON object of a call's arguments, or the sentence saying what is wrong with them."""
    try:
        args = json.loads(arguments) if arguments.strip() else {}
    except json.JSONDecodeError:
        return f"{TOOL_ERROR_PREFIX} The arguments for {tool} were not valid JSON."
    if not isinstance(args, dict):
        return f"{TOOL_ERROR_PREFIX} The arguments for {tool} must be an object."
    return args


def _mcp_tool_description(tool: McpTool) -> str:
    """The server's own description, prefixed with where the tool lives (voice sees them all)."""
    where = f"[{tool.server} MCP server]"
    return f"{where} {tool.description}" if tool.description else f"{where} {tool.name}"
