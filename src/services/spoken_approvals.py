"""Approvals in a voice session: the read-back is asked aloud and answered aloud.

A side-effecting tool waits in ``ApprovalService.request`` for a ``ResolveApproval``. On screen
that is a key; in a voice session the user may not be looking, so this desk asks the question
out loud, outside the conversation (an aside the model does not remember), with automatic
replies held, so the user's "yes" reaches Hark instead of starting a new answer. The user's
next transcript is read by ``src.domain.spoken_consent``: yes, no or always resolve the
approval; anything unclear is asked once more and then taken as a no, because nothing with a
side effect runs on a guess. The spoken answer is removed from the conversation afterwards:
the tool's output already tells the model what the user decided.

Approvals requested together (two messages to send) are asked one after the other. An answer
given on screen or over the socket ends the spoken question too.
"""

from __future__ import annotations

import logging
from typing import Protocol

from src.domain.spoken_consent import read_consent
from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.bus import EventBus, Subscription
from src.events.commands import ResolveApproval
from src.events.voice import TranscriptCompleted

log = logging.getLogger(__name__)

ASIDE_PURPOSE = "approval"
ASK_AGAIN = "Sorry, I didn't catch that. Should I go ahead? Please say yes or no."
DEFAULT_UNCLEAR_ANSWERS = 2
"""Unclear answers before the request is declined (the first one is asked again)."""


class AsidePort(Protocol):
    """What the desk needs of ``RealtimeClient``."""

    async def speak_aside(self, text: str, *, purpose: str) -> None: ...
    def drop_asides(self) -> int: ...
    async def hold_replies(self, held: bool) -> None: ...
    async def forget_item(self, item_id: str) -> bool: ...


def spoken_question(readback: str) -> str:
    """The read-back as a question: "Send to ana@example.com ... Shall I go ahead? ..."."""
    what = readback.strip().rstrip(" .?!")
    return f"{what}. Shall I go ahead? You can say yes, no, or always."


class SpokenApprovals:
    def __init__(
        self,
        bus: EventBus,
        realtime: AsidePort,
        *,
        unclear_answers: int = DEFAULT_UNCLEAR_ANSWERS,
    ) -> None:
        self._bus = bus
        self._realtime = realtime
        self._unclear_limit = max(1, unclear_answers)
        self._queue: list[ApprovalRequested] = []
        self._current: ApprovalRequested | None = None
        self._unclear = 0
        self._held = False
        self._subscription: Subscription | None = None

    @property
    def asking(self) -> str | None:
        """The approval being asked aloud now, if any."""
        return self._current.approval_id if self._current else None

    async def start(self) -> None:
        self._subscription = self._bus.subscribe(
            ApprovalRequested | ApprovalResolved | TranscriptCompleted,
            self._on_event,
            name="voice.approvals",
        )

    async def close(self) -> None:
        """The voice session ends: stop listening for answers (the screen can still answer)."""
        if self._subscription is not None:
            await self._bus.unsubscribe(self._subscription)
            self._subscription = None
        self._queue.clear()
        self._current = None

    async def _on_event(self, event: object) -> None:
        if isinstance(event, ApprovalRequested):
            self._queue.append(event)
            if self._current is None:
                await self._ask_next()
        elif isinstance(event, ApprovalResolved):
            await self._resolved(event.approval_id)
        elif isinstance(event, TranscriptCompleted) and event.role == "user":
            await self._answer(event)

    async def _ask_next(self) -> None:
        if not self._queue:
            self._current = None
            await self._hold(False)
            return
        self._current, self._unclear = self._queue.pop(0), 0
        await self._hold(True)
        await self._realtime.speak_aside(
            spoken_question(self._current.readback), purpose=ASIDE_PURPOSE
        )

    async def _hold(self, held: bool) -> None:
        if held != self._held:
            self._held = held
            await self._realtime.hold_replies(held)

    async def _resolved(self, approval_id: str) -> None:
        """Answered (by voice, key or socket) or expired: on to the next question, if any."""
        self._queue = [q for q in self._queue if q.approval_id != approval_id]
        if self._current is not None and self._current.approval_id == approval_id:
            # Answered on screen before the question could even be asked (a reply was still
            # being spoken): it is not asked after the fact.
            self._realtime.drop_asides()
            await self._ask_next()

    async def _answer(self, event: TranscriptCompleted) -> None:
        current = self._current
        if current is None:
            return
        await self._realtime.forget_item(event.item_id)
        decision = read_consent(event.text)
        if decision is None:
            self._unclear += 1
            if self._unclear < self._unclear_limit:
                await self._realtime.speak_aside(ASK_AGAIN, purpose=ASIDE_PURPOSE)
                return
            log.info("approval %s: no clear answer by voice; declined", current.approval_id)
            decision = "reject"
        else:
            log.info("approval %s answered by voice: %s", current.approval_id, decision)
        await self._bus.publish(ResolveApproval(approval_id=current.approval_id, decision=decision))
