"""An OpenAI client that prepares an unchanged tool list once instead of on every request.

Why: before each request the ``openai`` SDK walks the whole body against its typed-dict
annotations, key by key and schema node by schema node, to apply aliases and formats. Hark's
tool lists never need either, and they are the same on every turn, yet the walk is paid each
time: 8 ms for the orchestrator's 31 tool schemas on this machine, a third of the time to the
first character against a local server, and again on every follow-up call within a turn.

So the SDK's own transform runs once per distinct tool list; its result is kept and sent
through ``extra_body``, which the SDK merges into the JSON body as it is. The server receives
the same JSON object (only the position of the ``tools`` key changes). Anything that cannot
be keyed (a tool list that is not plain JSON) or a caller that sets ``tools`` in ``extra_body``
itself takes the SDK's usual path.

Imported lazily by ``openai_client`` (this module imports the ``openai`` SDK).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from functools import cached_property
from typing import Any

from openai import AsyncOpenAI
from openai._utils import async_maybe_transform
from openai.resources.chat import AsyncChat
from openai.resources.chat.completions import AsyncCompletions
from openai.resources.responses import AsyncResponses
from openai.types.chat import completion_create_params
from openai.types.responses import response_create_params

CACHED_LISTS = 64
"""Distinct tool lists kept: the root agent, every specialist, and room for MCP changes."""


class PreparedTools:
    """The SDK's transform of each distinct tool list, least recently used dropped first."""

    def __init__(self, params_type: Any, capacity: int = CACHED_LISTS) -> None:
        self._params_type = params_type
        self._capacity = capacity
        self._lists: OrderedDict[str, list[Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lists)

    async def apply(self, params: dict[str, Any]) -> dict[str, Any]:
        """``params`` with its tool list moved, already transformed, into ``extra_body``."""
        tools = params.get("tools")
        extra = params.get("extra_body")
        if not isinstance(tools, list) or not tools:
            return params
        if extra is not None and (not isinstance(extra, dict) or "tools" in extra):
            return params
        try:
            key = json.dumps(tools, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            return params  # not plain JSON: let the SDK transform it as usual
        prepared = self._lists.get(key)
        if prepared is None:
            body = await async_maybe_transform({"tools": tools}, self._params_type)
            if not isinstance(body, dict) or not isinstance(body.get("tools"), list):
                return params
            prepared = body["tools"]
            self._lists[key] = prepared
            if len(self._lists) > self._capacity:
                self._lists.popitem(last=False)
        else:
            self._lists.move_to_end(key)
        rest = {name: value for name, value in params.items() if name != "tools"}
        rest["extra_body"] = {**(extra or {}), "tools": prepared}
        return rest


class _PreparesTools:
    """Mixed into an SDK resource before it: its ``create`` sends prepared tool lists."""

    params_type: Any

    @cached_property
    def prepared_tools(self) -> PreparedTools:
        return PreparedTools(self.params_type)

    async def create(self, **params: Any) -> Any:
        return await super().create(**await self.prepared_tools.apply(params))  # type: ignore[misc]


class PreparedToolsResponses(_PreparesTools, AsyncResponses):
    """``responses.create`` (and so ``with_streaming_response.create``) with prepared tools."""

    params_type = response_create_params.ResponseCreateParamsStreaming


class PreparedToolsCompletions(_PreparesTools, AsyncCompletions):
    """``chat.completions.create`` with prepared tools, for chat-completions backends."""

    params_type = completion_create_params.CompletionCreateParamsStreaming


class PreparedToolsChat(AsyncChat):
    @cached_property
    def completions(self) -> AsyncCompletions:
        return PreparedToolsCompletions(self._client)


class PreparedToolsOpenAI(AsyncOpenAI):
    """``AsyncOpenAI`` whose Responses and chat-completions calls reuse prepared tool lists."""

    @cached_property
    def responses(self) -> AsyncResponses:
        return PreparedToolsResponses(self)

    @cached_property
    def chat(self) -> AsyncChat:
        return PreparedToolsChat(self)
