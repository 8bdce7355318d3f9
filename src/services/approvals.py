"""Approval of side-effecting tool calls, answered from any front end.

A tool that sends, posts, buys, trades, creates or deletes calls ``request()`` before it acts.
That publishes ``ApprovalRequested`` with a read-back of exactly what will happen and waits for
a ``ResolveApproval`` from the TUI, line mode, a voice answer or the socket. Nothing runs on
silence: an unanswered request expires as a rejection. "Always allow" is per tool and is
persisted through the callback the composer gives (it is a user setting).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from src.domain.history import new_id
from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.bus import EventBus
from src.events.commands import ResolveApproval

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class PendingApproval:
    approval_id: str
    tool: str
    agent: str
    readback: str
    arguments: str


class ApprovalService:
    def __init__(
        self,
        bus: EventBus,
        *,
        always_allowed: Iterable[str] = (),
        persist_always: Callable[[frozenset[str]], None] | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._bus = bus
        self._always = set(always_allowed)
        self._persist = persist_always
        self._timeout = timeout
        self._pending: dict[str, tuple[PendingApproval, asyncio.Future[str]]] = {}

    async def start(self) -> None:
        self._bus.subscribe(ResolveApproval, self._resolve, name="approvals")

    @property
    def always_allowed(self) -> frozenset[str]:
        return frozenset(self._always)

    def pending(self) -> list[PendingApproval]:
        return [p for p, _ in self._pending.values()]

    async def request(self, tool: str, agent: str, readback: str, arguments: str) -> bool:
        """Ask the user; True only on an explicit approval (or a standing always-allow)."""
        if tool in self._always:
            log.info("tool %s runs under always-allow", tool)
            return True
        approval = PendingApproval(new_id("appr"), tool, agent, readback, arguments)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[approval.approval_id] = (approval, future)
        await self._bus.publish(
            ApprovalRequested(
                approval_id=approval.approval_id,
                tool=tool,
                agent=agent,
                readback=readback,
                arguments=arguments,
            )
        )
        try:
            decision = await asyncio.wait_for(asyncio.shield(future), self._timeout)
        except TimeoutError:
            decision = "expired"
            await self._bus.publish(
                ApprovalResolved(approval_id=approval.approval_id, decision="expired")
            )
        finally:
            self._pending.pop(approval.approval_id, None)
        return decision in ("approve", "always")

    async def _resolve(self, command: ResolveApproval) -> None:
        entry = self._pending.get(command.approval_id)
        if entry is None or entry[1].done():
            log.info("approval %s is not pending; ignored", command.approval_id)
            return
        approval, future = entry
        if command.decision == "always":
            self._always.add(approval.tool)
            if self._persist is not None:
                self._persist(frozenset(self._always))
        future.set_result(command.decision)
        await self._bus.publish(
            ApprovalResolved(approval_id=command.approval_id, decision=command.decision)
        )

    def is_pending(self, approval_id: str) -> bool:
        return approval_id in self._pending


class AlwaysAllowFile:
    """The user's "always allow" answers, kept across runs in a small JSON file (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> set[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return set()
        tools = data.get("always_allow", []) if isinstance(data, dict) else []
        return {t for t in tools if isinstance(t, str)}

    def save(self, tools: frozenset[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"always_allow": sorted(tools)}, handle, indent=2)
        os.replace(tmp, self.path)
