"""Helpers for driving the TUI on a real EventBus: fakes for what sits behind the bus.

The TUI is tested as a user meets it: events published on the bus, keys pressed through the
pilot, and assertions on what is drawn or on the commands that come out on the bus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from textual.pilot import Pilot

from src.events.base import Event
from src.events.bus import EventBus
from src.events.commands import Command
from src.events.queries import Query, QueryResult
from src.presentation.tui.app import HarkApp, make_app

SAFETY_PAUSES = 400
"""Only a guard against a hung test: how many event-loop turns ``wait_until`` allows."""


class FakeKeyStore:
    """In-memory ``KeyStore``; ``fail_with`` makes ``set`` raise like a locked keyring."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.values: dict[str, str] = dict.fromkeys(names, "stored")
        self.fail_with: Exception | None = None

    def set(self, name: str, value: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.values[name] = value

    def delete(self, name: str) -> bool:
        return self.values.pop(name, None) is not None

    def names(self) -> list[str]:
        return list(self.values)


@dataclass
class FakeQueries:
    """Answers ``Query`` events from canned data, like the query service would."""

    answers: dict[str, Any] = field(default_factory=dict)
    asked: list[Query] = field(default_factory=list)

    def attach(self, bus: EventBus) -> None:
        async def answer(query: Query) -> None:
            self.asked.append(query)
            data = self.answers.get(query.kind)
            if callable(data):
                data = data(query.params)
            if data is None:
                result = QueryResult(
                    request_id=query.request_id, kind=query.kind, ok=False, error="not here"
                )
            else:
                result = QueryResult(
                    request_id=query.request_id, kind=query.kind, ok=True, data=data
                )
            await bus.publish(result)

        bus.subscribe(Query, answer, name="fake-queries")


@dataclass
class CommandLog:
    """Every command the TUI published, in order."""

    commands: list[Event] = field(default_factory=list)

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(Command, self.commands.append, name="command-log")

    def of(self, kind: type[Event]) -> list[Any]:
        return [c for c in self.commands if isinstance(c, kind)]


async def wait_until(pilot: Pilot[Any], condition: Callable[[], object], what: str = "") -> None:
    """Let the app run until ``condition()`` holds (observable state, never a fixed sleep)."""
    for _ in range(SAFETY_PAUSES):
        if condition():
            return
        await pilot.pause()
    raise AssertionError(f"never happened: {what or condition}")


async def settle(pilot: Pilot[Any], bus: EventBus) -> None:
    """Everything published so far has been delivered and drawn."""
    await bus.drain()
    await pilot.pause()
    await bus.drain()
    await pilot.pause()


async def publish_all(bus: EventBus, events: Iterable[Event]) -> None:
    for event in events:
        await bus.publish(event)


def screen_text(app: HarkApp) -> str:
    """The visible text of the active screen (and its toasts), for 'is it shown' assertions."""
    from textual.widgets import Markdown, Static

    parts: list[str] = []
    for widget in app.screen.query("*"):
        if isinstance(widget, Markdown):
            parts.append(widget.source)
        elif isinstance(widget, Static):
            parts.append(str(widget.render()))
    return "\n".join(parts)


def notifications(app: HarkApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def key_store() -> FakeKeyStore:
    return FakeKeyStore()


@pytest.fixture
def queries() -> FakeQueries:
    return FakeQueries()


SETTINGS_VIEW: Mapping[str, Any] = {
    "api": {"model": "gpt-4.1-mini", "base_url": None, "key": "set (secrets store) ********"},
    "voice": {"turn_detection": "server_vad"},
}


@pytest.fixture
def app(bus: EventBus, key_store: FakeKeyStore) -> HarkApp:
    return make_app(bus, key_store=key_store, settings_view=SETTINGS_VIEW, approval_arm_seconds=0)
