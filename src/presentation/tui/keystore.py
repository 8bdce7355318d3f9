"""The one thing the TUI may do with a secret: hand it to a key store it was given.

Secrets never travel on the bus, where the control socket could read them, so the keys screen
talks to these small objects instead. The composition root (``main.py``) passes adapters over
Hark's secrets store and its connectors; tests pass in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class KeyStore(Protocol):
    """Store and delete API keys by name and tell which names are stored (never their values).

    ``set`` and ``delete`` may block (a keyring unlock, a file write), so the TUI calls them on
    a worker thread. They raise with a sentence for the user when the store cannot be changed.
    """

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> bool:
        """Forget the key ``name``; ``False`` when there was none."""
        ...

    def names(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class ConnectForm:
    """What connecting one connector asks of the user, before anything happens."""

    name: str
    title: str
    help: str = ""
    """The connector's own words on where to get a key or an OAuth client."""
    fields: tuple[tuple[str, str], ...] = ()
    """``(secret name, label)`` for each value to type (hidden), in order."""
    oauth: bool = False
    """Connecting opens the browser to sign in."""


Announce = Callable[[str], None]
"""Told the sign-in address once the browser flow starts, so the user can copy it."""


class Connections(Protocol):
    """Connect and disconnect connectors; every call may raise with a sentence for the user."""

    def form(self, name: str) -> ConnectForm:
        """What to ask before connecting ``name`` (``LookupError`` for an unknown name)."""
        ...

    async def connect(
        self, name: str, secrets: Mapping[str, str], *, announce: Announce | None = None
    ) -> str:
        """Store the typed keys, or run the browser sign-in; a sentence for the user."""
        ...

    async def disconnect(self, name: str) -> str:
        """Delete the connector's keys, or revoke and forget its sign-in; a sentence."""
        ...
