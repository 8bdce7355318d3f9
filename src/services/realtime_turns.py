"""Where a voice session is in its turns, as far as the Realtime server has told us.

Pure state, no I/O: the client feeds it server events and asks it two questions. *May I ask
for a reply now?* The server runs one response at a time in the conversation and refuses a
second ``response.create`` while one is live, so a request made during an answer is kept and
made when that answer ends. *Is this a turn boundary?* Renewing the session is only safe when
nobody is speaking and nothing is pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ASIDE_KEY = "hark_aside"
"""Metadata key that marks an out-of-band response Hark asked for (an approval question)."""


@dataclass
class TurnState:
    """Response, speech and input-buffer state of one session (reset for each new one)."""

    response_id: str | None = None
    """The live response, from ``response.created`` to its ``response.done``."""
    requested: bool = False
    """A ``response.create`` was sent and its ``response.created`` has not arrived yet."""
    deferred: bool = False
    """A reply was asked for while another was live: ask when that one ends."""
    user_speaking: bool = False
    uncommitted_bytes: int = 0
    """Microphone audio appended since the last commit or clear."""
    last_assistant_item_id: str | None = None
    asides: set[str] = field(default_factory=set)
    """Out-of-band responses (``conversation: "none"``): heard, but not in the conversation."""
    aside_items: set[str] = field(default_factory=set)

    def reset(self) -> None:
        """A new session: no turn in progress (the last assistant item is kept for reference)."""
        self.response_id = None
        self.requested = self.deferred = self.user_speaking = False
        self.uncommitted_bytes = 0
        self.asides.clear()
        self.aside_items.clear()

    def is_aside(self, kind: str, event: Any) -> bool:
        """Whether a server event belongs to an out-of-band response (call after ``observe``)."""
        if kind in ("response.created", "response.done"):
            return (event.response.id or "") in self.asides
        response_id = getattr(event, "response_id", None)
        return response_id is not None and response_id in self.asides

    @property
    def response_active(self) -> bool:
        return self.response_id is not None

    def observe(self, kind: str, event: Any) -> None:
        """Update from one validated server event (the SDK's type)."""
        if kind == "response.created":
            self.response_id = event.response.id or "response"
            self.requested = False
            metadata = event.response.metadata or {}
            if ASIDE_KEY in metadata:
                self.asides.add(self.response_id)
        elif kind == "response.output_item.added":
            item = event.item
            if event.response_id in self.asides:
                # Not in the conversation: never the item a barge-in truncates.
                self.aside_items.add(item.id or "")
            elif item.type == "message" and getattr(item, "role", None) == "assistant":
                self.last_assistant_item_id = item.id
        elif kind == "input_audio_buffer.speech_started":
            self.user_speaking = True
        elif kind == "input_audio_buffer.speech_stopped":
            self.user_speaking = False
        elif kind in ("input_audio_buffer.committed", "input_audio_buffer.cleared"):
            self.uncommitted_bytes = 0

    def claim(self) -> bool:
        """True (and now requested) if no response is live or requested: send one now."""
        if self.response_active or self.requested:
            return False
        self.requested = True
        return True

    def request_reply(self) -> bool:
        """True: send ``response.create`` now. False: it is deferred until the live one ends."""
        if self.claim():
            return True
        self.deferred = True
        return False

    def request_failed(self) -> None:
        """The ``response.create`` never left (the link was gone)."""
        self.requested = False

    def request_refused(self) -> None:
        """The server refused it because a response it started itself is live: retry after."""
        self.requested = False
        self.deferred = True

    def response_finished(self, response_id: str) -> bool:
        """The response ended; True if a deferred reply should be asked for now."""
        if self.response_id in (response_id, "response"):
            self.response_id = None
        if self.deferred and not self.response_active:
            self.deferred = False
            return True
        return False

    def at_boundary(self, *, manual_turns: bool, tools_running: int) -> bool:
        """Nobody is speaking, nothing is live, requested or pending."""
        return not (
            self.response_active
            or self.requested
            or self.deferred
            or self.user_speaking
            or tools_running
            or (manual_turns and self.uncommitted_bytes > 0)
        )
