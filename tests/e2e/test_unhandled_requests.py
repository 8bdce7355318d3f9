"""A request no connector can serve is noted, stored, and listed by `hark history unhandled`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.e2e.harness import HarkHome
from tests.fakes.openai_brain import Rule, RuleBrain
from tests.fakes.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.e2e

KEY = "sk-test-" + "unhandled" * 3
REQUEST = "book me a haircut for Saturday morning"
REASON = "booking a haircut appointment"


def test_an_unhandled_request_lands_in_storage_and_in_history(
    tmp_path: Path, openai_server: ScriptedOpenAIServer
) -> None:
    # The root agent, finding no specialist, notes the request once and says so.
    openai_server.brain = RuleBrain(
        [Rule(r"haircut", "note_unhandled_request", {"reason": REASON})],
        answer="Sorry, I can't book haircuts yet.",
    )
    home = HarkHome(tmp_path)
    url = openai_server.base_url

    run = home.run("--text-only", input=REQUEST + "\n", OPENAI_BASE_URL=url, OPENAI_API_KEY=KEY)

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Sorry, I can't book haircuts yet."
    assert "Noting a request I can't handle yet..." in run.stderr
    noted = [
        r
        for r in openai_server.model_requests("responses")
        if "note_unhandled_request" in r.tool_names
    ]
    assert noted, "the root agent offered the note_unhandled_request tool"

    db = sqlite3.connect(home.root / "data" / "hark.db")
    rows = db.execute("SELECT text, reason, turn_id FROM unhandled_requests").fetchall()
    turn_ids = [r[0] for r in db.execute("SELECT id FROM turns")]
    db.close()
    assert [(text, reason) for text, reason, _ in rows] == [(REQUEST, REASON)]
    assert rows[0][2] in turn_ids

    listed = home.run("history", "unhandled", OPENAI_BASE_URL=url, OPENAI_API_KEY=KEY)
    assert listed.returncode == 0, listed.stderr
    assert REQUEST in listed.stdout and f"reason: {REASON}" in listed.stdout
