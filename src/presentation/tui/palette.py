"""The command palette (Ctrl+P) offers every Hark action by name, from the action table."""

from __future__ import annotations

from collections.abc import Coroutine
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from src.presentation.tui.actions import ACTIONS, ActionSpec


def _label(spec: ActionSpec) -> str:
    return f"{spec.title}  ({spec.shown_keys})" if spec.shown_keys else spec.title


class HarkCommands(Provider):
    """Lists the actions of ``ACTIONS``; choosing one runs it as if its key was pressed."""

    def _run(self, spec: ActionSpec) -> partial[Coroutine[Any, Any, bool]]:
        return partial(self.app.run_action, spec.action)

    async def discover(self) -> Hits:
        for spec in ACTIONS:
            yield DiscoveryHit(_label(spec), self._run(spec), help=spec.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for spec in ACTIONS:
            label = _label(spec)
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), self._run(spec), help=spec.help)
