"""Pending approvals, shown one at a time over whatever screen is up.

Several side-effecting tools can ask at once; stacking modals would let one answer land on the
wrong question. The desk queues them, shows the oldest, publishes the user's decision, and
drops (or closes) any that were settled elsewhere: by voice, over the socket, or by expiry.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from typing import Any

from src.events.approvals import ApprovalRequested
from src.events.base import Event
from src.events.commands import ResolveApproval
from src.presentation.tui.screens.approval import ApprovalScreen, Decision

PushScreen = Callable[[ApprovalScreen, Callable[[Decision | None], Awaitable[None]]], Any]
Publish = Callable[[Event], Awaitable[None]]


class ApprovalDesk:
    def __init__(self, push_screen: PushScreen, publish: Publish, *, arm_seconds: float) -> None:
        self._push_screen = push_screen
        self._publish = publish
        self._arm_seconds = arm_seconds
        self._waiting: collections.deque[ApprovalRequested] = collections.deque()
        self._open: ApprovalScreen | None = None

    def requested(self, request: ApprovalRequested) -> None:
        self._waiting.append(request)
        self._show_next()

    def settled_elsewhere(self, approval_id: str) -> None:
        """Close or forget it; publish nothing (the decision was already made)."""
        self._waiting = collections.deque(r for r in self._waiting if r.approval_id != approval_id)
        if self._open is not None and self._open.approval_id == approval_id:
            self._open.settle()

    def _show_next(self) -> None:
        if self._open is not None or not self._waiting:
            return
        request = self._waiting.popleft()
        screen = ApprovalScreen(request, arm_seconds=self._arm_seconds)
        self._open = screen

        async def answered(decision: Decision | None) -> None:
            self._open = None
            if decision is not None:
                await self._publish(
                    ResolveApproval(approval_id=request.approval_id, decision=decision)
                )
            self._show_next()

        self._push_screen(screen, answered)
