"""One factory for the OpenAI SDK client, so every path honours the same base URL and key.

Responses, chat completions and Realtime all start from the ``AsyncOpenAI`` made here. The
key is resolved by the caller (environment first, then the secrets store) and never logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from src.config.settings import ApiSettings

if TYPE_CHECKING:
    from openai import AsyncOpenAI


def make_openai_client(api: ApiSettings, api_key: str) -> AsyncOpenAI:
    # Same client, but an unchanged tool list is prepared once, not on every request.
    from src.services.tool_list_cache import PreparedToolsOpenAI

    return PreparedToolsOpenAI(
        api_key=api_key,
        base_url=api.base_url,
        timeout=api.timeout_seconds,
        max_retries=api.max_retries,
    )


def realtime_url(api: ApiSettings, model: str) -> str:
    """The WebSocket URL of a Realtime session on the configured server."""
    base = api.base_url or "https://api.openai.com/v1"
    scheme_fixed = "ws" + base[len("http") :] if base.startswith("http") else base
    return f"{scheme_fixed}/realtime?model={model}"
