"""Opening links and files: what is allowed, what reaches the handler, what the user hears."""

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
from src.connectors.clipboard import CommandResult, run_command
from src.connectors.desktop_open import CONNECTOR, resolve_target


def make_program(folder: Path, name: str, script: str = "exit 0\n") -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


OK = CommandResult(0)


class FakeRunner:
    def __init__(self, result: CommandResult | BaseException = OK) -> None:
        self.result = result
        self.calls: list[dict[str, Any]] = []

    async def __call__(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        capture: bool = True,
        timeout: float = 5.0,
        detach: bool = False,
    ) -> CommandResult:
        self.calls.append(
            {"argv": list(argv), "stdin": stdin, "capture": capture, "detach": detach}
        )
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    (folder / "Documents").mkdir(parents=True)
    (folder / "Documents" / "report.pdf").write_bytes(b"%PDF-1.7")
    monkeypatch.setenv("HOME", str(folder))
    return folder


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def tool_for(
    bin_dir: Path,
    runner: FakeRunner | None,
    *,
    programs: Sequence[str] = ("xdg-open",),
    environ: dict[str, str] | None = None,
    platform: str = "linux",
) -> ToolDef:
    for name in programs:
        make_program(bin_dir, name)
    settings = SimpleNamespace(
        command_runner=runner,
        command_path=str(bin_dir),
        environ={"DISPLAY": ":0"} if environ is None else environ,
        platform=platform,
    )
    ctx = ConnectorContext(http=httpx.AsyncClient(), settings=settings)
    (tool,) = CONNECTOR.build_tools(ctx)
    return tool


# ---------------------------------------------------------------- what gets opened


async def test_a_web_link(home: Path, bin_dir: Path) -> None:
    runner = FakeRunner()
    tool = tool_for(bin_dir, runner)

    said = await tool.func(target=" https://example.com/a?b=1&c=2 ")

    assert said == "Opened https://example.com/a?b=1&c=2 in your browser."
    (call,) = runner.calls
    assert call["argv"] == [str(bin_dir / "xdg-open"), "https://example.com/a?b=1&c=2"]
    assert call["capture"] is False and call["detach"] is True and call["stdin"] is None


async def test_a_bare_domain_means_https(home: Path, bin_dir: Path) -> None:
    runner = FakeRunner()

    said = await tool_for(bin_dir, runner).func(target="python.org/downloads")

    assert said == "Opened https://python.org/downloads in your browser."


@pytest.mark.parametrize(
    ("target", "opened", "said"),
    [
        ("~/Documents/report.pdf", "Documents/report.pdf", "Opened report.pdf."),
        ("Documents/report.pdf", "Documents/report.pdf", "Opened report.pdf."),
        ("~/Documents", "Documents", "Opened the folder Documents."),
    ],
)
async def test_local_files_and_folders(
    home: Path, bin_dir: Path, target: str, opened: str, said: str
) -> None:
    runner = FakeRunner()

    answer = await tool_for(bin_dir, runner).func(target=target)

    assert answer == said
    assert runner.calls[0]["argv"][1] == str(home / opened)


async def test_a_file_url(home: Path, bin_dir: Path) -> None:
    runner = FakeRunner()
    report = home / "Documents" / "report.pdf"

    await tool_for(bin_dir, runner).func(target=report.as_uri())

    assert runner.calls[0]["argv"][1] == str(report)


async def test_macos_and_windows_handlers(home: Path, bin_dir: Path) -> None:
    mac = FakeRunner()
    await tool_for(bin_dir, mac, programs=["open"], environ={}, platform="darwin").func(
        target="https://example.com"
    )
    windows = FakeRunner(CommandResult(1))  # explorer returns 1 even when it worked
    said = await tool_for(
        bin_dir, windows, programs=["explorer"], environ={}, platform="win32"
    ).func(target="https://example.com")

    assert Path(mac.calls[0]["argv"][0]).name == "open"
    assert Path(windows.calls[0]["argv"][0]).name == "explorer"
    assert said == "Opened https://example.com in your browser."


async def test_gio_when_xdg_open_is_missing(home: Path, bin_dir: Path) -> None:
    runner = FakeRunner()

    await tool_for(bin_dir, runner, programs=["gio"]).func(target="https://example.com")

    assert runner.calls[0]["argv"] == [str(bin_dir / "gio"), "open", "https://example.com"]


async def test_a_handler_still_running_counts_as_opened(home: Path, bin_dir: Path) -> None:
    runner = FakeRunner(CommandResult(None))

    said = await tool_for(bin_dir, runner).func(target="https://example.com")

    assert said == "Opened https://example.com in your browser."


# ---------------------------------------------------------------- refusals (nothing runs)


