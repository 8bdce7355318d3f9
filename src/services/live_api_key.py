"""The OpenAI key a running assistant uses, replaceable without a restart.

Why: a key can be refused in the middle of a session (revoked, mistyped on first run, moved to
another project). The user fixes it where they already are: the keys screen in the TUI, or
``hark keys set openai`` in another terminal while Hark runs headless or in line mode. The next
turn has to use the new key and the voice link has to come back, without losing the
conversation. Clients are built from ``value`` each time, and whoever caches a client listens
with ``on_change``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from src.config.redaction import REDACTOR

log = logging.getLogger(__name__)

StoredKeyReader = Callable[[], "str | None"]
"""Reads the key from the secrets store now (blocking: the OS keyring is a D-Bus call);
None when there is none or the store cannot be opened (it says why in the log)."""


class LiveApiKey:
    """The key in use, whether the server has refused it, and who to tell when it changes."""

    def __init__(self, value: str, read_stored: StoredKeyReader | None = None) -> None:
        REDACTOR.add(value)
        self._value = value
        self._read_stored = read_stored
        self._listeners: list[Callable[[], None]] = []
        self.refused = False
        """The model server said this key is not valid; look for a new one before the next
        request."""

    @property
    def value(self) -> str:
        return self._value

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the event loop) after the key is replaced."""
        self._listeners.append(listener)

    def replace(self, new: str | None) -> bool:
        """Use ``new`` from now on; False (and nothing happens) if it is empty or the same."""
        if not new or new == self._value:
            return False
        REDACTOR.add(new)
        self._value = new
        self.refused = False
        log.info("the OpenAI key was replaced; new requests use the new key")
        for listener in list(self._listeners):
            listener()
        return True

    async def refresh(self) -> bool:
        """Read the secrets store again and use the key there if it is a different one.

        A key from ``OPENAI_API_KEY`` cannot change while Hark runs, so the store is where a
        new key can come from; a key stored after the environment's was refused wins.
        """
        if self._read_stored is None:
            return False
        return self.replace(await asyncio.to_thread(self._read_stored))
