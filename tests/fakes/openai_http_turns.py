"""A scripted `Reply` rendered as OpenAI's HTTP APIs render a model turn.

`ResponsesTurn` gives the Responses API's stream of events (created, in_progress, per output
item: added, content part / argument deltas, done; then completed with the whole response and
its usage) and the non-streaming response object. `ChatTurn` gives Chat Completions chunks and
the non-streaming completion. They only build dicts: pacing, holds and validation are the
server's job, so these stay pure and easy to read against OpenAI's examples.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.openai_brain import ModelRequest, Reply, Text, ToolCall, estimate_tokens


@dataclass(frozen=True)
class Emit:
    """One payload to send; `is_delta` marks the incremental ones (paced and counted for holds)."""

    payload: dict[str, Any]
    is_delta: bool = False


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def text_chunks(text: str, size: int) -> list[str]:
    """`text` cut into pieces of `size` characters (at least one piece when text is non-empty)."""
    size = max(1, size)
    return [text[start : start + size] for start in range(0, len(text), size)]


@dataclass(frozen=True)
class TokenCounts:
    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def of(cls, request: ModelRequest, reply: Reply) -> TokenCounts:
        """The reply's own counts, else an estimate from the lengths of what went in and out."""
        prompt = request.instructions + "".join(item.text for item in request.items)
        produced = reply.text + "".join(call.arguments_json for call in reply.tool_calls)
        return cls(
            input_tokens=reply.input_tokens
            if reply.input_tokens is not None
            else estimate_tokens(prompt),
            output_tokens=reply.output_tokens
            if reply.output_tokens is not None
            else estimate_tokens(produced),
        )


def _response_tools(tools: object) -> list[Any]:
    """Tools as the server echoes them: function tools normalised, others passed through."""
    echoed: list[Any] = []
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, Mapping) and tool.get("type") == "function":
            echoed.append(
                {
                    "type": "function",
                    "name": tool.get("name"),
                    "description": tool.get("description"),
                    "parameters": tool.get("parameters"),
                    "strict": tool.get("strict", True),
                }
            )
        else:
            echoed.append(tool)
    return echoed


def _or_default(body: Mapping[str, Any], key: str, default: Any) -> Any:
    value = body.get(key)
    return default if value is None else value


