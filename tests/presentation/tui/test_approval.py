"""Approvals: the modal reads back exactly what will happen and answers with y, n or a."""

from __future__ import annotations

from textual.widgets import Static

from src.events.approvals import ApprovalRequested, ApprovalResolved
from src.events.bus import EventBus
from src.events.commands import ResolveApproval
from src.presentation.tui.app import HarkApp, make_app
from src.presentation.tui.screens.approval import ApprovalScreen
from src.presentation.tui.screens.conversation import ConversationScreen

from .conftest import CommandLog, settle, wait_until

READBACK = "Send an email to Ana <ana@example.com>: 'See you at 7 [tonight]' *as is*."


def request(approval_id: str = "ap_1", readback: str = READBACK) -> ApprovalRequested:
    return ApprovalRequested(
        approval_id=approval_id,
        tool="send_email",
        agent="mail",
        readback=readback,
        arguments='{"to": "ana@example.com"}',
    )


async def test_the_modal_reads_back_exactly_and_y_approves(app: HarkApp, bus: EventBus) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await bus.publish(request())
        await settle(pilot, bus)
        assert isinstance(app.screen, ApprovalScreen)
        shown = app.screen.query_one("#readback", Static)
        assert str(shown.render()) == READBACK
        await pilot.press("y")
        await wait_until(pilot, lambda: log.of(ResolveApproval), "decision published")
        assert log.of(ResolveApproval) == [
            ResolveApproval(
                approval_id="ap_1", decision="approve", ts=log.of(ResolveApproval)[0].ts
            )
        ]
        assert isinstance(app.screen, ConversationScreen)


async def test_n_rejects_and_a_always_allows(app: HarkApp, bus: EventBus) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await bus.publish(request("ap_1"))
        await bus.publish(request("ap_2"))
        await settle(pilot, bus)
        # One at a time: the second waits for the first.
        assert isinstance(app.screen, ApprovalScreen) and app.screen.approval_id == "ap_1"
        await pilot.press("n")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, ApprovalScreen) and app.screen.approval_id == "ap_2",
            "second approval shown",
        )
        await pilot.press("a")
        await wait_until(pilot, lambda: len(log.of(ResolveApproval)) == 2, "two decisions")
        assert [(c.approval_id, c.decision) for c in log.of(ResolveApproval)] == [
            ("ap_1", "reject"),
            ("ap_2", "always"),
        ]


async def test_settled_elsewhere_closes_the_modal_without_publishing(
    app: HarkApp, bus: EventBus
) -> None:
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await bus.publish(request("ap_1"))
        await bus.publish(request("ap_2"))
        await settle(pilot, bus)
        await bus.publish(ApprovalResolved(approval_id="ap_2", decision="approve"))  # queued one
        await bus.publish(ApprovalResolved(approval_id="ap_1", decision="approve"))  # shown one
        await settle(pilot, bus)
        await wait_until(pilot, lambda: isinstance(app.screen, ConversationScreen), "closed")
        assert log.of(ResolveApproval) == []


async def test_keys_do_nothing_until_the_modal_is_armed(bus: EventBus) -> None:
    """Someone typing when the modal pops up must not approve with a stray letter."""
    app = make_app(bus, approval_arm_seconds=30)
    log = CommandLog()
    async with app.run_test() as pilot:
        log.attach(bus)
        await bus.publish(request())
        await settle(pilot, bus)
        modal = app.screen
        assert isinstance(modal, ApprovalScreen)
        assert not modal.armed
        await pilot.press("a", "n", "d", "enter", "y")
        await settle(pilot, bus)
        assert log.of(ResolveApproval) == []
        assert isinstance(app.screen, ApprovalScreen) and app.screen.approval_id == "ap_1"
        modal.armed = True
        await pilot.press("n")
        await wait_until(pilot, lambda: log.of(ResolveApproval), "decision after arming")
        assert log.of(ResolveApproval)[0].decision == "reject"


async def test_other_screens_wait_while_an_approval_is_open(app: HarkApp, bus: EventBus) -> None:
    async with app.run_test() as pilot:
        await bus.publish(request())
        await settle(pilot, bus)
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert isinstance(app.screen, ApprovalScreen)
