"""The clipboard connector: program choice, real subprocesses through fake programs, failures."""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError, ToolDef, render_progress
from src.connectors.clipboard import CONNECTOR, NONE_INSTALLED, CommandResult, run_command


def make_program(folder: Path, name: str, script: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


class FakeRunner:
    """Records every command and answers from a script of results."""

    def __init__(self, *results: CommandResult | BaseException) -> None:
        self.results = list(results)
        self.calls: list[tuple[list[str], bytes | None, bool]] = []

    async def __call__(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        capture: bool = True,
        timeout: float = 5.0,
        detach: bool = False,
    ) -> CommandResult:
        self.calls.append((list(argv), stdin, capture))
        result = self.results.pop(0) if self.results else CommandResult(0)
        if isinstance(result, BaseException):
            raise result
        return result

    def programs(self) -> list[list[str]]:
        return [[Path(argv[0]).name, *argv[1:]] for argv, _, _ in self.calls]


def tools_for(settings: Any) -> dict[str, ToolDef]:
    ctx = ConnectorContext(http=httpx.AsyncClient(), settings=settings)
    return {tool.name: tool for tool in CONNECTOR.build_tools(ctx)}


def settings_with(
    tmp_path: Path, programs: Sequence[str], runner: FakeRunner | None = None, **kw: Any
) -> SimpleNamespace:
    for program in programs:
        make_program(tmp_path, program, "exit 0\n")
    return SimpleNamespace(
        command_runner=runner,
        command_path=str(tmp_path),
        environ=kw.pop("environ", {"DISPLAY": ":0"}),
        platform=kw.pop("platform", "linux"),
        **kw,
    )


# ---------------------------------------------------------------- real subprocesses


async def test_copy_then_read_through_real_programs(tmp_path: Path) -> None:
    """wl-copy forks a helper that keeps its output open, as the real one does."""
    store, pidfile = tmp_path / "store", tmp_path / "helper.pid"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    make_program(
        bin_dir,
        "wl-copy",
        f'cat > "{store}"\nsleep 30 &\necho $! > "{pidfile}"\nexit 0\n',
    )
    make_program(bin_dir, "wl-paste", f'[ "$1" = "--no-newline" ] || exit 9\ncat "{store}"\n')
    settings = SimpleNamespace(
        command_path=str(bin_dir), environ={"WAYLAND_DISPLAY": "wayland-0"}, platform="linux"
    )
    tools = tools_for(settings)
    try:
        copied = await tools["copy_to_clipboard"].func(text="Ünïcode ✓ line\nsecond")
        read = await tools["read_clipboard"].func()
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGTERM)  # the helper this test started

    assert copied == "Copied to the clipboard."
    assert store.read_text(encoding="utf-8") == "Ünïcode ✓ line\nsecond"
    assert read == "The clipboard holds:\nÜnïcode ✓ line\nsecond"


async def test_run_command_captures_output_and_errors(tmp_path: Path) -> None:
    program = make_program(tmp_path, "tool", 'cat\necho "bad thing" >&2\nexit 3\n')

    captured = await run_command([str(program)], stdin=b"hello")
    uncaptured = await run_command([str(program)], stdin=b"hello", capture=False)

    assert captured == CommandResult(3, b"hello", b"bad thing\n")
    assert uncaptured == CommandResult(3, b"", b"bad thing\n")
    assert uncaptured.error_line == "bad thing"


