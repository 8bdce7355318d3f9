"""Markdown that grows as the answer streams, without re-rendering on every delta.

Models send many small deltas a second; parsing and laying out Markdown for each would make a
long answer stutter. Deltas collect in a buffer and are appended at most ``FLUSH_INTERVAL``
apart; ``Markdown.append`` itself re-parses only from the last block, so each flush is cheap.
"""

from __future__ import annotations

import asyncio

from textual.timer import Timer
from textual.widgets import Markdown

FLUSH_INTERVAL = 1 / 12
"""Seconds between re-renders while text streams (about twelve a second)."""


class StreamingMarkdown(Markdown):
    """A Markdown block fed piece by piece; ``flush`` shows everything fed so far."""

    def __init__(self, markdown: str = "", *, classes: str | None = None) -> None:
        super().__init__(markdown, classes=classes, open_links=False)
        self._pending: list[str] = []
        self._timer: Timer | None = None
        self._drawing = asyncio.Lock()

    @property
    def text(self) -> str:
        """All the text fed so far, drawn or not."""
        return self.source + "".join(self._pending)

    def feed(self, fragment: str) -> None:
        """Queue a fragment; it is drawn at the next flush."""
        if not fragment:
            return
        self._pending.append(fragment)
        if self._timer is None:
            self._timer = self.set_timer(FLUSH_INTERVAL, self._timer_fired, name="markdown-flush")

    async def flush(self) -> None:
        """Draw everything queued now (the answer ended, or the view needs it whole)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        await self._draw()

    async def _timer_fired(self) -> None:
        # Runs inside the timer's own task: forget the timer, never stop (cancel) it.
        self._timer = None
        await self._draw()

    async def _draw(self) -> None:
        # One append at a time: ``Markdown.append`` reads its parse position when called, so
        # two in flight would parse the same lines twice.
        async with self._drawing:
            if not self._pending:
                return
            fragment = "".join(self._pending)
            self._pending.clear()
            await self.append(fragment)
