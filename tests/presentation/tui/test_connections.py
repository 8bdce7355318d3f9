"""Connecting, disconnecting and deleting keys from the keys and connections screen.

The ``Connections`` object is a fake that records what it was handed; the bus is real, and
every event on it is checked for the typed secrets, which must never travel there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from textual.widgets import DataTable, Input, Static

from src.events.base import Event
from src.events.bus import ALL_EVENTS, EventBus
from src.presentation.tui.app import HarkApp, make_app
from src.presentation.tui.keystore import Announce, ConnectForm
from src.presentation.tui.screens.connect import ConfirmScreen, ConnectScreen
from src.presentation.tui.screens.keys import KeysScreen
from tests.presentation.tui.conftest import (
    FakeKeyStore,
    FakeQueries,
    notifications,
    wait_until,
)

SIGN_IN_URL = "https://accounts.example/o/auth?client_id=abc&state=xyz"


class FakeConnections:
    """Records every call; ``news`` takes an API key, ``google`` signs in with the browser."""

    def __init__(self) -> None:
        self.connected: dict[str, bool] = {"weather": True, "news": False, "google": False}
        self.received: list[tuple[str, dict[str, str]]] = []
        self.disconnected: list[str] = []
        self.release_sign_in = asyncio.Event()
        self.fail_with: Exception | None = None

    def form(self, name: str) -> ConnectForm:
        if name == "news":
            return ConnectForm(
                "news",
                "News",
                "Get a key at https://newsapi.example.",
                (("newsapi", "News key newsapi"),),
            )
        if name == "google":
            return ConnectForm(
                "google", "Google", "Make an OAuth client.", (("google_id", "client ID"),), True
            )
        return ConnectForm(name, name.title())

    async def connect(
        self, name: str, secrets: Mapping[str, str], *, announce: Announce | None = None
    ) -> str:
        self.received.append((name, dict(secrets)))
        if self.fail_with is not None:
            raise self.fail_with
        if name == "google":
            assert announce is not None
            announce(SIGN_IN_URL)
            await self.release_sign_in.wait()
        self.connected[name] = True
        return f"Connected {name}."

    async def disconnect(self, name: str) -> str:
        self.disconnected.append(name)
        self.connected[name] = False
        return f"Disconnected {name}."

    def rows(self, _params: object = None) -> list[dict[str, Any]]:
        needs = {"weather": [], "news": ["newsapi"], "google": ["google_id"]}
        return [
            {"name": n, "title": n.title(), "requires": needs[n], "connected": c}
            for n, c in self.connected.items()
        ]


def _app(bus: EventBus, store: FakeKeyStore, fake: FakeConnections) -> HarkApp:
    queries = FakeQueries({"connections.list": fake.rows})
    queries.attach(bus)
    return make_app(bus, key_store=store, connections=fake)


def _record_all(bus: EventBus) -> list[Event]:
    seen: list[Event] = []
    bus.subscribe(ALL_EVENTS, seen.append, name="everything")
    return seen


async def _open_connections(pilot: Any, app: HarkApp, row: int) -> DataTable[str]:
    await pilot.press("ctrl+o")
    await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "keys screen")
    table = app.screen.query_one("#connections", DataTable)
    await wait_until(pilot, lambda: table.row_count == 3, "connections listed")
    table.focus()
    table.move_cursor(row=row)
    await pilot.pause()
    return table


def _cell(table: DataTable[str], row: int) -> object:
    return table.get_row_at(row)[2]


async def test_connecting_a_key_connector_hands_the_key_over_and_never_to_the_bus(
    bus: EventBus,
) -> None:
    fake, store = FakeConnections(), FakeKeyStore()
    seen = _record_all(bus)
    app = _app(bus, store, fake)
    async with app.run_test() as pilot:
        table = await _open_connections(pilot, app, row=1)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConnectScreen), "connect modal")
        field = app.screen.query_one("#connect-field-0", Input)
        assert field.password and field.has_focus
        assert "newsapi.example" in str(app.screen.query_one("#connect-help", Static).render())
        await pilot.press(*"news-secret-42", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "modal closed")
        assert fake.received == [("news", {"newsapi": "news-secret-42"})]
        await wait_until(pilot, lambda: _cell(table, 1) == "yes", "table refreshed")
        assert any("Connected news." in n for n in notifications(app))
    assert seen, "the bus carried the screen's queries"
    assert not any("news-secret-42" in repr(event) for event in seen)


async def test_a_failed_connect_is_told_without_the_key_and_the_modal_stays(
    bus: EventBus,
) -> None:
    fake = FakeConnections()
    fake.fail_with = RuntimeError("the server refused key news-secret-42")
    app = _app(bus, FakeKeyStore(), fake)
    async with app.run_test() as pilot:
        await _open_connections(pilot, app, row=1)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConnectScreen), "connect modal")
        await pilot.press(*"news-secret-42", "enter")
        await wait_until(pilot, lambda: any("refused" in n for n in notifications(app)), "told")
        assert not any("news-secret-42" in n for n in notifications(app))
        assert isinstance(app.screen, ConnectScreen)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "cancelled")


async def test_connecting_an_oauth_connector_shows_the_sign_in_address(bus: EventBus) -> None:
    fake = FakeConnections()
    seen = _record_all(bus)
    app = _app(bus, FakeKeyStore(), fake)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await _open_connections(pilot, app, row=2)
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConnectScreen), "connect modal")
        assert "opens your browser" in str(app.screen.query_one("#connect-browser").render())
        await pilot.press(*"client-7", "enter")
        url = app.screen.query_one("#connect-url", Static)
        await wait_until(pilot, lambda: SIGN_IN_URL in str(url.render()), "address shown")
        assert isinstance(app.screen, ConnectScreen)  # waiting for the browser
        fake.release_sign_in.set()
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "modal closed")
        assert fake.received == [("google", {"google_id": "client-7"})]
        await wait_until(pilot, lambda: _cell(table, 2) == "yes", "table refreshed")
    assert not any("client-7" in repr(event) for event in seen)


async def test_disconnect_asks_first_and_n_keeps_the_connection(bus: EventBus) -> None:
    fake = FakeConnections()
    app = _app(bus, FakeKeyStore(), fake)
    async with app.run_test() as pilot:
        table = await _open_connections(pilot, app, row=0)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        assert "Disconnect Weather?" in str(app.screen.query_one("#confirm-question").render())
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "cancelled")
        assert fake.disconnected == []
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm again")
        await pilot.press("y")
        await wait_until(pilot, lambda: fake.disconnected == ["weather"], "disconnected")
        await wait_until(pilot, lambda: _cell(table, 0) == "no", "table refreshed")
        assert any("Disconnected weather." in n for n in notifications(app))


async def test_disconnecting_what_is_not_connected_just_says_so(bus: EventBus) -> None:
    fake = FakeConnections()
    app = _app(bus, FakeKeyStore(), fake)
    async with app.run_test() as pilot:
        await _open_connections(pilot, app, row=1)
        await pilot.press("d")
        await wait_until(pilot, lambda: any("not connected" in n for n in notifications(app)))
        assert isinstance(app.screen, KeysScreen) and fake.disconnected == []


async def test_deleting_a_stored_key_asks_first(bus: EventBus) -> None:
    store = FakeKeyStore(["gmail", "openai"])
    app = _app(bus, store, FakeConnections())
    async with app.run_test() as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "keys screen")
        keys = app.screen.query_one("#stored-keys", DataTable)
        await wait_until(pilot, lambda: keys.row_count == 2, "names listed")
        keys.focus()
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "cancelled")
        assert set(store.values) == {"gmail", "openai"}
        await pilot.press("delete")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm again")
        await pilot.press("y")
        await wait_until(pilot, lambda: set(store.values) == {"openai"}, "gmail deleted")
        await wait_until(pilot, lambda: keys.row_count == 1, "names refreshed")
        assert any("gmail key is deleted" in n for n in notifications(app))


async def test_the_palette_action_runs_on_the_keys_screen(bus: EventBus) -> None:
    fake = FakeConnections()
    app = _app(bus, FakeKeyStore(), fake)
    async with app.run_test() as pilot:
        await app.run_action("on_keys_screen('connect_selected')")
        await wait_until(pilot, lambda: isinstance(app.screen, KeysScreen), "keys screen opened")
        await _open_connections(pilot, app, row=1)
        await app.run_action("on_keys_screen('connect_selected')")
        await wait_until(pilot, lambda: isinstance(app.screen, ConnectScreen), "connect modal")


async def test_without_connections_the_screen_says_how(bus: EventBus) -> None:
    queries = FakeQueries({"connections.list": FakeConnections().rows})
    queries.attach(bus)
    app = make_app(bus, key_store=FakeKeyStore())
    async with app.run_test() as pilot:
        await _open_connections(pilot, app, row=1)
        await pilot.press("c")
        await wait_until(pilot, lambda: any("connect NAME" in n for n in notifications(app)))
