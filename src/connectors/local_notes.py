"""Local notes: plain Markdown files in the user's data directory, readable without Hark.

Creating and deleting notes are side effects, so they wait for the user's approval after a
read-back. Notes are files (``<slug>.md``) so that the user owns them outright: they can be
opened, synced or backed up with any tool. Writes are atomic and private (mode 0600).
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
from pathlib import Path

from src.connectors.base import Connector, ConnectorContext, ConnectorError, ToolDef

MAX_NOTE_CHARS = 20_000
LIST_LIMIT = 20


def slugify(title: str) -> str:
    """A safe file name from a title: ASCII letters, digits and dashes only."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].rstrip("-") or "note"


class NotesFolder:
    """The notes directory: one Markdown file per note, the title as its first line."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, title: str) -> Path:
        return self.root / f"{slugify(title)}.md"

    def create(self, title: str, text: str) -> Path:
        title = " ".join(title.split())
        if not title:
            raise ConnectorError("A note needs a title.")
        if len(text) > MAX_NOTE_CHARS:
            raise ConnectorError(f"That note is too long (over {MAX_NOTE_CHARS} characters).")
        self._ensure()
        path = self._path(title)
        if path.exists():
            raise ConnectorError(f"There is already a note called “{title}”.")
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"# {title}\n\n{text.strip()}\n")
        os.replace(tmp, path)
        return path

    def notes(self) -> list[tuple[str, Path]]:
        if not self.root.is_dir():
            return []
        found = []
        for path in self.root.glob("*.md"):
            if path.name.startswith("."):
                continue  # deleted notes wait as hidden files
            first = path.read_text(encoding="utf-8").split("\n", 1)[0]
            found.append((first.removeprefix("# ").strip() or path.stem, path))
        found.sort(key=lambda item: item[1].stat().st_mtime, reverse=True)
        return found

    def find(self, title: str) -> tuple[str, Path]:
        wanted = slugify(title)
        notes = self.notes()
        for name, path in notes:
            if path.stem == wanted:
                return name, path
        close = [(n, p) for n, p in notes if wanted in p.stem or title.lower() in n.lower()]
        if len(close) == 1:
            return close[0]
        if close:
            names = ", ".join(f"“{n}”" for n, _ in close[:5])
            raise ConnectorError(f"Several notes match “{title}”: {names}. Which one?")
        raise ConnectorError(f"I couldn't find a note called “{title}”.")

    def search(self, words: str) -> list[tuple[str, str]]:
        terms = [w.lower() for w in words.split() if w.strip()]
        hits = []
        for name, path in self.notes():
            body = path.read_text(encoding="utf-8")
            lowered = body.lower()
            if terms and all(t in lowered for t in terms):
                line = next((ln for ln in body.splitlines()[1:] if terms[0] in ln.lower()), "")
                hits.append((name, line.strip()[:120]))
        return hits


def build_tools(ctx: ConnectorContext) -> list[ToolDef]:
    configured = getattr(ctx.settings, "notes_dir", None)
    folder = NotesFolder(Path(configured) if configured else Path.home() / "Hark notes")

    async def create_note(title: str, text: str) -> str:
        """Save a new note on this computer.

        Args:
            title: A short title for the note.
            text: The note's content.
        """
        folder.create(title, text)
        return f"Saved the note “{' '.join(title.split())}”."

    async def list_notes() -> str:
        """List the most recent notes by title."""
        notes = folder.notes()
        if not notes:
            return "There are no notes yet."
        shown = [name for name, _ in notes[:LIST_LIMIT]]
        more = f" (and {len(notes) - LIST_LIMIT} more)" if len(notes) > LIST_LIMIT else ""
        return f"{len(notes)} notes: " + "; ".join(shown) + more

    async def read_note(title: str) -> str:
        """Read one note aloud or show it.

        Args:
            title: The note's title, or a distinctive part of it.
        """
        name, path = folder.find(title)
        body = path.read_text(encoding="utf-8").split("\n", 1)[-1].strip()
        return f"“{name}”: {body}" if body else f"“{name}” is empty."

    async def search_notes(words: str) -> str:
        """Find notes that contain all the given words.

        Args:
            words: Words to look for.
        """
        hits = folder.search(words)
        if not hits:
            return f"No note mentions {words}."
        return "; ".join(f"“{name}”: {line}" if line else f"“{name}”" for name, line in hits)

    async def delete_note(title: str) -> str:
        """Delete a note for good.

        Args:
            title: The title of the note to delete.
        """
        name, path = folder.find(title)
        trash = path.with_name(f".deleted-{int(time.time())}-{path.name}")
        os.replace(path, trash)  # recoverable by hand until the folder is cleaned
        return f"Deleted the note “{name}”."

    return [
        ToolDef(
            create_note,
            progress="Saving your note “{title}”...",
            side_effect=True,
            readback="Save a note titled “{title}”: {text}",
        ),
        ToolDef(list_notes, progress="Looking through your notes..."),
        ToolDef(read_note, progress="Opening the note “{title}”..."),
        ToolDef(search_notes, progress="Searching your notes for {words}..."),
        ToolDef(
            delete_note,
            progress="Deleting the note “{title}”...",
            side_effect=True,
            readback="Delete the note “{title}”",
        ),
    ]


CONNECTOR = Connector(
    name="notes",
    title="Local notes",
    description="Creates, lists, reads, searches and deletes the user's own notes on this laptop.",
    instructions=(
        "You keep the user's notes on this computer. Save exactly what the user asked to note, "
        "with a short clear title. Read notes back briefly. Creating and deleting notes needs "
        "the user's approval, which Hark asks for: if they decline, say that nothing was saved."
    ),
    build_tools=build_tools,
    examples=("note that the wifi password is on the fridge", "what notes do I have?"),
    followups=("Read me the note “{title}”",),
)
