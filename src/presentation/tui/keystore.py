"""The one thing the TUI may do with a secret: hand it to a key store it was given.

Secrets never travel on the bus, where the control socket could read them, so the keys screen
talks to this small object instead. The composition root (``main.py``) passes an adapter over
Hark's secrets store; tests pass an in-memory fake.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable


@runtime_checkable
class KeyStore(Protocol):
    """Store API keys by name and tell which names are stored (never their values).

    ``set`` may block (a keyring unlock, a file write), so the TUI calls it on a worker
    thread. It raises with a sentence for the user when the key cannot be stored.
    """

    def set(self, name: str, value: str) -> None: ...

    def names(self) -> Iterable[str]: ...
