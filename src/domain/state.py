"""The conversation state machine: one small vocabulary every part of Hark agrees on.

Voice and text share it. A transition not in the table is a bug in the caller, so it raises
``IllegalTransition`` instead of silently leaving the UI and the audio path out of step.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping


class ConversationState(enum.Enum):
    IDLE = "idle"
    LISTENING = "listening"
    USER_SPEAKING = "user_speaking"
    THINKING = "thinking"
    TOOL_RUNNING = "tool_running"
    ASSISTANT_SPEAKING = "assistant_speaking"
    INTERRUPTED = "interrupted"


S = ConversationState

TRANSITIONS: Mapping[ConversationState, frozenset[ConversationState]] = {
    S.IDLE: frozenset({S.LISTENING, S.THINKING}),
    S.LISTENING: frozenset({S.IDLE, S.USER_SPEAKING, S.THINKING}),
    S.USER_SPEAKING: frozenset({S.IDLE, S.LISTENING, S.THINKING}),
    S.THINKING: frozenset(
        {S.IDLE, S.LISTENING, S.TOOL_RUNNING, S.ASSISTANT_SPEAKING, S.INTERRUPTED}
    ),
    S.TOOL_RUNNING: frozenset(
        {S.IDLE, S.LISTENING, S.THINKING, S.ASSISTANT_SPEAKING, S.INTERRUPTED}
    ),
    S.ASSISTANT_SPEAKING: frozenset(
        {S.IDLE, S.LISTENING, S.THINKING, S.TOOL_RUNNING, S.INTERRUPTED}
    ),
    S.INTERRUPTED: frozenset(
        {S.IDLE, S.LISTENING, S.USER_SPEAKING, S.THINKING, S.ASSISTANT_SPEAKING}
    ),
}
"""Allowed moves. INTERRUPTED may return to ASSISTANT_SPEAKING: a false barge-in resumes."""

BUSY_STATES = frozenset({S.THINKING, S.TOOL_RUNNING, S.ASSISTANT_SPEAKING})
"""States in which a turn is in progress and can be cancelled."""


class IllegalTransition(RuntimeError):
    def __init__(self, current: ConversationState, target: ConversationState) -> None:
        super().__init__(f"cannot go from {current.value} to {target.value}")
        self.current = current
        self.target = target


Listener = Callable[[ConversationState, ConversationState], None]


class ConversationStateMachine:
    """Holds the current state and tells listeners about every change."""

    def __init__(self, initial: ConversationState = S.IDLE) -> None:
        self._state = initial
        self._listeners: list[Listener] = []

    @property
    def state(self) -> ConversationState:
        return self._state

    @property
    def busy(self) -> bool:
        return self._state in BUSY_STATES

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def can(self, target: ConversationState) -> bool:
        return target == self._state or target in TRANSITIONS[self._state]

    def to(self, target: ConversationState) -> None:
        """Move to ``target``; staying put is allowed and tells nobody."""
        if target == self._state:
            return
        if target not in TRANSITIONS[self._state]:
            raise IllegalTransition(self._state, target)
        previous, self._state = self._state, target
        for listener in list(self._listeners):
            listener(previous, target)
