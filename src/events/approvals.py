"""Approval of side-effecting tool calls: asked by services, answered by any front end.

A tool that sends, posts, buys, trades, creates or deletes does not run until the user has
heard or read ``readback`` (exactly what will happen) and approved it by key, voice or socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from src.events.base import Event


@dataclass(frozen=True, kw_only=True)
class ApprovalRequested(Event):
    type: Literal["approval.requested"] = "approval.requested"
    approval_id: str
    tool: str
    agent: str
    readback: str
    arguments: str


@dataclass(frozen=True, kw_only=True)
class ApprovalResolved(Event):
    type: Literal["approval.resolved"] = "approval.resolved"
    approval_id: str
    decision: Literal["approve", "reject", "always", "expired"]