async def test_run_command_missing_program(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        await run_command([str(tmp_path / "nope")])


# ---------------------------------------------------------------- program choice


@pytest.mark.parametrize(
    ("installed", "environ", "platform", "expected"),
    [
        (["xclip", "wl-paste", "wl-copy"], {"WAYLAND_DISPLAY": "w-0"}, "linux", "wl-paste"),
        (["xclip", "wl-paste", "wl-copy"], {"DISPLAY": ":0"}, "linux", "xclip"),
        (["xsel"], {"DISPLAY": ":0"}, "linux", "xsel"),
        (["wl-paste", "wl-copy"], {"DISPLAY": ":0"}, "linux", "wl-paste"),
        (["pbcopy", "pbpaste", "xclip"], {}, "darwin", "pbpaste"),
        (["wl-paste"], {"WAYLAND_DISPLAY": "w-0"}, "linux", None),  # half a pair is no use
    ],
)
async def test_the_program_that_fits_the_session(
    tmp_path: Path,
    installed: list[str],
    environ: dict[str, str],
    platform: str,
    expected: str | None,
) -> None:
    runner = FakeRunner(CommandResult(0, b"hi"))
    settings = settings_with(tmp_path, installed, runner, environ=environ, platform=platform)
    tool = tools_for(settings)["read_clipboard"]

    if expected is None:
        with pytest.raises(ConnectorError) as caught:
            await tool.func()
        assert caught.value.message == NONE_INSTALLED
        assert runner.calls == []
        return
    await tool.func()
    assert runner.programs()[0][0] == expected


async def test_exact_commands(tmp_path: Path) -> None:
    runner = FakeRunner(CommandResult(0, b"text"), CommandResult(0))
    tools = tools_for(settings_with(tmp_path, ["xclip"], runner))

    await tools["read_clipboard"].func()
    await tools["copy_to_clipboard"].func(text="copy me")

    assert runner.programs() == [
        ["xclip", "-selection", "clipboard", "-out"],
        ["xclip", "-selection", "clipboard", "-in"],
    ]
    (_, read_stdin, read_capture), (_, copy_stdin, copy_capture) = runner.calls
    assert (read_stdin, read_capture) == (None, True)
    assert (copy_stdin, copy_capture) == (b"copy me", False)
    assert Path(runner.calls[0][0][0]) == tmp_path / "xclip"  # the resolved program, no PATH


async def test_none_installed(tmp_path: Path) -> None:
    runner = FakeRunner()
    tools = tools_for(settings_with(tmp_path, [], runner))

    with pytest.raises(ConnectorError) as caught:
        await tools["copy_to_clipboard"].func(text="x")

    assert caught.value.message == NONE_INSTALLED


# ---------------------------------------------------------------- what the user hears


@pytest.mark.parametrize(
    "result",
    [
        CommandResult(0, b""),
        CommandResult(0, b"  \n"),
        CommandResult(1, b"", b"Nothing is copied\n"),
        CommandResult(1, b"", b"Error: target UTF8_STRING not available\n"),
        CommandResult(1, b"", b""),
    ],
)
async def test_empty_clipboard(tmp_path: Path, result: CommandResult) -> None:
    tools = tools_for(settings_with(tmp_path, ["xclip"], FakeRunner(result)))

    assert await tools["read_clipboard"].func() == "The clipboard is empty."


async def test_long_text_is_cut(tmp_path: Path) -> None:
    tools = tools_for(settings_with(tmp_path, ["xclip"], FakeRunner(CommandResult(0, b"a" * 5000))))

    said = await tools["read_clipboard"].func()

    assert said.startswith("The clipboard holds 5,000 characters; the start is:\n")
    assert len(said) < 4100


async def test_not_text(tmp_path: Path) -> None:
    result = CommandResult(0, b"\x89PNG\r\n\x1a\n\xff\xfe")
    tools = tools_for(settings_with(tmp_path, ["xclip"], FakeRunner(result)))

    with pytest.raises(ConnectorError, match="isn't text, like an image"):
        await tools["read_clipboard"].func()


@pytest.mark.parametrize(
    ("result", "sentence"),
    [
        (
            CommandResult(1, b"", b"Error: Can't open display: (null)\n"),
            "I can't reach the desktop's clipboard from here: there's no graphical session.",
        ),
        (
            CommandResult(1, b"", b"xclip: out of memory\n"),
            "Copying to the clipboard failed (xclip: xclip: out of memory).",
        ),
        (CommandResult(2), "Copying to the clipboard failed (xclip exited with code 2)."),
        (TimeoutError(), "xclip didn't respond, so I stopped it."),
        (PermissionError(13, "Permission denied"), "I couldn't start xclip: Permission denied."),
    ],
)
async def test_copy_failures(
    tmp_path: Path, result: CommandResult | BaseException, sentence: str
) -> None:
    tools = tools_for(settings_with(tmp_path, ["xclip"], FakeRunner(result)))

    with pytest.raises(ConnectorError) as caught:
        await tools["copy_to_clipboard"].func(text="x")

    assert caught.value.message == sentence


async def test_read_failure_with_a_message(tmp_path: Path) -> None:
    result = CommandResult(1, b"", b"Failed to connect to a Wayland server\n")
    settings = settings_with(
        tmp_path, ["wl-copy", "wl-paste"], FakeRunner(result), environ={"WAYLAND_DISPLAY": "w"}
    )

    with pytest.raises(ConnectorError, match="there's no graphical session"):
        await tools_for(settings)["read_clipboard"].func()


async def test_copy_refuses_empty_and_huge_text_without_running_anything(tmp_path: Path) -> None:
    runner = FakeRunner()
    tools = tools_for(settings_with(tmp_path, ["xclip"], runner))

    with pytest.raises(ConnectorError, match=r"There's nothing to copy\."):
        await tools["copy_to_clipboard"].func(text="")
    with pytest.raises(ConnectorError, match="too much to copy"):
        await tools["copy_to_clipboard"].func(text="x" * 100_001)
    assert runner.calls == []


def test_metadata() -> None:
    tools = tools_for(None)
    assert sorted(tools) == ["copy_to_clipboard", "read_clipboard"]
    copy = tools["copy_to_clipboard"]
    assert copy.side_effect and not tools["read_clipboard"].side_effect
    assert render_progress(copy.readback, {"text": "42 Main St"}) == (
        "Copy to the clipboard: 42 Main St"
    )
    assert CONNECTOR.requires_secrets == ()