@pytest.mark.parametrize(
    ("target", "sentence"),
    [
        ("javascript:alert(1)", "not javascript: links"),
        ("smb://nas/share", "not smb: links"),
        ("ssh://host", "not ssh: links"),
        ("mailto:ana@example.com", "not mailto: links"),
        ("vscode://file/etc/passwd", "not vscode: links"),
        ("data:text/html,<b>x</b>", "not data: links"),
        ("https://", "isn't a complete web address"),
        ("https://exa mple.com", "That link has spaces in it"),
        ("file://server/share/x.pdf", "I only open files on this computer."),
        ("report.pdf", "I couldn't find report.pdf on this computer."),
        ("~/nothing-here", "I couldn't find ~/nothing-here on this computer."),
        ("   ", "What should I open?"),
    ],
)
async def test_refused_targets(home: Path, bin_dir: Path, target: str, sentence: str) -> None:
    runner = FakeRunner()

    with pytest.raises(ConnectorError) as caught:
        await tool_for(bin_dir, runner).func(target=target)

    assert sentence in caught.value.message
    assert runner.calls == []


@pytest.mark.parametrize("name", ["run.sh", "evil.desktop", "setup.exe", "plain"])
async def test_programs_and_scripts_are_refused(home: Path, bin_dir: Path, name: str) -> None:
    path = home / name
    path.write_text("#!/bin/sh\necho hi\n")
    if name == "plain":
        path.chmod(0o755)  # executable without a telling suffix
    runner = FakeRunner()

    with pytest.raises(ConnectorError) as caught:
        await tool_for(bin_dir, runner).func(target=str(path))

    assert caught.value.message == (
        "I won't open programs or scripts, only documents, folders and web links."
    )
    assert runner.calls == []


def test_resolution_without_running_anything(home: Path) -> None:
    assert resolve_target("HTTPS://Example.com") == "HTTPS://Example.com"
    assert resolve_target("www.example.co.uk") == "https://www.example.co.uk"
    assert resolve_target(str(home / "Documents")) == home / "Documents"


# ---------------------------------------------------------------- the environment


async def test_no_handler_installed(home: Path, bin_dir: Path) -> None:
    runner = FakeRunner()

    with pytest.raises(ConnectorError) as caught:
        await tool_for(bin_dir, runner, programs=[]).func(target="https://example.com")

    assert caught.value.message == (
        "I can't open things on this computer: xdg-open or gio open isn't installed "
        "(package xdg-utils)."
    )


async def test_no_graphical_session(home: Path, bin_dir: Path) -> None:
    runner = FakeRunner()

    with pytest.raises(ConnectorError) as caught:
        await tool_for(bin_dir, runner, environ={}).func(target="https://example.com")

    assert caught.value.message == "There's no graphical desktop session here to open it in."
    assert runner.calls == []


@pytest.mark.parametrize(
    ("result", "sentence"),
    [
        (CommandResult(3), "No application is set up to open that."),
        (CommandResult(4), "The system couldn't open that."),
        (CommandResult(9, b"", b"gio: oops\n"), "Opening that failed (gio: oops)."),
        (CommandResult(9), "Opening that failed (exit code 9)."),
        (PermissionError(13, "Permission denied"), "I couldn't start xdg-open: Permission denied."),
    ],
)
async def test_handler_failures(
    home: Path, bin_dir: Path, result: CommandResult | BaseException, sentence: str
) -> None:
    with pytest.raises(ConnectorError) as caught:
        await tool_for(bin_dir, FakeRunner(result)).func(target="https://example.com")

    assert caught.value.message == sentence


# ---------------------------------------------------------------- real subprocesses


async def test_a_real_handler_receives_the_target(home: Path, bin_dir: Path) -> None:
    received = bin_dir.parent / "received"
    make_program(bin_dir, "xdg-open", f'printf "%s" "$1" > "{received}"\n')
    settings = SimpleNamespace(
        command_path=str(bin_dir), environ={"DISPLAY": ":0"}, platform="linux"
    )
    ctx = ConnectorContext(http=httpx.AsyncClient(), settings=settings)
    (tool,) = CONNECTOR.build_tools(ctx)

    said = await tool.func(target="https://example.com/?q=a;b&x=`id`$(id)")

    assert said.startswith("Opened https://example.com/?q=a;b&x=`id`$(id)")
    assert received.read_text() == "https://example.com/?q=a;b&x=`id`$(id)"  # no shell involved


async def test_a_handler_that_keeps_running_is_left_alone(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    program = make_program(tmp_path, "browser", f'echo $$ > "{pidfile}"\nexec sleep 30\n')
    try:
        result = await run_command([str(program)], capture=False, timeout=0.5, detach=True)
        assert result.returncode is None
        os.kill(int(pidfile.read_text()), 0)  # still running: it was launched, not killed
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGTERM)  # the process this test started


def test_metadata(home: Path, bin_dir: Path) -> None:
    tool = tool_for(bin_dir, FakeRunner())
    assert tool.name == "open_link_or_file"
    assert tool.side_effect
    assert render_progress(tool.readback, {"target": "https://example.com"}) == (
        "Open https://example.com"
    )
