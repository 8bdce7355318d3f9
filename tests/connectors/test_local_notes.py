"""Local notes: real files in a temporary folder, read back as the user would hear them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from src.connectors.base import ConnectorContext, ConnectorError
from src.connectors.local_notes import CONNECTOR, NotesFolder, slugify


def tools(folder: Path) -> dict[str, object]:
    ctx = ConnectorContext(http=httpx.AsyncClient(), settings=SimpleNamespace(notes_dir=folder))
    return {t.name: t.func for t in CONNECTOR.build_tools(ctx)}


async def test_create_list_read_search_delete(tmp_path: Path) -> None:
    t = tools(tmp_path / "notes")
    assert await t["list_notes"]() == "There are no notes yet."  # type: ignore[operator]
    out = await t["create_note"]("Wifi password", "It is on the fridge.")  # type: ignore[operator]
    assert out == "Saved the note “Wifi password”."
    path = tmp_path / "notes" / "wifi-password.md"
    assert path.read_text() == "# Wifi password\n\nIt is on the fridge.\n"
    assert (path.stat().st_mode & 0o777) == 0o600
    await t["create_note"]("Shopping", "milk, eggs")  # type: ignore[operator]
    listed = await t["list_notes"]()  # type: ignore[operator]
    assert listed.startswith("2 notes:") and "Wifi password" in listed
    assert await t["read_note"]("wifi") == "“Wifi password”: It is on the fridge."  # type: ignore[operator]
    found = await t["search_notes"]("fridge")  # type: ignore[operator]
    assert found == "“Wifi password”: It is on the fridge."
    assert await t["delete_note"]("Shopping") == "Deleted the note “Shopping”."  # type: ignore[operator]
    assert "Shopping" not in await t["list_notes"]()  # type: ignore[operator]
    assert any(p.name.startswith(".deleted-") for p in (tmp_path / "notes").iterdir())


async def test_errors_are_sentences(tmp_path: Path) -> None:
    t = tools(tmp_path)
    await t["create_note"]("Plan", "a")  # type: ignore[operator]
    await t["create_note"]("Plan B", "b")  # type: ignore[operator]
    with pytest.raises(ConnectorError, match="already a note"):
        await t["create_note"]("plan", "again")  # type: ignore[operator]
    with pytest.raises(ConnectorError, match="couldn't find"):
        await t["read_note"]("holiday")  # type: ignore[operator]
    with pytest.raises(ConnectorError, match="needs a title"):
        await t["create_note"]("   ", "x")  # type: ignore[operator]
    with pytest.raises(ConnectorError, match="too long"):
        await t["create_note"]("Big", "x" * 20_001)  # type: ignore[operator]
    # "plan" is exact for one note: no ambiguity.
    assert (await t["read_note"]("plan")).startswith("“Plan”")  # type: ignore[operator]


def test_slugs_are_safe_file_names() -> None:
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("Café à Paris!") == "cafe-a-paris"
    assert slugify("???") == "note"
    assert NotesFolder(Path("/x"))._path("a/b").name == "a-b.md"


def test_side_effects_are_declared() -> None:
    ctx = ConnectorContext(http=httpx.AsyncClient())
    flags = {t.name: t.side_effect for t in CONNECTOR.build_tools(ctx)}
    assert flags == {
        "create_note": True,
        "list_notes": False,
        "read_note": False,
        "search_notes": False,
        "delete_note": True,
    }
