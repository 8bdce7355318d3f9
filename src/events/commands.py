"""Command events: what front ends ask for. They publish these; services act on them.

Cancel and shutdown are CONTROL events so they overtake any data still queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.events.base import Delivery, Event


@dataclass(frozen=True, kw_only=True)
class SubmitText(Event):
    """The user typed (or piped) a message for the current conversation."""

    type: Literal["command.submit_text"] = "command.submit_text"
    text: str
    request_id: str = ""


@dataclass(frozen=True, kw_only=True)
class CancelTurn(Event):
    """Stop the answer in progress, keep the program and the conversation."""

    delivery = Delivery.CONTROL
    type: Literal["command.cancel_turn"] = "command.cancel_turn"
    reason: str = "cancelled by the user"


@dataclass(frozen=True, kw_only=True)
class Shutdown(Event):
    """Finish what must be stored and stop."""

    delivery = Delivery.CONTROL
    type: Literal["command.shutdown"] = "command.shutdown"
    reason: str = ""


Command = SubmitText | CancelTurn | Shutdown
