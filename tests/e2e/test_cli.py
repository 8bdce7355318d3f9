"""The command line a user meets first: help, version, setup with no key, bad settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from src import __version__
from tests.e2e.harness import HarkHome

pytestmark = pytest.mark.e2e


@pytest.fixture
def home(tmp_path: Path) -> HarkHome:
    return HarkHome(tmp_path)


def test_help_and_version(home: HarkHome) -> None:
    helped = home.run("--help")
    assert helped.returncode == 0
    for word in ("--text-only", "--resume", "keys", "history", "config"):
        assert word in helped.stdout
    version = home.run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"hark {__version__}"


def test_no_key_explains_how_to_add_one(home: HarkHome) -> None:
    result = home.run("--text-only", input="hello\n")
    assert result.returncode == 3
    assert "no OpenAI API key" in result.stderr
    assert "python main.py keys set openai" in result.stderr
    assert "OPENAI_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_invalid_settings_name_the_field_and_reason(home: HarkHome) -> None:
    result = home.run("config", "show", HARK_API__TIMEOUT_SECONDS="-3", HARK_CONNECTORS__UNITS="K")
    assert result.returncode == 2
    assert "api.timeout_seconds" in result.stderr and "greater than 0" in result.stderr
    assert "connectors.units" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_microphone_block_that_is_not_whole_frames_is_refused(home: HarkHome) -> None:
    result = home.run("config", "show", HARK_AUDIO__INPUT_BLOCK_MS="15")
    assert result.returncode == 2
    assert "audio.input_block_ms" in result.stderr and "multiple of 10" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_toml_file_is_reported(home: HarkHome) -> None:
    bad = home.root / "bad.toml"
    bad.write_text("[api\nmodel = 'x'\n")
    result = home.run("--config", str(bad), "config", "show")
    assert result.returncode == 2 and "bad.toml" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = home.root / "unknown.toml"
    unknown.write_text("[api]\nmodle = 'x'\n")
    result = home.run("--config", str(unknown), "config", "show")
    assert result.returncode == 2 and "api.modle: unknown setting" in result.stderr


def test_config_show_layers_sources_and_masks_the_key(home: HarkHome) -> None:
    config = home.root / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(
        '[api]\nmodel = "from-toml"\nvoice = "ash"\n[connectors]\nunits = "imperial"\n'
    )
    secret = "sk-test-" + "s3cr3t" * 5
    result = home.run(
        "config",
        "show",
        OPENAI_API_KEY=secret,
        HARK_API__VOICE="verse",
        OPENAI_BASE_URL="http://127.0.0.1:5555/v1",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "api.model" in out and "from-toml" in out
    assert "verse" in out and "ash" not in out  # the environment beats the file
    assert "imperial" in out
    assert "http://127.0.0.1:5555/v1" in out
    assert "set (environment OPENAI_API_KEY)" in out
    assert secret not in out and "s3cr3t" not in out


def test_keys_set_list_delete_never_print_values(home: HarkHome) -> None:
    secret = "sk-live-" + "Z" * 40
    stored = home.run("keys", "set", "openai", input=secret + "\n")
    assert stored.returncode == 0, stored.stderr
    assert "Stored openai" in stored.stdout
    listed = home.run("keys", "list")
    assert listed.returncode == 0 and listed.stdout.split() == ["openai"]
    shown = home.run("config", "show")
    assert "set (secrets store)" in shown.stdout
    for out in (stored, listed, shown):
        assert secret not in out.stdout + out.stderr
    secrets_file = home.root / "data" / "secrets.bin"
    assert secrets_file.exists() and secret.encode() not in secrets_file.read_bytes()
    assert (secrets_file.stat().st_mode & 0o777) == 0o600
    assert home.run("keys", "delete", "openai").returncode == 0
    assert home.run("keys", "list").stdout.startswith("No keys stored")
    missing = home.run("keys", "delete", "openai")
    assert missing.returncode == 1 and "no key named openai" in missing.stdout


def test_a_wrong_passphrase_is_a_clear_setup_error(home: HarkHome) -> None:
    assert home.run("keys", "set", "openai", input="sk-abcdefabcdefabcdef\n").returncode == 0
    result = home.run("keys", "list", HARK_SECRETS_PASSPHRASE="not-the-one")
    assert result.returncode == 3
    assert "passphrase" in result.stderr and "Traceback" not in result.stderr


def test_the_hark_console_script_is_the_same_program(home: HarkHome) -> None:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "hark"
    if not script.exists():
        found = shutil.which("hark")
        if found is None:
            pytest.skip("the package is not installed (pip install -e .)")
        script = Path(found)
    env = home.env()
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=env)
    assert version.returncode == 0 and version.stdout.strip() == f"hark {__version__}"
    no_key = subprocess.run(
        [str(script), "--text-only"], input="hi\n", capture_output=True, text=True, env=env
    )
    assert no_key.returncode == 3 and "no OpenAI API key" in no_key.stderr


def test_a_dotenv_file_in_the_working_directory_is_read(home: HarkHome) -> None:
    (home.root / ".env").write_text("HARK_API__MODEL=model-from-dotenv\n")
    result = home.run("config", "show")
    assert result.returncode == 0, result.stderr
    assert "model-from-dotenv" in result.stdout
    # The environment still wins over .env.
    result = home.run("config", "show", HARK_API__MODEL="model-from-env")
    assert "model-from-env" in result.stdout and "model-from-dotenv" not in result.stdout


def test_a_damaged_history_file_is_a_clear_error_not_a_hang(home: HarkHome) -> None:
    database = home.root / "data" / "hark.db"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"this is not a database, it is a shopping list" * 100)
    result = home.run(
        "--text-only",
        input="hello\n",
        OPENAI_API_KEY="sk-test-damaged-db",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        timeout=30,
    )
    assert result.returncode == 2
    assert "hark.db" in result.stderr and "Traceback" not in result.stderr
    assert database.read_bytes().startswith(b"this is not a database")  # left untouched
