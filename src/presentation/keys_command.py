"""``hark keys set|list|delete``: manage API keys in the secrets store.

Values are read with a hidden prompt on a terminal or from stdin when piped, and are never
echoed back: ``list`` prints names only.
"""

from __future__ import annotations

import getpass
import sys
from typing import Protocol, TextIO


class SecretStoreLike(Protocol):
    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> bool: ...
    def names(self) -> list[str]: ...
    def describe(self) -> str: ...


def read_secret_value(name: str, stdin: TextIO | None = None) -> str:
    stream = stdin or sys.stdin
    if stream.isatty():
        return getpass.getpass(f"Value for {name} (input hidden): ").strip()
    return stream.readline().strip()


def keys_set(store: SecretStoreLike, name: str, out: TextIO, stdin: TextIO | None = None) -> int:
    value = read_secret_value(name, stdin)
    if not value:
        out.write("hark: no value given; nothing was stored.\n")
        return 2
    store.set(name, value)
    out.write(f"Stored {name} in {store.describe()}.\n")
    return 0


def keys_list(store: SecretStoreLike, out: TextIO) -> int:
    names = store.names()
    if not names:
        out.write(f"No keys stored ({store.describe()}).\n")
        return 0
    for name in sorted(names):
        out.write(f"{name}\n")
    return 0


def keys_delete(store: SecretStoreLike, name: str, out: TextIO) -> int:
    if store.delete(name):
        out.write(f"Deleted {name}.\n")
        return 0
    out.write(f"hark: no key named {name} is stored.\n")
    return 1
