"""Keys and connections: add an API key (the OpenAI one first of all) and see what is connected.

A key goes straight from the password field to the ``KeyStore`` the app was given, on a worker
thread (a keyring may take a moment to unlock); it never touches the bus. Only the key's name
travels on, in ``KeySaved``. Connections come from the ``connections.list`` query.
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
from src.presentation.tui.keystore import KeyStore
from src.presentation.tui.messages import KeySaved

log = logging.getLogger(__name__)

Ask = Callable[[QueryKind, Mapping[str, Any] | None], Awaitable[QueryResult]]

FIRST_RUN_TEXT = (
    "Hark needs an OpenAI API key before it can answer: paste it below and press Enter. "
    "It is kept in your system's secret store and sent only to the OpenAI server you use."
)
NO_STORE_TEXT = (
    "Keys cannot be stored from here in this session. In a terminal, run:  "
    "python main.py keys set openai"
)


def _hide(text: str, secret: str) -> str:
    """An error message must never echo the key back."""
    return text.replace(secret, "********") if secret else text


class KeysScreen(Screen[None]):
    """Stored key names, a form to add one, and every connector's state."""

    AUTO_FOCUS = "#key-value"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def __init__(
        self, ask: Ask, key_store: KeyStore | None, *, first_run: bool = False, reason: str = ""
    ) -> None:
        super().__init__()
        self._ask = ask
        self._store = key_store
        self._first_run = first_run
        self._reason = reason

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
            yield Label("Connections", classes="section")
            yield DataTable(id="connections", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#connections", DataTable)
        table.add_columns("Connector", "Needs", "Connected")
        self.load_connections()
        self.load_names()

    @work(exclusive=True, group="connections")
    async def load_connections(self) -> None:
        result = await self._ask("connections.list", None)
        table = self.query_one("#connections", DataTable)
        table.clear()
        if not result.ok:
            table.add_row("—", result.error or "not available", "")
            return
        for row in result.data or []:
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