class ResponsesTurn:
    """One Responses API model turn for a scripted reply."""

    def __init__(
        self, request: ModelRequest, reply: Reply, tokens: TokenCounts, *, chunk_size: int
    ) -> None:
        self.request = request
        self.reply = reply
        self.tokens = tokens
        self.chunk_size = chunk_size
        self.response_id = new_id("resp")
        self.created_at = int(time.time())
        self._sequence = 0
        self._output: list[dict[str, Any]] = [self._final_item(step) for step in reply.steps]

    # -- the final shapes -----------------------------------------------------------------

    def _final_item(self, step: Text | ToolCall) -> dict[str, Any]:
        if isinstance(step, Text):
            return {
                "id": new_id("msg"),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [self._text_part(step.text)],
            }
        return {
            "id": new_id("fc"),
            "type": "function_call",
            "status": "completed",
            "arguments": step.arguments_json,
            "call_id": new_id("call"),
            "name": step.name,
        }

    @staticmethod
    def _text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def response(self, status: str = "completed") -> dict[str, Any]:
        """The response object; `output` and `usage` are filled only once it is complete."""
        body = self.request.raw
        done = status == "completed"
        return {
            "id": self.response_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "completed_at": int(time.time()) if done else None,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": body.get("max_tool_calls"),
            "model": self.request.model,
            "output": list(self._output) if done else [],
            "parallel_tool_calls": _or_default(body, "parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "service_tier": "default",
            "temperature": _or_default(body, "temperature", 1.0),
            "text": _or_default(body, "text", {"format": {"type": "text"}}),
            "tool_choice": _or_default(body, "tool_choice", "auto"),
            "tools": _response_tools(body.get("tools")),
            "top_p": _or_default(body, "top_p", 1.0),
            "truncation": _or_default(body, "truncation", "disabled"),
            "usage": self._usage() if done else None,
            "user": body.get("user"),
            "metadata": _or_default(body, "metadata", {}),
        }

    def _usage(self) -> dict[str, Any]:
        return {
            "input_tokens": self.tokens.input_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": self.tokens.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": self.tokens.total_tokens,
        }

    # -- the stream -----------------------------------------------------------------------

    def _event(self, event_type: str, **fields: Any) -> dict[str, Any]:
        event = {"type": event_type, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def stream(self) -> Iterator[Emit]:
        yield Emit(self._event("response.created", response=self.response("in_progress")))
        yield Emit(self._event("response.in_progress", response=self.response("in_progress")))
        for index, item in enumerate(self._output):
            if item["type"] == "message":
                yield from self._message_events(index, item)
            else:
                yield from self._function_call_events(index, item)
        yield Emit(self._event("response.completed", response=self.response("completed")))

    def _message_events(self, index: int, item: dict[str, Any]) -> Iterator[Emit]:
        item_id = item["id"]
        text = item["content"][0]["text"]
        opened = {**item, "status": "in_progress", "content": []}
        where = {"item_id": item_id, "output_index": index, "content_index": 0}
        yield Emit(self._event("response.output_item.added", output_index=index, item=opened))
        yield Emit(self._event("response.content_part.added", **where, part=self._text_part("")))
        for piece in text_chunks(text, self.chunk_size):
            yield Emit(
                self._event("response.output_text.delta", **where, delta=piece, logprobs=[]),
                is_delta=True,
            )
        yield Emit(self._event("response.output_text.done", **where, text=text, logprobs=[]))
        yield Emit(self._event("response.content_part.done", **where, part=self._text_part(text)))
        yield Emit(self._event("response.output_item.done", output_index=index, item=item))

    def _function_call_events(self, index: int, item: dict[str, Any]) -> Iterator[Emit]:
        opened = {**item, "status": "in_progress", "arguments": ""}
        where = {"item_id": item["id"], "output_index": index}
        yield Emit(self._event("response.output_item.added", output_index=index, item=opened))
        for piece in text_chunks(item["arguments"], self.chunk_size):
            yield Emit(
                self._event("response.function_call_arguments.delta", **where, delta=piece),
                is_delta=True,
            )
        yield Emit(
            self._event(
                "response.function_call_arguments.done", **where, arguments=item["arguments"]
            )
        )
        yield Emit(self._event("response.output_item.done", output_index=index, item=item))


class ChatTurn:
    """One Chat Completions model turn for a scripted reply."""

    def __init__(
        self, request: ModelRequest, reply: Reply, tokens: TokenCounts, *, chunk_size: int
    ) -> None:
        self.request = request
        self.reply = reply
        self.tokens = tokens
        self.chunk_size = chunk_size
        self.completion_id = new_id("chatcmpl")
        self.created = int(time.time())
        self.calls = [(new_id("call"), call) for call in reply.tool_calls]

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.calls else "stop"

    def _usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.tokens.input_tokens,
            "completion_tokens": self.tokens.output_tokens,
            "total_tokens": self.tokens.total_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def completion(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.reply.text or None,
            "refusal": None,
            "annotations": [],
        }
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for call_id, call in self.calls
            ]
        return {
            "id": self.completion_id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.request.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self.finish_reason,
                }
            ],
            "usage": self._usage(),
            "service_tier": "default",
            "system_fingerprint": None,
        }

    def _chunk(
        self, delta: dict[str, Any], finish_reason: str | None = None, *, include_usage: bool
    ) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.request.model,
            "service_tier": "default",
            "system_fingerprint": None,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            chunk["usage"] = None
        return chunk

    def stream(self, *, include_usage: bool) -> Iterator[Emit]:
        """Chunks as OpenAI sends them; the caller appends `data: [DONE]`."""
        usage = include_usage
        first = {"role": "assistant", "content": "", "refusal": None}
        yield Emit(self._chunk(first, include_usage=usage))
        for piece in text_chunks(self.reply.text, self.chunk_size):
            yield Emit(self._chunk({"content": piece}, include_usage=usage), is_delta=True)
        for index, (call_id, call) in enumerate(self.calls):
            opening = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            yield Emit(self._chunk({"tool_calls": [opening]}, include_usage=usage))
            for piece in text_chunks(call.arguments_json, self.chunk_size):
                fragment = {"index": index, "function": {"arguments": piece}}
                yield Emit(self._chunk({"tool_calls": [fragment]}, include_usage=usage), True)
        yield Emit(self._chunk({}, self.finish_reason, include_usage=usage))
        if include_usage:
            final = self._chunk({}, include_usage=True)
            final["choices"] = []
            final["usage"] = self._usage()
            yield Emit(final)
