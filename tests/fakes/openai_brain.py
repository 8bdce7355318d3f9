"""The scripted "model": what the fake OpenAI server answers, decided from the request.

All three APIs (Responses, Chat Completions, Realtime) are normalised into one `ModelRequest`, so
a test scripts the assistant once and can drive any path of the app with it. A brain is any
callable `(ModelRequest) -> Reply`; `RuleBrain` is the usual one: regex rules that call tools,
an answer built from the last tool output, and a default echo.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

ApiKind: TypeAlias = Literal["responses", "chat", "realtime"]
ItemKind: TypeAlias = Literal["message", "tool_call", "tool_output", "other"]

HANDOFF_PREFIX = "transfer_to_"


@dataclass(frozen=True)
class InputItem:
    """One item of the conversation the client sent, in a shape common to all three APIs."""

    kind: ItemKind
    role: str = ""
    text: str = ""
    name: str = ""
    call_id: str = ""

    @property
    def is_handoff(self) -> bool:
        """openai-agents names handoff tools `transfer_to_<agent>`; they are not real tools."""
        return self.name.startswith(HANDOFF_PREFIX)


@dataclass(frozen=True)
class ModelRequest:
    """What the model was asked: enough for a brain to decide, whichever API carried it."""

    api: ApiKind
    model: str
    instructions: str
    items: tuple[InputItem, ...]
    tool_names: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def messages(self) -> list[tuple[str, str]]:
        """(role, text) of every user/assistant/system message, in order."""
        return [(item.role, item.text) for item in self.items if item.kind == "message"]

    @property
    def tool_outputs(self) -> list[tuple[str, str]]:
        """(tool name, output text) of every tool result present in the input, in order."""
        return [(item.name, item.text) for item in self.items if item.kind == "tool_output"]

    @property
    def last_item_kind(self) -> str:
        """user/assistant/system for a message, else tool_call, tool_output, other or none."""
        if not self.items:
            return "none"
        last = self.items[-1]
        return last.role if last.kind == "message" else last.kind

    @property
    def latest_user_index(self) -> int:
        """Index in `items` of the latest user message, or -1 when there is none."""
        for index in range(len(self.items) - 1, -1, -1):
            item = self.items[index]
            if item.kind == "message" and item.role == "user":
                return index
        return -1

    @property
    def latest_user_text(self) -> str:
        index = self.latest_user_index
        return self.items[index].text if index >= 0 else ""

    def items_since_latest_user(self) -> tuple[InputItem, ...]:
        """The current turn: everything after the latest user message."""
        return self.items[self.latest_user_index + 1 :]

    def trailing_tool_outputs(self) -> list[InputItem]:
        """The tool outputs that end the input (parallel calls end with several)."""
        outputs: list[InputItem] = []
        for item in reversed(self.items):
            if item.kind != "tool_output":
                break
            outputs.insert(0, item)
        return outputs


@dataclass(frozen=True)
class Text:
    """An assistant message. `audio` (PCM16 24 kHz mono) voices it on Realtime instead of a tone."""

    text: str
    audio: bytes | None = None


@dataclass(frozen=True)
class ToolCall:
    """A function call; several in one reply are parallel tool calls."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    @property
    def arguments_json(self) -> str:
        return json.dumps(dict(self.arguments))


Step: TypeAlias = Text | ToolCall


@dataclass(frozen=True)
class Reply:
    """The model's answer to one request. Token counts default to a length-based estimate."""

    steps: Sequence[Step]
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def text(self) -> str:
        return "".join(step.text for step in self.steps if isinstance(step, Text))

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [step for step in self.steps if isinstance(step, ToolCall)]


Brain: TypeAlias = Callable[[ModelRequest], Reply]
ArgumentsSpec: TypeAlias = Mapping[str, Any] | Callable[[re.Match[str]], Mapping[str, Any]]


