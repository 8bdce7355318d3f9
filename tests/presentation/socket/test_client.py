"""``hark ctl`` and ``hark ask`` (the functions main.py calls) against a live Hark."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from src.config.settings import SocketSettings
from src.presentation.socket_client import (
    EXIT_FAILED,
    EXIT_NO_HARK,
    EXIT_OK,
    EXIT_USAGE,
    add_client_commands,
    parse_params,
    run_ask,
    run_ctl,
)
from tests.fakes.openai_brain import Rule, RuleBrain
from tests.fakes.openai_server import ScriptedOpenAIServer
from tests.presentation.socket.conftest import KEY, LiveHark


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="hark")
    add_client_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(list(argv))


class Output:
    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()


class Piped(io.StringIO):
    def isatty(self) -> bool:
        return False


def ctl(live: LiveHark, *argv: str) -> tuple[int, Output]:
    io_ = Output()
    code = run_ctl(_parse("ctl", *argv), live.settings.socket, stdout=io_.out, stderr=io_.err)
    return code, io_


def ask(live: LiveHark, *argv: str, stdin: str = "") -> tuple[int, Output]:
    io_ = Output()
    code = run_ask(
        _parse("ask", *argv),
        live.settings.socket,
        stdin=Piped(stdin),
        stdout=io_.out,
        stderr=io_.err,
    )
    return code, io_


def test_key_value_pairs_are_json_when_they_parse_and_strings_otherwise() -> None:
    assert parse_params(
        ["text=hello world", "limit=5", "wait=true", 'types=["*"]', 'quoted="5"', "empty="],
        '{"a": 1}',
    ) == {
        "a": 1,
        "text": "hello world",
        "limit": 5,
        "wait": True,
        "types": ["*"],
        "quoted": "5",
        "empty": "",
    }


def test_ctl_prints_results_as_json(live: LiveHark) -> None:
    code, io_ = ctl(live, "status")
    assert code == EXIT_OK and json.loads(io_.out.getvalue())["state"] == "idle"
    code, io_ = ctl(live, "message.send", "text=hello from ctl", "wait=true", "--json")
    assert code == EXIT_OK
    assert json.loads(io_.out.getvalue())["text"] == "You said: hello from ctl"
    assert "\n" not in io_.out.getvalue().strip()  # --json: one line
    code, io_ = ctl(live, "conversations.list", "--params", '{"limit": 1}')
    assert code == EXIT_OK and len(json.loads(io_.out.getvalue())) == 1


def test_ctl_follow_streams_a_turn_until_it_ends(live: LiveHark) -> None:
    code, io_ = ctl(live, "message.send", "text=follow me", "--follow")
    lines = [json.loads(line) for line in io_.out.getvalue().splitlines()]
    assert code == EXIT_OK
    assert set(lines[0]) == {"turn_id", "conversation_id"}
    assert lines[1]["params"]["type"] == "turn.started"
    assert lines[-1]["params"]["type"] == "turn.completed"


def test_ctl_exit_codes(live: LiveHark, tmp_path: Path) -> None:
    code, io_ = ctl(live, "no.such.method")
    assert code == EXIT_FAILED and "Method not found" in io_.err.getvalue()
    code, io_ = ctl(live, "conversations.show", "id=conv_nope")
    assert code == EXIT_FAILED and "(error -32002)" in io_.err.getvalue()
    code, io_ = ctl(live, "message.send", "text")
    assert code == EXIT_USAGE and "KEY=VALUE" in io_.err.getvalue()
    code, io_ = ctl(live, "status", "--params", "[1]")
    assert code == EXIT_USAGE
    code, io_ = ctl(live, "status", "--socket", str(tmp_path / "nothing.sock"))
    assert code == EXIT_NO_HARK
    assert "No Hark is running; start one with `python main.py --headless`" in io_.err.getvalue()


def test_no_hark_running_at_all(tmp_path: Path) -> None:
    settings = SocketSettings(path=tmp_path / "run" / "hark.sock")
    err = io.StringIO()
    assert run_ctl(_parse("ctl", "ping"), settings, stdout=io.StringIO(), stderr=err) == 4
    assert run_ask(_parse("ask", "hi"), settings, stdout=io.StringIO(), stderr=err) == 4


WEATHER = RuleBrain(
    [
        Rule(r"weather", "transfer_to_weather"),
        Rule(r"weather in (\w+)", "get_current_weather", lambda m: {"location": m.group(1)}),
    ],
    answer="Here is what I found: {output}",
)


def test_ask_prints_the_answer_and_progress_apart(
    live: LiveHark, openai_server: ScriptedOpenAIServer
) -> None:
    code, io_ = ask(live, "hello", "there")
    assert code == EXIT_OK and io_.out.getvalue() == "You said: hello there\n"
    code, io_ = ask(live, "--new", stdin="from a pipe\n")
    assert code == EXIT_OK and io_.out.getvalue() == "You said: from a pipe\n"
    openai_server.brain = WEATHER
    code, io_ = ask(live, "what's the weather in Atlantis")
    assert code == EXIT_OK
    assert io_.out.getvalue().startswith("Here is what I found:")
    assert "orchestrator → weather" in io_.err.getvalue()
    assert "Checking the weather in Atlantis" in io_.err.getvalue()


def test_ask_json_prints_raw_events(live: LiveHark) -> None:
    code, io_ = ask(live, "--json", "raw please")
    lines = [json.loads(line) for line in io_.out.getvalue().splitlines()]
    assert code == EXIT_OK
    assert "turn_id" in lines[0]["result"]
    assert [line["params"]["type"] for line in lines[1:]][-1] == "turn.completed"


def test_ask_exit_codes_for_failure_and_bad_usage(
    live: LiveHark, openai_server: ScriptedOpenAIServer
) -> None:
    code, io_ = ask(live)
    assert code == EXIT_USAGE and "nothing to ask" in io_.err.getvalue()
    openai_server.rejected_keys.add(KEY)
    code, io_ = ask(live, "hello")
    assert code == EXIT_FAILED and "rejected the OpenAI key" in io_.err.getvalue()


@pytest.mark.parametrize("argv", [["ctl"], ["ask", "--bogus"]])
def test_argparse_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _parse(*argv)
    assert exited.value.code == 2
