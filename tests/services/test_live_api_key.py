"""The replaceable OpenAI key: who hears of a new key, what counts as new, where it is read."""

from __future__ import annotations

import threading
from pathlib import Path

from src.config.redaction import REDACTOR, Redactor
from src.services.live_api_key import LiveApiKey
from src.services.secrets import open_secret_store


def test_a_new_key_is_used_redacted_and_announced_once() -> None:
    heard: list[str] = []
    key = LiveApiKey("sk-live-first-0000")
    key.on_change(lambda: heard.append(key.value))
    key.refused = True

    assert key.replace("sk-live-second-1111")
    assert key.value == "sk-live-second-1111" and heard == ["sk-live-second-1111"]
    assert key.refused is False
    assert "sk-live-second-1111" not in REDACTOR.redact("the key sk-live-second-1111 leaked")


def test_the_same_or_an_empty_key_changes_nothing() -> None:
    heard: list[str] = []
    key = LiveApiKey("sk-live-same-2222")
    key.on_change(lambda: heard.append("changed"))
    key.refused = True
    for candidate in ("sk-live-same-2222", "", None):
        assert key.replace(candidate) is False
    assert heard == [] and key.value == "sk-live-same-2222" and key.refused is True


async def test_refresh_reads_the_real_store_off_the_loop_and_takes_a_new_key(
    tmp_path: Path,
) -> None:
    store = open_secret_store("file", tmp_path / "keys.bin", lambda: "pw", redactor=Redactor())
    threads: list[str] = []

    def read_stored() -> str | None:
        threads.append(threading.current_thread().name)
        return store.get("openai")

    key = LiveApiKey("sk-live-env-3333", read_stored=read_stored)
    assert await key.refresh() is False  # nothing stored yet
    store.set("openai", "sk-live-env-3333")
    assert await key.refresh() is False  # the same key
    store.set("openai", "sk-live-stored-4444")
    assert await key.refresh() is True
    assert key.value == "sk-live-stored-4444"
    assert threading.main_thread().name not in threads and len(threads) == 3


async def test_without_a_store_there_is_nothing_to_refresh() -> None:
    key = LiveApiKey("sk-live-only-5555")
    assert await key.refresh() is False and key.value == "sk-live-only-5555"