@dataclass(frozen=True)
class Rule:
    """Call `tool` when the latest user message matches `pattern` (case-insensitive search)."""

    pattern: str
    tool: str
    arguments: ArgumentsSpec = field(default_factory=dict)

    def match(self, user_text: str) -> re.Match[str] | None:
        return re.search(self.pattern, user_text, flags=re.IGNORECASE)

    def arguments_for(self, match: re.Match[str]) -> dict[str, Any]:
        spec = self.arguments
        return dict(spec(match) if callable(spec) else spec)


def estimate_tokens(text: str) -> int:
    """About four characters a token: enough for usage figures to be plausible and non-zero."""
    return max(1, (len(text) + 3) // 4)


class RuleBrain:
    """Tool-calling assistant scripted by rules.

    Per request: if the input ends with outputs of real tools, answer from them (`answer`
    template, fields `output`, `outputs`, `tool`, `user_text`). Otherwise call the tool of the
    first rule that matches the latest user message, is offered in this request and has no
    output yet in this turn. Otherwise give the default answer. Handoff outputs
    (`transfer_to_*`) are not answers: the next agent keeps applying the rules, so a
    `transfer_to_weather` rule plus a `get_weather` rule drive handoff, tool call, answer.
    """

    def __init__(
        self,
        rules: Sequence[Rule] = (),
        *,
        default: str | Brain = "You said: {user_text}",
        answer: str = "Here is what I found: {output}",
    ) -> None:
        self.rules = list(rules)
        self.default = default
        self.answer = answer

    def __call__(self, request: ModelRequest) -> Reply:
        finished = [item for item in request.trailing_tool_outputs() if not item.is_handoff]
        if finished:
            return self._answer_from(finished, request)
        call = self._next_tool_call(request)
        if call is not None:
            return Reply([call])
        if callable(self.default):
            return self.default(request)
        return Reply([Text(self.default.format(user_text=request.latest_user_text))])

    def _answer_from(self, outputs: list[InputItem], request: ModelRequest) -> Reply:
        text = self.answer.format(
            output=outputs[-1].text,
            outputs="; ".join(item.text for item in outputs),
            tool=outputs[-1].name,
            user_text=request.latest_user_text,
        )
        return Reply([Text(text)])

    def _next_tool_call(self, request: ModelRequest) -> ToolCall | None:
        user_text = request.latest_user_text
        answered = {
            item.name for item in request.items_since_latest_user() if item.kind == "tool_output"
        }
        for rule in self.rules:
            if rule.tool not in request.tool_names or rule.tool in answered:
                continue
            match = rule.match(user_text)
            if match is not None:
                return ToolCall(rule.tool, rule.arguments_for(match))
        return None


def echo_brain(request: ModelRequest) -> Reply:
    """The default brain: no tools, repeats what the user said."""
    return Reply([Text(f"You said: {request.latest_user_text}")])


# ---------------------------------------------------------------------------------------------
# Normalising each API's request body into InputItems
# ---------------------------------------------------------------------------------------------


def content_text(content: object) -> str:
    """Text of a message content: a string, or a list of text/audio-transcript parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, Mapping):
                value = part.get("text", part.get("transcript", part.get("refusal")))
                if isinstance(value, str):
                    pieces.append(value)
        return "".join(pieces)
    return str(content)


def _message_role(role: object) -> str:
    return "system" if role == "developer" else str(role or "user")


def _resolve_call_names(items: list[InputItem]) -> tuple[InputItem, ...]:
    """Tool outputs carry only a call id: name them after the call they answer."""
    names = {item.call_id: item.name for item in items if item.kind == "tool_call"}
    resolved = [
        InputItem(item.kind, item.role, item.text, names.get(item.call_id, ""), item.call_id)
        if item.kind == "tool_output" and not item.name
        else item
        for item in items
    ]
    return tuple(resolved)


def responses_items(body: Mapping[str, Any]) -> tuple[InputItem, ...]:
    """Items of a Responses API `input` (a string or a list of input items)."""
    raw_input = body.get("input", [])
    if isinstance(raw_input, str):
        return (InputItem("message", "user", raw_input),)
    items: list[InputItem] = []
    for entry in raw_input or []:
        kind = entry.get("type") or ("message" if "role" in entry else "unknown")
        if kind == "message":
            role = _message_role(entry.get("role"))
            items.append(InputItem("message", role, content_text(entry.get("content"))))
        elif kind == "function_call":
            items.append(
                InputItem(
                    "tool_call",
                    text=str(entry.get("arguments", "")),
                    name=str(entry.get("name", "")),
                    call_id=str(entry.get("call_id", "")),
                )
            )
        elif kind == "function_call_output":
            text = content_text(entry.get("output", ""))
            call_id = str(entry.get("call_id", ""))
            items.append(InputItem("tool_output", text=text, call_id=call_id))
        else:
            items.append(InputItem("other", name=str(kind)))
    return _resolve_call_names(items)


def chat_items(body: Mapping[str, Any]) -> tuple[InputItem, ...]:
    """Items of a Chat Completions `messages` list (system messages stay in the items)."""
    items: list[InputItem] = []
    for message in body.get("messages", []):
        role = message.get("role")
        if role == "tool":
            text = content_text(message.get("content"))
            call_id = str(message.get("tool_call_id", ""))
            items.append(InputItem("tool_output", text=text, call_id=call_id))
            continue
        text = content_text(message.get("content"))
        if text or not message.get("tool_calls"):
            items.append(InputItem("message", _message_role(role), text))
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            items.append(
                InputItem(
                    "tool_call",
                    text=str(function.get("arguments", "")),
                    name=str(function.get("name", "")),
                    call_id=str(call.get("id", "")),
                )
            )
    return _resolve_call_names(items)


def realtime_items(conversation: Sequence[Mapping[str, Any]]) -> tuple[InputItem, ...]:
    """Items of a Realtime conversation as the server holds it."""
    items: list[InputItem] = []
    for entry in conversation:
        kind = entry.get("type")
        if kind == "message":
            role = _message_role(entry.get("role"))
            items.append(InputItem("message", role, content_text(entry.get("content"))))
        elif kind == "function_call":
            items.append(
                InputItem(
                    "tool_call",
                    text=str(entry.get("arguments", "")),
                    name=str(entry.get("name", "")),
                    call_id=str(entry.get("call_id", "")),
                )
            )
        elif kind == "function_call_output":
            text = str(entry.get("output", ""))
            call_id = str(entry.get("call_id", ""))
            items.append(InputItem("tool_output", text=text, call_id=call_id))
        else:
            items.append(InputItem("other", name=str(kind)))
    return _resolve_call_names(items)


def tool_names(tools: object) -> tuple[str, ...]:
    """Function tool names, from any API's `tools` list (chat nests them under `function`)."""
    names: list[str] = []
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, Mapping):
            continue
        name = tool.get("name") or (tool.get("function") or {}).get("name")
        if name:
            names.append(str(name))
    return tuple(names)


def chat_instructions(body: Mapping[str, Any]) -> str:
    """Chat has no `instructions`: the system/developer messages are them."""
    return "\n".join(
        content_text(message.get("content"))
        for message in body.get("messages", [])
        if message.get("role") in ("system", "developer")
    )


def responses_request(body: Mapping[str, Any]) -> ModelRequest:
    instructions = body.get("instructions")
    return ModelRequest(
        api="responses",
        model=str(body.get("model", "")),
        instructions=instructions if isinstance(instructions, str) else "",
        items=responses_items(body),
        tool_names=tool_names(body.get("tools")),
        raw=body,
    )


def chat_request(body: Mapping[str, Any]) -> ModelRequest:
    return ModelRequest(
        api="chat",
        model=str(body.get("model", "")),
        instructions=chat_instructions(body),
        items=chat_items(body),
        tool_names=tool_names(body.get("tools")),
        raw=body,
    )
