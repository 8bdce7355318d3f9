"""Small modals of the keys screen: connect one connector, and a yes/no confirmation.

``ConnectScreen`` asks for each value a connector needs in password fields and hands them to
the ``Connections`` object the app was given (never to the bus); for an OAuth connector it
says a browser will open, starts the sign-in, and shows the sign-in address to copy. It is
dismissed with the sentence to tell the user once connected, or ``None`` when abandoned.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from src.presentation.tui.keystore import ConnectForm, Connections

log = logging.getLogger(__name__)


def hide_all(text: str, secrets: list[str]) -> str:
    """An error message must never echo a typed value back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


class ConnectScreen(ModalScreen[str | None]):
    """Connect one connector: type its keys, or sign in with the browser."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("enter", "start", "Connect", show=False),
    ]

    def __init__(self, form: ConnectForm, connections: Connections) -> None:
        super().__init__(classes="connect")
        self.form = form
        self._connections = connections
        self._busy = False

    def compose(self) -> ComposeResult:
        form = self.form
        with Vertical(id="connect-dialog") as dialog:
            dialog.border_title = f"Connect {form.title}"
            if form.help:
                yield Static(form.help, id="connect-help", markup=False)
            for index, (_, label) in enumerate(form.fields):
                yield Label(label, markup=False)
                yield Input(password=True, placeholder="input hidden", id=f"connect-field-{index}")
            if form.oauth:
                yield Static(
                    f"Hark opens your browser to sign in to {form.title}; finish there and "
                    "Hark picks the sign-in up by itself.",
                    id="connect-browser",
                    markup=False,
                )
                yield Static("", id="connect-url", markup=False)
            yield Label("Enter: connect · Esc: cancel", id="connect-status", markup=False)

    def _inputs(self) -> list[Input]:
        return list(self.query(Input))

    def on_input_submitted(self, submitted: Input.Submitted) -> None:
        submitted.stop()
        inputs = self._inputs()
        position = inputs.index(submitted.input)
        if position + 1 < len(inputs) and not inputs[position + 1].value:
            inputs[position + 1].focus()
            return
        self.action_start()

    def action_start(self) -> None:
        if self._busy:
            return
        values = {
            secret: field.value.strip()
            for (secret, _), field in zip(self.form.fields, self._inputs(), strict=True)
        }
        blank = [label for (secret, label) in self.form.fields if not values[secret]]
        if blank:
            self.notify(f"Type the {blank[0]} first.", severity="warning", markup=False)
            return
        self._busy = True
        waiting = "Waiting for the browser sign-in..." if self.form.oauth else "Connecting..."
        self.query_one("#connect-status", Label).update(f"{waiting} (Esc cancels)")
        self.connect(values)

    def show_url(self, url: str) -> None:
        """The sign-in has started: show its address, in case the browser did not open."""
        self.query_one("#connect-url", Static).update(
            f"If the browser did not open, visit this address:\n{url}"
        )

    @work(exclusive=True, group="connect")
    async def connect(self, values: dict[str, str]) -> None:
        announce = self.show_url if self.form.oauth else None
        try:
            said = await self._connections.connect(self.form.name, values, announce=announce)
        except Exception as exc:
            log.exception("connecting %s failed", self.form.name)
            self._busy = False
            self.query_one("#connect-status", Label).update("Enter: try again · Esc: cancel")
            self.notify(
                hide_all(str(exc), list(values.values())) or type(exc).__name__,
                title=f"{self.form.title} is not connected",
                severity="error",
                markup=False,
            )
            return
        self.dismiss(said)

    def action_cancel(self) -> None:
        self.workers.cancel_group(self, "connect")
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A question answered with y (yes) or n / Esc (no)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str) -> None:
        super().__init__(classes="confirm")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(self.question, id="confirm-question", markup=False)
            yield Label("y: yes · n: no", id="confirm-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
