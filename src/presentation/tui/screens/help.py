"""Every key binding in one table, built from the same list as the bindings themselves."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from src.presentation.tui.actions import ACTIONS, CTRL_C, OTHER_KEYS

HELP_INTRO = (
    "Type and press Enter, or talk. Push-to-talk is a toggle because terminals do not report "
    "key releases: press F5 to start, F5 again to send. If your terminal keeps F1 for itself, "
    "use Alt+1..3 for the suggested follow-ups."
)


def key_table() -> Table:
    """Keys on the left, what they do on the right; wraps to any width."""
    table = Table(box=None, expand=True, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("Keys", no_wrap=True, style="bold")
    table.add_column("Action", ratio=1)
    for spec in (*ACTIONS, CTRL_C):
        table.add_row(spec.shown_keys, f"{spec.title}. {spec.help}")
    for keys, what in OTHER_KEYS:
        table.add_row(keys, what)
    return table


class HelpScreen(Screen[None]):
    """Keys and what they do; Esc goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body", can_focus=True):
            yield Static(HELP_INTRO, id="help-intro", markup=False)
            yield Static(key_table(), id="help-keys")
        yield Footer()
