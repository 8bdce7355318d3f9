"""Keys and connections: add or delete an API key (the OpenAI one first of all), and connect or
disconnect connectors.

A key goes straight from the password field to the ``KeyStore`` the app was given, on a worker
thread (a keyring may take a moment to unlock); it never touches the bus. Only the key's name
travels on, in ``KeySaved``. Connections come from the ``connections.list`` query; connecting
and disconnecting go through the ``Connections`` object the app was given, for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Label, Static

from src.events.queries import QueryKind, QueryResult
from src.presentation.tui.keystore import Connections, KeyStore
from src.presentation.tui.messages import KeySaved
from src.presentation.tui.screens.connect import ConfirmScreen, ConnectScreen

log = logging.getLogger(__name__)

Ask = Callable[[QueryKind, Mapping[str, Any] | None], Awaitable[QueryResult]]

FIRST_RUN_TEXT = (
    "Hark needs an OpenAI API key before it can answer: paste it below and press Enter. "
    "It is kept in your system's secret store and sent only to the OpenAI server you use."
)
NO_CONNECTIONS_TEXT = (
    "Connectors cannot be connected from here in this session. In a terminal, run:  "
    "python main.py connect NAME"
)
NO_STORE_TEXT = (
    "Keys cannot be stored from here in this session. In a terminal, run:  "
    "python main.py keys set openai"
)


def _hide(text: str, secret: str) -> str:
    """An error message must never echo the key back."""
    return text.replace(secret, "********") if secret else text


class ConnectionsTable(DataTable[str]):
    """Every connector; c connects the selected one, d disconnects it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "screen.connect_selected", "Connect"),
        Binding("d", "screen.disconnect_selected", "Disconnect"),
    ]


