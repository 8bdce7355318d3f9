"""Line mode (``--text-only``): a prompt, streamed answers, tool progress, for terminals and pipes.

It is a front end on the bus like the TUI and the socket: it publishes ``SubmitText`` and
``CancelTurn`` and renders the events that come back. Lines are read on a daemon thread (so
readline editing works and a blocked read never holds up exit), one at a time, only when
the previous answer is finished, so the prompt never lands in the middle of an answer.

Interactive: Ctrl+C during an answer cancels that answer; at the prompt it shows a hint;
Ctrl+D exits. Piped: every line is answered in order, then Hark exits 0 (1 if a turn failed);
progress lines go to stderr so stdout carries only the answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import TextIO

from src.events.approvals import ApprovalRequested
from src.events.bus import EventBus
from src.events.commands import CancelTurn, ResolveApproval, SubmitText
from src.events.conversation import (
    AssistantMessageCompleted,
    AssistantTextDelta,
    ConversationOpened,
    ErrorReported,
    FollowUpsSuggested,
    HandoffOccurred,
    ToolCallStarted,
    TurnCancelled,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
)

PROMPT = "you> "
QUIT_WORDS = {"/quit", "/exit", ":q"}
APPROVAL_ANSWERS = {
    "y": "approve",
    "yes": "approve",
    "n": "reject",
    "no": "reject",
    "a": "always",
    "always": "always",
}


@dataclass
class LineModeIO:
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    @property
    def interactive(self) -> bool:
        return self.stdin.isatty()


class _LineReader:
    """Reads one line per request on a daemon thread; ``None`` means end of input."""

    def __init__(self, loop: asyncio.AbstractEventLoop, io: LineModeIO) -> None:
        self._loop = loop
        self._io = io
        self._want = threading.Event()
        self._prompt = PROMPT
        self._ended = False
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._thread = threading.Thread(target=self._run, name="hark-stdin", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self._io.interactive:
            with contextlib.suppress(ImportError):
                import readline  # noqa: F401  (line editing and history for input())
        while True:
            self._want.wait()
            self._want.clear()
            try:
                if self._io.interactive and self._io.stdin is sys.stdin:
                    line: str | None = input(self._prompt)
                else:
                    raw = self._io.stdin.readline()
                    line = raw.rstrip("\r\n") if raw else None
            except EOFError:
                line = None
            except (OSError, ValueError):
                line = None
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            if line is None:
                return

    async def next_line(self, prompt: str = PROMPT) -> str | None:
        if self._ended:
            return None  # the reader thread has finished: input is over for good
        self._prompt = prompt
        self._want.set()
        line = await self._lines.get()
        self._ended = line is None
        return line


class LineMode:
    def __init__(
        self,
        bus: EventBus,
        io: LineModeIO | None = None,
        *,
        ready: asyncio.Future[None] | None = None,
    ) -> None:
        self._bus = bus
        self._io = io or LineModeIO()
        self._ready = ready
        self._turn_done = asyncio.Event()
        self._approvals: asyncio.Queue[ApprovalRequested] = asyncio.Queue()
        self._in_turn = False
        self._at_line_start = True
        self._streamed = False
        self.failures = 0

    # -- output ---------------------------------------------------------------------------
    @property
    def _info(self) -> TextIO:
        return self._io.stdout if self._io.interactive else self._io.stderr

    def _say_info(self, text: str) -> None:
        if not self._at_line_start and self._info is self._io.stdout:
            self._io.stdout.write("\n")
            self._at_line_start = True
        dim = self._info.isatty()
        self._info.write(f"\x1b[2m{text}\x1b[0m\n" if dim else f"{text}\n")
        self._info.flush()

    def _write(self, text: str) -> None:
        self._io.stdout.write(text)
        self._io.stdout.flush()
        if text:
            self._at_line_start = text.endswith("\n")

    def _end_answer(self) -> None:
        if not self._at_line_start:
            self._write("\n")

    async def _render(self, event: object) -> None:
        if isinstance(event, ConversationOpened):
            if event.resumed and self._io.interactive:
                self._say_info(f"Resuming “{event.title}” ({event.turn_count} turns).")
        elif isinstance(event, TurnStarted):
            self._streamed = False
        elif isinstance(event, AssistantTextDelta):
            self._streamed = True
            self._write(event.delta)
        elif isinstance(event, ToolCallStarted):
            if not event.tool.startswith("transfer_to_"):
                self._say_info(f"  … {event.progress}")
        elif isinstance(event, HandoffOccurred):
            self._say_info(f"  ↪ {event.from_agent} → {event.to_agent}")
        elif isinstance(event, AssistantMessageCompleted):
            if not self._streamed and event.text:
                self._write(event.text)
            self._end_answer()
        elif isinstance(event, FollowUpsSuggested):
            self._say_info("  Try: " + " | ".join(event.suggestions))
        elif isinstance(event, TurnCompleted):
            self._finish_turn()
        elif isinstance(event, TurnCancelled):
            self._end_answer()
            self._say_info("  (answer cancelled)")
            self._finish_turn()
        elif isinstance(event, TurnFailed):
            self._end_answer()
            self.failures += 1
            self._io.stderr.write(f"hark: {event.message}\n")
            self._io.stderr.flush()
            self._finish_turn()
        elif isinstance(event, ApprovalRequested):
            self._approvals.put_nowait(event)
        elif isinstance(event, ErrorReported):
            self._io.stderr.write(f"hark: {event.message}\n")
            self._io.stderr.flush()

    async def _wait_for_turn(self, reader: _LineReader) -> None:
        """Wait for the answer, asking the user about any side-effecting tool on the way."""
        done = asyncio.ensure_future(self._turn_done.wait())
        try:
            while not done.done():
                asking = asyncio.ensure_future(self._approvals.get())
                await asyncio.wait({done, asking}, return_when=asyncio.FIRST_COMPLETED)
                if not asking.done():
                    asking.cancel()
                    break
                await self._ask_approval(reader, asking.result())
        finally:
            done.cancel()

    async def _ask_approval(self, reader: _LineReader, request: ApprovalRequested) -> None:
        self._end_answer()
        self._io.stdout.write(f"Hark wants to: {request.readback}\n")
        self._io.stdout.flush()
        decision: str | None = None
        while decision is None:
            line = await reader.next_line("Approve? [y]es / [n]o / [a]lways for this tool: ")
            if line is None:
                decision = "reject"  # end of input is never consent
                break
            decision = APPROVAL_ANSWERS.get(line.strip().lower())
            if decision is None:
                self._io.stdout.write("Please answer y, n or a.\n")
        self._at_line_start = True
        await self._bus.publish(
            ResolveApproval(approval_id=request.approval_id, decision=decision)  # type: ignore[arg-type]
        )

    def _finish_turn(self) -> None:
        self._in_turn = False
        self._turn_done.set()

    # -- input ----------------------------------------------------------------------------
    def _on_sigint(self) -> None:
        if self._in_turn:
            asyncio.get_running_loop().create_task(self._bus.publish(CancelTurn()))
        elif self._io.interactive:
            self._io.stdout.write("\n(Press Ctrl+D or type /quit to leave.)\n" + PROMPT)
            self._io.stdout.flush()
        else:
            raise KeyboardInterrupt

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        sub = self._bus.subscribe(
            (
                ConversationOpened,
                TurnStarted,
                AssistantTextDelta,
                ToolCallStarted,
                HandoffOccurred,
                AssistantMessageCompleted,
                FollowUpsSuggested,
                TurnCompleted,
                TurnCancelled,
                TurnFailed,
                ErrorReported,
                ApprovalRequested,
            ),
            self._render,
            name="line_mode",
        )
        installed = _install_sigint(loop, self._on_sigint)
        reader = _LineReader(loop, self._io)
        if self._io.interactive:
            self._say_info("Hark is listening in text mode. Ctrl+C stops an answer, Ctrl+D exits.")
        try:
            while True:
                line = await reader.next_line()
                if line is None:
                    if self._io.interactive:
                        self._write("\n")
                    break
                text = line.strip()
                if not text:
                    continue
                if text in QUIT_WORDS:
                    break
                if self._ready is not None and not self._ready.done():
                    await asyncio.wait({self._ready})  # the assistant is still starting
                if self._ready is not None and self._ready.exception() is not None:
                    break  # it could not start; the caller reports why
                self._turn_done.clear()
                self._in_turn = True
                await self._bus.publish(SubmitText(text=text))
                await self._wait_for_turn(reader)
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGINT)
            await self._bus.drain()
            await self._bus.unsubscribe(sub)
        return 1 if self.failures and not self._io.interactive else 0


def _install_sigint(loop: asyncio.AbstractEventLoop, handler: object) -> bool:
    try:
        loop.add_signal_handler(signal.SIGINT, handler)  # type: ignore[arg-type]
    except (NotImplementedError, RuntimeError, ValueError):
        return False
    return True
