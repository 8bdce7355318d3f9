"""The base of every event, its delivery class and its stable JSON form.

Events are frozen dataclasses with a ``Literal`` ``type`` field. The type string exists only
for the wire (JSON for the socket and logs); code subscribes by class. Each concrete class
registers itself so that ``event_from_json`` can rebuild it from its JSON form.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import time
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar


class Delivery(enum.Enum):
    """How the bus treats an event when a subscriber is behind.

    CONTROL events (interrupt, cancel, stop) overtake queued data. DATA events keep their
    order and are never dropped by a blocking subscription. LATEST events (levels, partial
    transcripts) keep only the newest value per coalescing key, so a slow reader cannot back
    up a fast producer.
    """

    CONTROL = "control"
    DATA = "data"
    LATEST = "latest"


class EventDecodeError(ValueError):
    """A JSON object could not be turned back into an event."""


_REGISTRY: dict[str, type[Event]] = {}

E = TypeVar("E", bound="Event")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """Base class: every event carries the time it was made (seconds since the epoch)."""

    delivery: ClassVar[Delivery] = Delivery.DATA
    type: str = ""
    ts: float = dataclasses.field(default_factory=time.time)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hints = inspect.get_annotations(cls)
        if "type" not in hints:
            return
        default = cls.__dict__.get("type")
        if not isinstance(default, str) or not default:
            raise TypeError(f"{cls.__name__} must give its Literal type field a default")
        if default in _REGISTRY and _REGISTRY[default].__qualname__ != cls.__qualname__:
            raise TypeError(f"event type {default!r} is already used by {_REGISTRY[default]}")
        _REGISTRY[default] = cls

    def coalesce_key(self) -> object:
        """Key under which LATEST events replace each other; one slot per class by default."""
        return type(self)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form: the dataclass fields, tuples as lists."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def event_types() -> dict[str, type[Event]]:
    """Every registered event type by its wire name (a copy)."""
    return dict(_REGISTRY)


def event_from_json(data: Mapping[str, Any]) -> Event:
    """Rebuild an event from ``Event.to_json`` output; unknown fields are an error."""
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _REGISTRY:
        raise EventDecodeError(f"unknown event type: {kind!r}")
    cls = _REGISTRY[kind]
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in names:
            raise EventDecodeError(f"{kind}: unknown field {key!r}")
        kwargs[key] = _from_jsonable(hints.get(key), value)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise EventDecodeError(f"{kind}: {exc}") from exc


def _from_jsonable(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, list):
        args = typing.get_args(hint)
        inner = args[0] if args else None
        return tuple(_from_jsonable(inner, v) for v in value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        sub = typing.get_type_hints(hint)
        return hint(**{k: _from_jsonable(sub.get(k), v) for k, v in value.items()})
    return value