class StoredKeysTable(DataTable[str]):
    """The names of the stored keys; Delete or x deletes the selected one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,x", "screen.delete_selected_key", "Delete key"),
    ]


class KeysScreen(Screen[None]):
    """Stored key names, a form to add one, and every connector's state."""

    AUTO_FOCUS = "#key-value"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(
        self,
        ask: Ask,
        key_store: KeyStore | None,
        *,
        connections: Connections | None = None,
        first_run: bool = False,
        reason: str = "",
    ) -> None:
        super().__init__()
        self._ask = ask
        self._store = key_store
        self._connections = connections
        self._first_run = first_run
        self._reason = reason
        self._rows: list[Mapping[str, Any]] = []
        self._names: list[str] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="keys-body"):
            if self._first_run:
                intro = f"{self._reason}\n{FIRST_RUN_TEXT}" if self._reason else FIRST_RUN_TEXT
                yield Static(intro, id="first-run", markup=False)
            if self._store is None:
                yield Static(NO_STORE_TEXT, id="no-key-store", markup=False)
            else:
                yield Label("Add or replace a key", classes="section")
                with Horizontal(id="key-form"):
                    yield Input(value="openai", placeholder="name", id="key-name")
                    yield Input(
                        placeholder="paste the key, press Enter", password=True, id="key-value"
                    )
                yield Label("", id="key-names")
                yield StoredKeysTable(id="stored-keys", cursor_type="row")
            yield Label("Connections", classes="section")
            yield ConnectionsTable(id="connections", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#connections", DataTable)
        table.add_columns("Connector", "Needs", "Connected")
        if self._store is not None:
            stored = self.query_one("#stored-keys", DataTable)
            stored.add_columns("Stored key")
            stored.display = False
        self.load_connections()
        self.load_names()

    @work(exclusive=True, group="connections")
    async def load_connections(self) -> None:
        result = await self._ask("connections.list", None)
        table = self.query_one("#connections", DataTable)
        table.clear()
        self._rows = []
        if not result.ok:
            table.add_row("—", result.error or "not available", "")
            return
        for row in result.data or []:
            self._rows.append(row)
            needs = ", ".join(row.get("requires", [])) or "nothing"
            table.add_row(
                str(row.get("title") or row.get("name")),
                needs,
                "yes" if row.get("connected") else "no",
            )

    @work(exclusive=True, group="key-names")
    async def load_names(self) -> None:
        if self._store is None:
            return
        try:
            names = sorted(await asyncio.to_thread(lambda: list(self._store.names())))  # type: ignore[union-attr]
        except Exception as exc:
            log.exception("could not list stored keys")
            self.query_one("#key-names", Label).update(f"Stored keys: unknown ({exc})")
            return
        shown = ", ".join(names) if names else "none yet"
        self.query_one("#key-names", Label).update(f"Stored keys: {shown}")
        self._names = names
        table = self.query_one("#stored-keys", DataTable)
        table.clear()
        for name in names:
            table.add_row(name)
        table.display = bool(names)

    def on_input_submitted(self, submitted: Input.Submitted) -> None:
        submitted.stop()
        if submitted.input.id == "key-name":
            self.query_one("#key-value", Input).focus()
            return
        name = self.query_one("#key-name", Input).value.strip()
        value = submitted.value.strip()
        if not name or not value:
            self.notify("Give the key a name and paste its value.", severity="warning")
            return
        self.save_key(name, value)

    @work(exclusive=True, group="save-key")
    async def save_key(self, name: str, value: str) -> None:
        store = self._store
        if store is None:
            return
        try:
            await asyncio.to_thread(store.set, name, value)
        except Exception as exc:
            log.exception("could not store the %s key", name)
            self.notify(
                _hide(str(exc), value) or type(exc).__name__,
                title=f"The {name} key was not stored",
                severity="error",
                markup=False,
            )
            return
        self.query_one("#key-value", Input).clear()
        self.notify(f"The {name} key is stored.", title="Key saved", markup=False)
        self.load_names()
        self.load_connections()
        self.post_message(KeySaved(name))

    # -- connect, disconnect, delete -----------------------------------------------------------
    def _selected_connection(self) -> Mapping[str, Any] | None:
        row = self.query_one("#connections", DataTable).cursor_row
        if 0 <= row < len(self._rows):
            return self._rows[row]
        self.notify("Choose a connector in the Connections table first.", severity="warning")
        return None

    def _refresh(self) -> None:
        self.load_connections()
        self.load_names()

    def _failed(self, exc: Exception, title: str) -> None:
        self.notify(str(exc) or type(exc).__name__, title=title, severity="error", markup=False)

    def action_connect_selected(self) -> None:
        if self._connections is None:
            self.notify(NO_CONNECTIONS_TEXT, severity="warning", markup=False)
            return
        row = self._selected_connection()
        if row is not None:
            self.open_connect(str(row.get("name", "")))

    @work(exclusive=True, group="connect-form")
    async def open_connect(self, name: str) -> None:
        connections = self._connections
        if connections is None:
            return
        try:
            form = await asyncio.to_thread(connections.form, name)
        except Exception as exc:
            log.exception("could not prepare connecting %s", name)
            self._failed(exc, f"{name} cannot be connected")
            return
        if not form.fields and not form.oauth:
            self.notify(f"{form.title} needs no account; it is ready to use.", markup=False)
            return
        self.app.push_screen(ConnectScreen(form, connections), self._connected)

    def _connected(self, said: str | None) -> None:
        if said:
            self.notify(said, title="Connected", markup=False)
            self._refresh()

    def action_disconnect_selected(self) -> None:
        if self._connections is None:
            self.notify(NO_CONNECTIONS_TEXT, severity="warning", markup=False)
            return
        row = self._selected_connection()
        if row is None:
            return
        name = str(row.get("name", ""))
        title = str(row.get("title") or name)
        if not row.get("connected"):
            self.notify(f"{title} is not connected.", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.disconnect(name, title)

        self.app.push_screen(
            ConfirmScreen(f"Disconnect {title}? Its keys or sign-in are deleted."), answered
        )

    @work(exclusive=True, group="disconnect")
    async def disconnect(self, name: str, title: str) -> None:
        if self._connections is None:
            return
        try:
            said = await self._connections.disconnect(name)
        except Exception as exc:
            log.exception("could not disconnect %s", name)
            self._failed(exc, f"{title} was not disconnected")
        else:
            self.notify(said, title="Disconnected", markup=False)
        self._refresh()

    def action_delete_selected_key(self) -> None:
        row = self.query_one("#stored-keys", DataTable).cursor_row
        if self._store is None or not 0 <= row < len(self._names):
            self.notify("Choose a stored key first.", severity="warning")
            return
        name = self._names[row]

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete_key(name)

        self.app.push_screen(
            ConfirmScreen(f"Delete the {name} key? Whatever uses it stops working."), answered
        )

    @work(exclusive=True, group="delete-key")
    async def delete_key(self, name: str) -> None:
        store = self._store
        if store is None:
            return
        try:
            deleted = await asyncio.to_thread(store.delete, name)
        except Exception as exc:
            log.exception("could not delete the %s key", name)
            self._failed(exc, f"The {name} key was not deleted")
            return
        said = f"The {name} key is deleted." if deleted else f"There was no {name} key."
        self.notify(said, title="Key deleted" if deleted else "Nothing to delete", markup=False)
        self._refresh()
