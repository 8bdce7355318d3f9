"""Every event has a stable JSON form that round-trips."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import typing

import pytest

import src.events
from src.events.base import Event, EventDecodeError, event_from_json, event_types
from src.events.conversation import FollowUpsSuggested, ToolCallStarted

SAMPLES: dict[type, object] = {str: "x", int: 3, float: 1.5, bool: True}

# Import every event module so that every event class is registered.
for _module in pkgutil.iter_modules(src.events.__path__):
    importlib.import_module(f"src.events.{_module.name}")


def _sample(cls: type[Event]) -> Event:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, object] = {}
    for f in dataclasses.fields(cls):
        if f.name in ("type", "ts"):
            continue
        if f.default is not dataclasses.MISSING and typing.get_origin(hints[f.name]) is not dict:
            continue
        hint = hints[f.name]
        origin = typing.get_origin(hint)
        if origin is tuple:
            kwargs[f.name] = ("a", "b")
        elif origin is dict:
            kwargs[f.name] = {"limit": 3, "nested": {"a": [1, 2]}}
        elif origin is typing.Literal:
            kwargs[f.name] = typing.get_args(hint)[0]
        else:
            kwargs[f.name] = SAMPLES[hint]
    return cls(**kwargs)  # type: ignore[arg-type]


def test_every_registered_event_round_trips_through_json() -> None:
    types = event_types()
    assert len(types) >= 20
    for name, cls in types.items():
        if cls.__module__.startswith("tests."):
            continue
        event = _sample(cls)
        wire = json.loads(json.dumps(event.to_json()))
        assert wire["type"] == name
        assert event_from_json(wire) == event


def test_json_form_is_stable() -> None:
    event = ToolCallStarted(
        turn_id="t1",
        call_id="c1",
        tool="get_weather",
        agent="weather",
        arguments='{"location": "Paris"}',
        progress="Checking the weather in Paris...",
        ts=10.0,
    )
    assert event.to_json() == {
        "type": "tool.started",
        "ts": 10.0,
        "turn_id": "t1",
        "call_id": "c1",
        "tool": "get_weather",
        "agent": "weather",
        "arguments": '{"location": "Paris"}',
        "progress": "Checking the weather in Paris...",
    }
    follow = FollowUpsSuggested(turn_id="t", suggestions=("a", "b"), ts=1.0)
    assert follow.to_json()["suggestions"] == ["a", "b"]


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"type": "nope"},
        {"type": 3},
        {"type": "tool.finished", "bogus": 1},
        {"type": "tool.finished", "turn_id": "t"},
    ],
)
def test_bad_json_is_refused_clearly(payload: dict[str, object]) -> None:
    with pytest.raises(EventDecodeError):
        event_from_json(payload)


def test_events_are_frozen() -> None:
    event = FollowUpsSuggested(turn_id="t", suggestions=())
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.turn_id = "u"  # type: ignore[misc]
