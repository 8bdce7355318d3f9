"""The desktop clipboard: read what's on it, or copy text to it (after the user approves).

There is no portable clipboard API for a terminal program, so this drives whichever of the
usual command-line tools exists: ``wl-copy``/``wl-paste`` on Wayland, ``xclip`` or ``xsel`` on
X11, ``pbcopy``/``pbpaste`` on macOS. The session type decides the preference (a Wayland
session may also have XWayland's xclip, which would see a different clipboard).

This module also holds ``run_command``, the small async subprocess runner the other desktop
connectors (``desktop_open``, ``timers``) share, and the ``command_tools`` hook through which
tests inject a fake runner, a PATH of fake programs, the environment and the platform.
Copy tools fork a helper that keeps serving the selection, so copying never waits for the
tool's output pipes to close: standard output is discarded and errors go to a temporary file.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef
from src.events.tasks import TaskOwner

NAME = "clipboard"
COMMAND_TIMEOUT_S = 5.0
MAX_READ_CHARS = 4000
MAX_COPY_CHARS = 100_000

_EMPTY = re.compile(r"nothing is copied|no selection|not available|no suitable type", re.I)
_NO_DISPLAY = re.compile(r"can't open display|cannot open display|wayland", re.I)

_reapers = TaskOwner("detached-commands")


@dataclass(frozen=True)
class CommandResult:
    """How a program ended; ``returncode`` is None if it was left running (``detach``)."""

    returncode: int | None
    stdout: bytes = b""
    stderr: bytes = b""

    @property
    def error_line(self) -> str:
        text = self.stderr.decode("utf-8", "replace").strip()
        return text.splitlines()[0] if text else ""


class CommandRunner(Protocol):
    async def __call__(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        capture: bool = True,
        timeout: float = COMMAND_TIMEOUT_S,
        detach: bool = False,
    ) -> CommandResult: ...


async def run_command(
    argv: Sequence[str],
    *,
    stdin: bytes | None = None,
    capture: bool = True,
    timeout: float = COMMAND_TIMEOUT_S,
    detach: bool = False,
) -> CommandResult:
    """Run a program without a shell, feeding ``stdin``; never blocks past ``timeout``.

    ``capture=False`` discards standard output and collects errors in a temporary file, for
    programs that fork a helper holding their pipes open (clipboard owners, browsers).
    ``detach=True`` leaves a program that is still running at the timeout alone (it was
    launched; it is reaped in the background) instead of killing it. Raises ``OSError`` if
    the program can't be started and ``TimeoutError`` if a non-detached one overruns.
    """
    errors: IO[bytes] | None = None if capture else tempfile.TemporaryFile()  # noqa: SIM115
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE if capture else errors,
            start_new_session=detach,
        )
        try:
            async with asyncio.timeout(timeout):
                out, err = await process.communicate(stdin)
        except TimeoutError:
            if detach:
                _reapers.spawn(process.wait(), name=os.path.basename(argv[0]))
                return CommandResult(returncode=None)
            process.kill()
            await process.wait()
            raise
        if errors is not None:
            errors.seek(0)
            err = errors.read()
        return CommandResult(process.returncode, out or b"", err or b"")
    finally:
        if errors is not None:
            errors.close()


@dataclass(frozen=True)
class CommandTools:
    """How desktop connectors find and run programs; tests swap any part through settings."""

    run: CommandRunner
    path: str | None
    environ: Mapping[str, str]
    platform: str

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=self.path)


def command_tools(settings: Any) -> CommandTools:
    """Settings hooks: ``command_runner``, ``command_path``, ``environ``, ``platform``."""
    runner = getattr(settings, "command_runner", None)
    path = getattr(settings, "command_path", None)
    environ = getattr(settings, "environ", None)
    platform = getattr(settings, "platform", None)
    return CommandTools(
        run=runner if runner is not None else run_command,
        path=str(path) if path else None,
        environ=environ if environ is not None else os.environ,
        platform=str(platform or sys.platform),
    )


@dataclass(frozen=True)
class ClipboardProgram:
    label: str
    paste: tuple[str, ...]
    copy: tuple[str, ...]


WL = ClipboardProgram("wl-clipboard", ("wl-paste", "--no-newline"), ("wl-copy",))
XCLIP = ClipboardProgram(
    "xclip",
    ("xclip", "-selection", "clipboard", "-out"),
    ("xclip", "-selection", "clipboard", "-in"),
)
XSEL = ClipboardProgram(
    "xsel", ("xsel", "--clipboard", "--output"), ("xsel", "--clipboard", "--input")
)
PB = ClipboardProgram("pbcopy", ("pbpaste",), ("pbcopy",))

NONE_INSTALLED = (
    "I can't reach the clipboard: none of wl-clipboard, xclip, xsel or pbcopy is installed. "
    "Install one (on Linux: wl-clipboard for Wayland, or xclip for X11)."
)


def preferred_programs(tools: CommandTools) -> list[ClipboardProgram]:
    """Candidates in order of fit for this session."""
    if tools.platform == "darwin":
        return [PB, WL, XCLIP, XSEL]
    if tools.environ.get("WAYLAND_DISPLAY"):
        return [WL, XCLIP, XSEL, PB]
    return [XCLIP, XSEL, WL, PB]


def find_program(tools: CommandTools) -> tuple[ClipboardProgram, list[str], list[str]]:
    """The first clipboard program whose commands are installed, with resolved paths."""
    for program in preferred_programs(tools):
        paste = tools.which(program.paste[0])
        copy = tools.which(program.copy[0])
        if paste and copy:
            return program, [paste, *program.paste[1:]], [copy, *program.copy[1:]]
    raise ConnectorError(NONE_INSTALLED)


class Clipboard:
    def __init__(self, tools: CommandTools) -> None:
        self._tools = tools

    async def read(self) -> str:
        program, paste, _copy = find_program(self._tools)
        result = await self._run(program, paste, stdin=None, capture=True)
        if result.returncode != 0:
            message = result.error_line
            if _EMPTY.search(message) or not message:
                return ""
            raise _failure(program, "Reading", result)
        try:
            return result.stdout.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConnectorError(
                "The clipboard holds something that isn't text, like an image."
            ) from exc

    async def write(self, text: str) -> None:
        program, _paste, copy = find_program(self._tools)
        result = await self._run(program, copy, stdin=text.encode("utf-8"), capture=False)
        if result.returncode != 0:
            raise _failure(program, "Copying to", result)

    async def _run(
        self, program: ClipboardProgram, argv: list[str], *, stdin: bytes | None, capture: bool
    ) -> CommandResult:
        try:
            return await self._tools.run(argv, stdin=stdin, capture=capture)
        except TimeoutError as exc:  # before OSError, of which it is a subclass
            raise ConnectorError(f"{program.label} didn't respond, so I stopped it.") from exc
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ConnectorError(f"I couldn't start {program.label}: {reason}.") from exc


def _failure(program: ClipboardProgram, doing: str, result: CommandResult) -> ConnectorError:
    message = result.error_line
    if _NO_DISPLAY.search(message):
        return ConnectorError(
            "I can't reach the desktop's clipboard from here: there's no graphical session."
        )
    detail = f": {message}" if message else f" exited with code {result.returncode}"
    return ConnectorError(f"{doing} the clipboard failed ({program.label}{detail}).")


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    def clipboard() -> Clipboard:
        return Clipboard(command_tools(ctx.settings))  # read settings at call time

    async def read_clipboard() -> str:
        """Read the text currently on the clipboard (what the user last copied)."""
        text = await clipboard().read()
        if not text.strip():
            return "The clipboard is empty."
        if len(text) > MAX_READ_CHARS:
            return (
                f"The clipboard holds {len(text):,} characters; the start is:\n"
                f"{text[:MAX_READ_CHARS]}"
            )
        return f"The clipboard holds:\n{text}"

    async def copy_to_clipboard(text: str) -> str:
        """Put text on the clipboard, replacing what's there, so the user can paste it.

        Args:
            text: Exactly the text to copy.
        """
        if not text:
            raise ConnectorError("There's nothing to copy.")
        if len(text) > MAX_COPY_CHARS:
            raise ConnectorError(f"That's too much to copy (over {MAX_COPY_CHARS:,} characters).")
        await clipboard().write(text)
        return "Copied to the clipboard."

    return [
        ToolDef(read_clipboard, progress="Reading the clipboard..."),
        ToolDef(
            copy_to_clipboard,
            progress="Copying to the clipboard...",
            side_effect=True,
            readback="Copy to the clipboard: {text}",
        ),
    ]


CONNECTOR = Connector(
    name=NAME,
    title="Clipboard",
    description=(
        "The computer's clipboard, for copy and paste: says what the user has copied, and "
        "puts words, numbers or links on the clipboard to paste elsewhere."
    ),
    instructions=(
        "You read and set the clipboard. Read it only when the user asks about what they "
        "copied; it may hold private text, so summarise it briefly instead of reading long "
        "text aloud. To copy, pass exactly the text to copy; Hark reads it back and asks "
        "first. If a tool reports a problem, say that sentence plainly."
    ),
    build_tools=build_tools,
    examples=(
        "What's on my clipboard?",
        "Summarise what I just copied.",
        "Copy that address to my clipboard.",
    ),
    followups=("Summarise what's on my clipboard",),
)
