"""Events about the Realtime (voice) connection itself, as opposed to what is said over it.

A voice session outlives its WebSocket: links drop, servers close sessions after an hour, a
stalled network goes quiet. Front ends render these so the user knows why the assistant paused
and that it is carrying on; storage and logs can record them like any other event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.events.base import Event

ConnectionStatus = Literal["connecting", "connected", "reconnecting", "disconnected"]


@dataclass(frozen=True, kw_only=True)
class RealtimeConnectionChanged(Event):
    """The voice link changed state.

    ``attempt`` counts reconnection attempts since the link was last healthy (0 for the first
    connection). ``reason`` is a short machine-readable cause (``dropped``, ``closed``,
    ``stalled``, ``recycle``, ``rejected``...); ``message`` is one sentence for the user.
    """

    type: Literal["realtime.connection"] = "realtime.connection"
    status: ConnectionStatus
    attempt: int = 0
    reason: str = ""
    message: str = ""
