"""Line mode end to end: the real main.py as a subprocess against the scripted OpenAI server."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import HarkHome
from tests.fakes.open_meteo import FakeOpenMeteo
from tests.fakes.openai_brain import Rule, RuleBrain
from tests.fakes.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.e2e

KEY = "sk-test-" + "e2e" * 8
WEATHER_BRAIN = RuleBrain(
    [
        Rule(r"weather", "transfer_to_weather"),
        Rule(r"weather in (\w+)", "get_current_weather", lambda m: {"location": m.group(1)}),
    ],
    answer="Here is what I found: {output}",
)


@pytest.fixture
def home(tmp_path: Path) -> HarkHome:
    return HarkHome(tmp_path)


@pytest.fixture
def meteo() -> Iterator[FakeOpenMeteo]:
    with FakeOpenMeteo() as fake:
        yield fake


def _env(server: ScriptedOpenAIServer, meteo: FakeOpenMeteo, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": KEY,
        "HARK_CONNECTORS__ENDPOINTS": meteo.endpoints,
        **extra,
    }


def test_weather_through_a_handoff_is_streamed_shown_and_stored(
    home: HarkHome, openai_server: ScriptedOpenAIServer, meteo: FakeOpenMeteo
) -> None:
    openai_server.brain = WEATHER_BRAIN
    result = home.run(
        "--text-only", input="what's the weather in Paris\n", **_env(openai_server, meteo)
    )
    assert result.returncode == 0, result.stderr
    # stdout carries only the answer; progress and handoffs go to stderr when piped.
    assert result.stdout.startswith("Here is what I found:")
    assert "Paris" in result.stdout and "12" in result.stdout
    assert "Checking the weather in Paris..." in result.stderr
    assert "orchestrator → weather" in result.stderr
    assert "Traceback" not in result.stderr
    # The answer really was streamed in pieces by the server.
    deltas = [e for e in openai_server.emitted if e.get("type") == "response.output_text.delta"]
    assert len(deltas) > 3
    assert meteo.seen[0][0] == "/geo/v1/search" and meteo.seen[0][1]["name"] == "Paris"
    assert all(r.api_key == KEY for r in openai_server.requests if r.api == "responses")

    db = sqlite3.connect(home.root / "data" / "hark.db")
    turn = db.execute(
        "SELECT status, user_text, assistant_text, input_tokens, output_tokens FROM turns"
    ).fetchone()
    assert turn[0] == "completed" and turn[1] == "what's the weather in Paris"
    assert turn[2] == result.stdout.strip()
    assert turn[3] > 0 and turn[4] > 0
    calls = db.execute("SELECT agent, name, arguments, ok FROM tool_calls").fetchall()
    names = [c[1] for c in calls]
    assert "get_current_weather" in names
    weather_call = calls[names.index("get_current_weather")]
    assert weather_call[0] == "weather" and '"Paris"' in weather_call[2] and weather_call[3] == 1
    assert [r[0] for r in db.execute("SELECT to_agent FROM handoffs")] == ["weather"]
    db.close()

    listed = home.run("history", "list")
    assert "What's the weather in Paris" in listed.stdout
    conv_id = listed.stdout.split()[0]
    shown = home.run("history", "show", conv_id[:10])
    assert (
        "weather.get_current_weather" in shown.stdout
        and "hark> Here is what I found" in shown.stdout
    )
    found = home.run("history", "search", "Paris weather")
    assert found.returncode == 0 and conv_id in found.stdout


def test_every_piped_line_is_answered_in_order(
    home: HarkHome, openai_server: ScriptedOpenAIServer
) -> None:
    result = home.run(
        "--text-only",
        input="first question\n\nsecond question\n",
        OPENAI_BASE_URL=openai_server.base_url,
        OPENAI_API_KEY=KEY,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["You said: first question", "You said: second question"]


def test_resume_continues_with_the_stored_context(
    home: HarkHome, openai_server: ScriptedOpenAIServer
) -> None:
    env = {"OPENAI_BASE_URL": openai_server.base_url, "OPENAI_API_KEY": KEY}
    assert home.run("--text-only", input="my name is Ana\n", **env).returncode == 0
    again = home.run("--text-only", "--resume", input="what is my name\n", **env)
    assert again.returncode == 0, again.stderr
    last = openai_server.model_requests("responses")[-1]
    texts = [text for _, text in last.messages]
    assert "my name is Ana" in texts and "You said: my name is Ana" in texts
    assert texts[-1] == "what is my name"
    db = sqlite3.connect(home.root / "data" / "hark.db")
    assert db.execute("SELECT COUNT(*) FROM conversations").fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 2
    db.close()


def test_chat_completions_backend_works_the_same(
    home: HarkHome, openai_server: ScriptedOpenAIServer, meteo: FakeOpenMeteo
) -> None:
    openai_server.brain = WEATHER_BRAIN
    result = home.run(
        "--text-only",
        input="weather in Paris please\n",
        **_env(openai_server, meteo, HARK_API__BACKEND="chat_completions"),
    )
    assert result.returncode == 0, result.stderr
    assert "Here is what I found:" in result.stdout and "Paris" in result.stdout
    apis = {r.api for r in openai_server.requests}
    assert apis == {"chat"}
    assert "Checking the weather in Paris..." in result.stderr


def test_a_rejected_key_is_explained_without_a_traceback(
    home: HarkHome, openai_server: ScriptedOpenAIServer
) -> None:
    openai_server.rejected_keys.add(KEY)
    result = home.run(
        "--text-only", input="hello\n", OPENAI_BASE_URL=openai_server.base_url, OPENAI_API_KEY=KEY
    )
    assert result.returncode == 1
    assert "rejected the OpenAI key" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_server_is_explained(home: HarkHome) -> None:
    result = home.run(
        "--text-only",
        input="hello\n",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        OPENAI_API_KEY=KEY,
        HARK_API__MAX_RETRIES="0",
    )
    assert result.returncode == 1
    assert "Could not reach the model server at http://127.0.0.1:9/v1" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_secret_reaches_any_file_or_output(
    home: HarkHome, openai_server: ScriptedOpenAIServer, meteo: FakeOpenMeteo
) -> None:
    secret = "sk-proj-" + "Leak" * 12
    openai_server.brain = WEATHER_BRAIN
    assert home.run("keys", "set", "openai", input=secret + "\n").returncode == 0
    env = {
        "OPENAI_BASE_URL": openai_server.base_url,
        "HARK_CONNECTORS__ENDPOINTS": meteo.endpoints,
        "HARK_LOGGING__LEVEL": "DEBUG",
    }
    runs = [
        home.run("--text-only", "-v", input="what's the weather in Paris\n", **env),
        home.run("config", "show", **env),
        home.run("history", "list", **env),
    ]
    assert runs[0].returncode == 0, runs[0].stderr
    assert any(r.api_key == secret for r in openai_server.requests)  # the key was really used
    for run in runs:
        assert secret not in run.stdout + run.stderr
    written = home.written_files()
    assert any(p.suffix == ".log" for p in written) and any(p.name == "hark.db" for p in written)
    for path in written:
        data = path.read_bytes()
        assert secret.encode() not in data, f"secret found in {path}"
        assert secret[8:30].encode() not in data, f"part of the secret found in {path}"


NOTES_BRAIN = RuleBrain(
    [
        Rule(r"note", "transfer_to_notes"),
        Rule(r"note that (.+)", "create_note", lambda m: {"title": "Reminder", "text": m.group(1)}),
    ],
    answer="{output}",
)


@pytest.mark.parametrize(("answer", "saved"), [("y", True), ("n", False), ("", False)])
def test_a_side_effect_asks_first_in_line_mode(
    home: HarkHome, openai_server: ScriptedOpenAIServer, answer: str, saved: bool
) -> None:
    openai_server.brain = NOTES_BRAIN
    # Piped: the line after the request answers the approval; end of input is never consent.
    piped = "note that the keys are in the drawer\n" + (f"{answer}\n" if answer else "")
    result = home.run(
        "--text-only", input=piped, OPENAI_BASE_URL=openai_server.base_url, OPENAI_API_KEY=KEY
    )
    assert result.returncode == 0, result.stderr
    assert (
        "Hark wants to: Save a note titled “Reminder”: the keys are in the drawer" in result.stdout
    )
    note = home.root / "data" / "notes" / "reminder.md"
    assert note.exists() == saved
    if saved:
        assert "Saved the note “Reminder”." in result.stdout
    else:
        assert "nothing was done" in result.stdout
