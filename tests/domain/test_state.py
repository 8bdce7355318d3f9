"""The conversation state machine allows the moves a conversation makes, and no others."""

from __future__ import annotations

import itertools

import pytest

from src.domain.state import (
    TRANSITIONS,
    ConversationState,
    ConversationStateMachine,
    IllegalTransition,
)

S = ConversationState


def test_a_text_turn_with_a_tool() -> None:
    machine = ConversationStateMachine()
    seen: list[tuple[str, str]] = []
    machine.on_change(lambda a, b: seen.append((a.value, b.value)))
    for target in (S.THINKING, S.TOOL_RUNNING, S.THINKING, S.ASSISTANT_SPEAKING, S.IDLE):
        machine.to(target)
    assert seen == [
        ("idle", "thinking"),
        ("thinking", "tool_running"),
        ("tool_running", "thinking"),
        ("thinking", "assistant_speaking"),
        ("assistant_speaking", "idle"),
    ]


def test_a_voice_turn_with_barge_in_and_a_false_interruption() -> None:
    machine = ConversationStateMachine()
    path = [
        S.LISTENING,
        S.USER_SPEAKING,
        S.THINKING,
        S.ASSISTANT_SPEAKING,
        S.INTERRUPTED,
        S.ASSISTANT_SPEAKING,
        S.INTERRUPTED,
        S.USER_SPEAKING,
        S.THINKING,
        S.LISTENING,
    ]
    for target in path:
        machine.to(target)
    assert machine.state is S.LISTENING


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (S.IDLE, S.ASSISTANT_SPEAKING),
        (S.IDLE, S.TOOL_RUNNING),
        (S.IDLE, S.INTERRUPTED),
        (S.LISTENING, S.ASSISTANT_SPEAKING),
        (S.USER_SPEAKING, S.TOOL_RUNNING),
        (S.INTERRUPTED, S.TOOL_RUNNING),
    ],
)
def test_illegal_moves_raise_and_change_nothing(
    start: ConversationState, target: ConversationState
) -> None:
    machine = ConversationStateMachine(start)
    heard: list[object] = []
    machine.on_change(lambda a, b: heard.append(b))
    with pytest.raises(IllegalTransition) as err:
        machine.to(target)
    assert machine.state is start and heard == []
    assert start.value in str(err.value) and target.value in str(err.value)


def test_the_table_is_complete_and_consistent() -> None:
    assert set(TRANSITIONS) == set(S)
    for state, targets in TRANSITIONS.items():
        assert state not in targets
    for a, b in itertools.product(S, S):
        machine = ConversationStateMachine(a)
        assert machine.can(b) == (a == b or b in TRANSITIONS[a])


def test_staying_put_is_silent() -> None:
    machine = ConversationStateMachine(S.THINKING)
    heard: list[object] = []
    machine.on_change(lambda a, b: heard.append(b))
    machine.to(S.THINKING)
    assert heard == [] and machine.busy
