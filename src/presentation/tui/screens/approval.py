"""The approval modal: reads back exactly what a tool is about to do and waits for y, n or a.

Keys are ignored for ``ARM_SECONDS`` after it opens: someone typing a message when it pops up
must not approve a payment with the "a" of "and". Enter does nothing here for the same reason.
The screen is dismissed with the decision; the app publishes it. When the approval is settled
elsewhere (by voice, or over the socket), the app closes it without a decision.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from src.events.approvals import ApprovalRequested

Decision = Literal["approve", "reject", "always"]

ARM_SECONDS = 0.5


class ApprovalScreen(ModalScreen[Decision | None]):
    """Asks about one pending tool call."""

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "decide('approve')", "Approve"),
        Binding("n", "decide('reject')", "Reject"),
        Binding("a", "decide('always')", "Always allow"),
    ]

    armed: reactive[bool] = reactive(False)

    def __init__(self, request: ApprovalRequested, *, arm_seconds: float = ARM_SECONDS) -> None:
        super().__init__(classes="approval")
        self.request = request
        self._arm_seconds = arm_seconds
        self._settled = False

    @property
    def approval_id(self) -> str:
        return self.request.approval_id

    def compose(self) -> ComposeResult:
        with Vertical(id="approval-dialog") as dialog:
            dialog.border_title = "Approve this action?"
            yield Static(self.request.readback, id="readback", markup=False)
            yield Label(
                f"{self.request.agent} · {self.request.tool}", id="approval-tool", markup=False
            )
            with Horizontal(id="approval-buttons"):
                yield Button("Approve (y)", id="approve", variant="success")
                yield Button("Reject (n)", id="reject", variant="error")
                yield Button("Always allow (a)", id="always", variant="primary")

    def on_mount(self) -> None:
        for button in self.query(Button):
            button.can_focus = False
        if self._arm_seconds <= 0:
            self.armed = True
        else:
            self.set_timer(self._arm_seconds, self._arm, name="approval-arm")

    def _arm(self) -> None:
        self.armed = True

    def watch_armed(self, armed: bool) -> None:
        self.set_class(armed, "-armed")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "decide" and not self.armed:
            return None  # shown, but not yet usable
        return True

    def settle(self) -> None:
        """The approval was settled elsewhere: close without a decision, now or on return."""
        self._settled = True
        if self.is_current:
            self.dismiss(None)

    def on_screen_resume(self) -> None:
        if self._settled:
            self.dismiss(None)

    def action_decide(self, decision: Decision) -> None:
        self.dismiss(decision)

    def on_button_pressed(self, pressed: Button.Pressed) -> None:
        pressed.stop()
        if self.armed and pressed.button.id in ("approve", "reject", "always"):
            self.dismiss(pressed.button.id)  # type: ignore[arg-type]
