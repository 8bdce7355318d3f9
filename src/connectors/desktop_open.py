"""Open a web link or a file with the system's default handler (after the user approves).

Runs ``xdg-open`` on Linux, ``open`` on macOS and ``explorer`` on Windows, without a shell,
so nothing in the target is ever interpreted as a command. Only http(s) links and files or
folders that exist on this computer are opened: other URL schemes (``javascript:``, ``smb:``,
``ssh:``, custom app handlers, ...) and programs or scripts are refused, because "open" must
not become "run". A bare domain ("example.com/page") is taken to mean https.

Desktop handlers may keep running (a browser started by ``xdg-open``), so the opener is not
waited on past a few seconds: by then the handler has been launched.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef
from src.connectors.clipboard import CommandTools, command_tools

NAME = "desktop_open"
LAUNCH_WAIT_S = 8.0

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
_WINDOWS_DRIVE = re.compile(r"^[a-zA-Z]:[\\/]")
_DOMAIN = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?::\d{1,5})?(?:[/?#]\S*)?$", re.I
)
# Names that look like domains but are file names the user meant ("report.pdf").
_FILE_SUFFIXES = frozenset(
    {
        "pdf", "txt", "md", "doc", "docx", "odt", "xls", "xlsx", "ods", "ppt", "pptx", "odp",
        "csv", "json", "xml", "html", "htm", "png", "jpg", "jpeg", "gif", "svg", "webp", "mp3",
        "mp4", "mkv", "mov", "wav", "flac", "zip", "tar", "gz", "epub", "log",
    }
)  # fmt: skip
# Files that run something when "opened", refused even when not marked executable.
_LAUNCHERS = frozenset(
    {
        ".desktop", ".sh", ".bash", ".zsh", ".command", ".tool", ".app", ".exe", ".bat", ".cmd",
        ".com", ".msi", ".ps1", ".vbs", ".js", ".jar", ".py", ".pl", ".rb", ".appimage", ".run",
        ".bin", ".scpt", ".workflow", ".lnk", ".url", ".reg", ".scr", ".pif",
    }
)  # fmt: skip
_HANDLER_EXIT: dict[int, str] = {
    2: "The system says that file doesn't exist.",
    3: "No application is set up to open that.",
    4: "The system couldn't open that.",
}


def _refuse_scheme(scheme: str) -> ConnectorError:
    return ConnectorError(
        f"I only open web links (http or https) and files on this computer, not {scheme}: links."
    )


def resolve_target(target: str) -> str | Path:
    """An https URL (str) or an existing local path (Path); a sentence otherwise."""
    text = target.strip()
    if not text:
        raise ConnectorError("What should I open?")
    if any(ch.isspace() for ch in text) and _SCHEME.match(text) and not text.startswith("file:"):
        raise ConnectorError("That link has spaces in it; I need the exact address.")
    match = _SCHEME.match(text)
    if match and not _WINDOWS_DRIVE.match(text):
        scheme = match.group(1).lower()
        if scheme in ("http", "https"):
            parts = urlsplit(text)
            if not parts.hostname:
                raise ConnectorError(f"{text} isn't a complete web address.")
            return text
        if scheme == "file":
            parts = urlsplit(text)
            if parts.netloc not in ("", "localhost"):
                raise ConnectorError("I only open files on this computer.")
            return _local_file(Path(url2pathname(parts.path)), text)
        raise _refuse_scheme(scheme)
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = Path.home() / path
    if path.exists():
        return _local_file(path, text)
    suffix = text.rsplit(".", 1)[-1].split("/", 1)[0].lower() if "." in text else ""
    looks_like_file = text.startswith(("/", "~", ".")) or suffix in _FILE_SUFFIXES
    if _DOMAIN.match(text) and not looks_like_file:
        return f"https://{text}"
    raise ConnectorError(f"I couldn't find {text} on this computer.")


def _local_file(path: Path, said: str) -> Path:
    try:
        info = path.stat()
    except OSError as exc:
        raise ConnectorError(f"I couldn't find {said} on this computer.") from exc
    if stat.S_ISDIR(info.st_mode):
        return path
    executable = bool(info.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if executable or path.suffix.lower() in _LAUNCHERS:
        raise ConnectorError(
            "I won't open programs or scripts, only documents, folders and web links."
        )
    return path


def opener(tools: CommandTools) -> list[str]:
    """The handler program for this platform, resolved on the PATH."""
    candidates: list[tuple[str, ...]]
    if tools.platform == "darwin":
        candidates = [("open",)]
    elif tools.platform.startswith("win"):
        candidates = [("explorer",)]
    else:
        candidates = [("xdg-open",), ("gio", "open")]
    for argv in candidates:
        found = tools.which(argv[0])
        if found:
            return [found, *argv[1:]]
    names = " or ".join(" ".join(c) for c in candidates)
    hint = " (package xdg-utils)" if "xdg-open" in names else ""
    raise ConnectorError(f"I can't open things on this computer: {names} isn't installed{hint}.")


def _graphical(tools: CommandTools) -> bool:
    if tools.platform == "darwin" or tools.platform.startswith("win"):
        return True
    return bool(tools.environ.get("DISPLAY") or tools.environ.get("WAYLAND_DISPLAY"))


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    async def open_link_or_file(target: str) -> str:
        """Open a web page in the browser, or a document or folder with its usual app.

        Args:
            target: A full web address (https://...), or the path of an existing file or
                folder, e.g. "~/Documents/report.pdf".
        """
        resolved = resolve_target(target)
        tools = command_tools(ctx.settings)
        if not _graphical(tools):
            raise ConnectorError("There's no graphical desktop session here to open it in.")
        argv = [*opener(tools), str(resolved)]
        try:
            result = await tools.run(argv, capture=False, timeout=LAUNCH_WAIT_S, detach=True)
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise ConnectorError(f"I couldn't start {Path(argv[0]).name}: {reason}.") from exc
        windows = tools.platform.startswith("win")  # explorer's exit code means nothing
        if result.returncode not in (0, None) and not windows:
            sentence = _HANDLER_EXIT.get(result.returncode)
            if sentence is None:
                detail = result.error_line or f"exit code {result.returncode}"
                sentence = f"Opening that failed ({detail})."
            raise ConnectorError(sentence)
        if isinstance(resolved, str):
            return f"Opened {resolved} in your browser."
        name = resolved.name or str(resolved)
        return f"Opened the folder {name}." if resolved.is_dir() else f"Opened {name}."

    return [
        ToolDef(
            open_link_or_file,
            progress="Opening {target}...",
            side_effect=True,
            readback="Open {target}",
        )
    ]


CONNECTOR = Connector(
    name=NAME,
    title="Open links and files",
    description=(
        "Opens a web page in the user's browser, or a document or folder on this computer "
        "with its usual app."
    ),
    instructions=(
        "You open web pages and files on the user's computer. Pass a full https address, or "
        "the path of a file or folder the user named. Hark reads the target back and asks "
        "before opening it. You can't run programs or open other kinds of links. After "
        "opening, confirm in a few words. If a tool reports a problem, say that sentence "
        "plainly."
    ),
    build_tools=build_tools,
    examples=(
        "Open python.org in my browser.",
        "Open my Downloads folder.",
        "Open ~/Documents/report.pdf.",
    ),
    followups=("Open {target} again",),
)
