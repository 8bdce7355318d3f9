"""Checking a method's named parameters, with errors a script author can act on.

Unknown names are refused rather than ignored: ``{"txt": "hi"}`` failing loudly beats a
message silently sent without its text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from src.events.base import event_types
from src.presentation.socket_protocol import ErrorCode, RpcError


def invalid(message: str, data: Any = None) -> RpcError:
    return RpcError(ErrorCode.INVALID_PARAMS, f"Invalid params: {message}", data)


class Params:
    """Typed access to one request's params; every accessor raises ``INVALID_PARAMS``."""

    def __init__(self, raw: dict[str, Any], allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            expected = ", ".join(allowed) if allowed else "none"
            raise invalid(f"unknown parameter {unknown[0]!r} (expected: {expected})")
        self._raw = raw

    def text(self, name: str, *, default: str | None = None) -> str:
        if name not in self._raw:
            if default is None:
                raise invalid(f"{name} is required (a string)")
            return default
        value = self._raw[name]
        if not isinstance(value, str):
            raise invalid(f"{name} must be a string")
        return value

    def boolean(self, name: str, *, default: bool | None = None) -> bool:
        if name not in self._raw:
            if default is None:
                raise invalid(f"{name} is required (true or false)")
            return default
        value = self._raw[name]
        if not isinstance(value, bool):
            raise invalid(f"{name} must be true or false")
        return value

    def integer(self, name: str) -> int | None:
        """An optional whole number; its range is the service's to judge."""
        if name not in self._raw:
            return None
        value = self._raw[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(f"{name} must be a whole number")
        return value

    def choice(self, name: str, choices: Iterable[str]) -> str:
        options = tuple(choices)
        value = self.text(name)
        if value not in options:
            raise invalid(f"{name} must be one of: {', '.join(options)}", {"choices": options})
        return value

    def strings(self, name: str, *, required: bool = True) -> list[str] | None:
        if name not in self._raw:
            if required:
                raise invalid(f"{name} is required (a list of strings)")
            return None
        value = self._raw[name]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid(f"{name} must be a list of strings")
        return list(value)


def check_event_patterns(patterns: list[str]) -> list[str]:
    """Validate ``events.subscribe`` names: ``*``, a registered type, or ``prefix.*``."""
    if not patterns:
        raise invalid('types must name at least one event type (or "*")')
    known = event_types()
    unknown = [p for p in patterns if not _known(p, known)]
    if unknown:
        raise invalid(
            f"unknown event type {unknown[0]!r}",
            {"unknown": unknown, "known": sorted(known)},
        )
    return patterns


def _known(pattern: str, known: dict[str, Any]) -> bool:
    if pattern == "*" or pattern in known:
        return True
    if pattern.endswith(".*") and len(pattern) > 2:
        prefix = pattern[:-1]
        return any(name.startswith(prefix) for name in known)
    return False


class EventSelection:
    """Which event types one client asked for with ``events.subscribe``."""

    def __init__(self) -> None:
        self.everything = False
        self.names: set[str] = set()
        self.prefixes: set[str] = set()

    def add(self, patterns: list[str]) -> None:
        for pattern in patterns:
            if pattern == "*":
                self.everything = True
            elif pattern.endswith(".*"):
                self.prefixes.add(pattern[:-1])
            else:
                self.names.add(pattern)

    def remove(self, patterns: list[str] | None) -> None:
        if patterns is None:
            self.everything = False
            self.names.clear()
            self.prefixes.clear()
            return
        for pattern in patterns:
            if pattern == "*":
                self.everything = False
            elif pattern.endswith(".*"):
                self.prefixes.discard(pattern[:-1])
            else:
                self.names.discard(pattern)

    def matches(self, type_name: str) -> bool:
        if self.everything or type_name in self.names:
            return True
        return any(type_name.startswith(prefix) for prefix in self.prefixes)

    def describe(self) -> list[str]:
        out = ["*"] if self.everything else []
        return out + sorted(self.names) + sorted(p + "*" for p in self.prefixes)
