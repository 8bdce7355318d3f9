"""The secrets store: the encrypted file backend, the names index, and the real Secret Service."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from src.config.redaction import Redactor
from src.services.encrypted_file_keyring import EncryptedFileKeyring
from src.services.secrets import (
    PASSPHRASE_ENV_VAR,
    SecretsCorrupt,
    SecretsError,
    SecretsLocked,
    SecretStore,
    SecretsUnavailable,
    open_secret_store,
    passphrase_from_env_or_terminal,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
PASSPHRASE = "correct horse battery staple"
SECRET = "sk-proj-Zt3xQ9vL0pW8rN2mK5jH7gF4dS1aB6cE"
SERVICE = "hark-test"


def provider() -> str:
    return PASSPHRASE


@pytest.fixture
def secrets_path(tmp_path: Path) -> Path:
    return tmp_path / "hark" / "secrets.bin"


@pytest.fixture
def store(secrets_path: Path) -> SecretStore:
    return open_secret_store("file", secrets_path, provider, service=SERVICE, redactor=Redactor())


def envelope(path: Path) -> dict[str, object]:
    document = json.loads(path.read_bytes())
    assert isinstance(document, dict)
    return document


def write_envelope(path: Path, document: dict[str, object]) -> None:
    path.write_text(json.dumps(document))


def flip_first_byte(b64: object) -> str:
    assert isinstance(b64, str)
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# -- the encrypted file backend -------------------------------------------------------------


def test_file_store_round_trip(store: SecretStore, secrets_path: Path) -> None:
    assert store.describe().startswith("encrypted file ")
    assert store.describe().endswith("hark/secrets.bin")
    assert store.get("openai") is None

    store.set("openai", SECRET)
    store.set("github.token", "ghp_example_value_123")

    assert store.get("openai") == SECRET
    assert store.get("github.token") == "ghp_example_value_123"
    assert store.delete("openai") is True
    assert store.get("openai") is None
    assert store.delete("openai") is False


def test_describe_shortens_the_home_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / ".local" / "share" / "hark" / "secrets.bin"
    store = open_secret_store("file", path, provider)
    assert store.describe() == "encrypted file ~/.local/share/hark/secrets.bin"


def test_file_is_0600_in_a_0700_directory_and_no_temp_files_remain(
    store: SecretStore, secrets_path: Path
) -> None:
    store.set("openai", SECRET)
    store.set("openai", SECRET + "-rotated")
    store.delete("openai")

    assert stat.S_IMODE(secrets_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_path.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in secrets_path.parent.iterdir()) == ["secrets.bin"]


def test_file_never_contains_the_secret_in_clear_or_base64(
    store: SecretStore, secrets_path: Path
) -> None:
    store.set("openai", SECRET)
    raw = secrets_path.read_bytes()
    encoded = SECRET.encode()

    assert encoded not in raw
    assert base64.b64encode(encoded) not in raw
    assert base64.urlsafe_b64encode(encoded) not in raw
    assert encoded.hex().encode() not in raw
    # Nor inside any base64 field once decoded.
    document = envelope(secrets_path)
    for field in ("salt", "nonce", "key_check", "ciphertext"):
        value = document[field]
        assert isinstance(value, str)
        assert encoded not in base64.b64decode(value)
    assert document["format"] == "hark-secrets"
    assert document["version"] == 1
    assert document["kdf"] == {"name": "scrypt", "n": 2**15, "r": 8, "p": 1, "length": 32}
    assert isinstance(document["salt"], str) and len(base64.b64decode(document["salt"])) == 16
    assert isinstance(document["nonce"], str) and len(base64.b64decode(document["nonce"])) == 12


def test_every_write_uses_a_fresh_nonce(store: SecretStore, secrets_path: Path) -> None:
    store.set("openai", SECRET)
    first = envelope(secrets_path)
    store.set("openai", SECRET)
    second = envelope(secrets_path)

    assert first["salt"] == second["salt"]
    assert first["nonce"] != second["nonce"]
    assert first["ciphertext"] != second["ciphertext"]


def test_wrong_passphrase_is_reported_as_locked(store: SecretStore, secrets_path: Path) -> None:
    store.set("openai", SECRET)

    other = open_secret_store("file", secrets_path, lambda: "not the passphrase", service=SERVICE)
    with pytest.raises(SecretsLocked) as caught:
        other.get("openai")

    assert str(caught.value) == "The secrets file could not be unlocked: wrong passphrase?"
    # A failed unlock changes nothing on disk.
    assert store.get("openai") == SECRET


def test_tampered_ciphertext_is_a_clear_error(store: SecretStore, secrets_path: Path) -> None:
    store.set("openai", SECRET)
    document = envelope(secrets_path)
    document["ciphertext"] = flip_first_byte(document["ciphertext"])
    write_envelope(secrets_path, document)

    fresh = open_secret_store("file", secrets_path, provider, service=SERVICE)
    with pytest.raises(SecretsCorrupt) as caught:
        fresh.get("openai")

    message = str(caught.value)
    assert "damaged or was modified outside Hark" in message
    assert SECRET not in message
    assert "Traceback" not in message
    assert isinstance(caught.value, SecretsError)


def test_tampered_header_fails_authentication(store: SecretStore, secrets_path: Path) -> None:
    store.set("openai", SECRET)
    document = envelope(secrets_path)
    document["nonce"] = flip_first_byte(document["nonce"])
    write_envelope(secrets_path, document)

    fresh = open_secret_store("file", secrets_path, provider, service=SERVICE)
    with pytest.raises(SecretsCorrupt):
        fresh.get("openai")


@pytest.mark.parametrize(
    "content",
    [b"", b"not json at all", b'{"format": "something-else"}', b"[1, 2, 3]"],
    ids=["empty", "garbage", "foreign", "list"],
)
def test_unreadable_file_is_a_clear_error(secrets_path: Path, content: bytes) -> None:
    secrets_path.parent.mkdir(mode=0o700)
    secrets_path.write_bytes(content)

    store = open_secret_store("file", secrets_path, provider, service=SERVICE)
    with pytest.raises(SecretsCorrupt, match="damaged or was modified outside Hark"):
        store.get("openai")


def test_truncated_file_is_a_clear_error(store: SecretStore, secrets_path: Path) -> None:
    store.set("openai", SECRET)
    raw = secrets_path.read_bytes()
    secrets_path.write_bytes(raw[: len(raw) // 2])

    fresh = open_secret_store("file", secrets_path, provider, service=SERVICE)
    with pytest.raises(SecretsCorrupt):
        fresh.get("openai")


def test_another_instance_with_the_same_passphrase_reads_it(
    store: SecretStore, secrets_path: Path
) -> None:
    store.set("openai", SECRET)

    again = open_secret_store("file", secrets_path, lambda: PASSPHRASE, service=SERVICE)

    assert again.get("openai") == SECRET
    assert again.names() == ["openai"]


def test_another_process_reads_it_with_the_passphrase_from_the_environment(
    store: SecretStore, secrets_path: Path
) -> None:
    store.set("openai", SECRET)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from src.services.secrets import open_secret_store, passphrase_from_env_or_terminal\n"
        "store = open_secret_store('file', Path(sys.argv[1]), passphrase_from_env_or_terminal,"
        " service=sys.argv[2])\n"
        "print(store.names())\n"
        "print(store.get('openai') == sys.argv[3])\n"
    )
    env = {**os.environ, PASSPHRASE_ENV_VAR: PASSPHRASE}
    result = subprocess.run(
        [sys.executable, "-c", script, str(secrets_path), SERVICE, SECRET],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["['openai']", "True"]


def test_key_is_derived_once_and_the_passphrase_asked_once(secrets_path: Path) -> None:
    asked: list[int] = []

    def counting_provider() -> str:
        asked.append(1)
        return PASSPHRASE

    store = open_secret_store("file", secrets_path, counting_provider, service=SERVICE)
    store.set("a", "value-one")
    store.set("b", "value-two")
    assert store.get("a") == "value-one"
    assert store.names() == ["a", "b"]
    store.delete("a")

    assert len(asked) == 1


def test_no_passphrase_available_says_how_to_provide_one(secrets_path: Path) -> None:
    store = open_secret_store("file", secrets_path, None, service=SERVICE)

    # Nothing stored yet: reading needs no passphrase.
    assert store.get("openai") is None
    assert store.names() == []
    with pytest.raises(SecretsLocked, match=PASSPHRASE_ENV_VAR) as caught:
        store.set("openai", SECRET)
    assert "terminal" in str(caught.value)
    assert not secrets_path.exists()


def test_env_or_terminal_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    class NotATerminal:
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", NotATerminal())
    monkeypatch.delenv(PASSPHRASE_ENV_VAR, raising=False)
    with pytest.raises(SecretsLocked, match=f"set the environment variable {PASSPHRASE_ENV_VAR}"):
        passphrase_from_env_or_terminal()

    monkeypatch.setenv(PASSPHRASE_ENV_VAR, PASSPHRASE)
    assert passphrase_from_env_or_terminal() == PASSPHRASE


def test_failed_write_keeps_the_old_file(
    store: SecretStore, secrets_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.set("openai", SECRET)

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SecretsUnavailable) as caught:
        store.set("openai", "a-new-value-never-written")
    monkeypatch.undo()

    assert "a-new-value-never-written" not in str(caught.value)
    assert store.get("openai") == SECRET
    assert sorted(p.name for p in secrets_path.parent.iterdir()) == ["secrets.bin"]


def test_encrypted_file_keyring_is_a_keyring_backend_never_auto_selected(
    secrets_path: Path,
) -> None:
    ring = EncryptedFileKeyring(secrets_path, provider)

    assert isinstance(ring, KeyringBackend)
    assert EncryptedFileKeyring.viable is False
    assert EncryptedFileKeyring not in set(KeyringBackend.get_viable_backends())
    ring.set_password("svc", "user", "value-123")
    assert ring.get_password("svc", "user") == "value-123"


# -- the store: names, validation, redaction ------------------------------------------------


def test_names_index_lists_names_but_never_values(store: SecretStore) -> None:
    store.set("openai", SECRET)
    store.set("github", "ghp_another_secret_value")
    store.set("openai", SECRET + "-2")

    assert store.names() == ["github", "openai"]

    raw_index = store.backend.get_password(SERVICE, ":names")
    assert raw_index is not None
    assert SECRET not in raw_index
    assert "ghp_another_secret_value" not in raw_index

    assert store.delete("github") is True
    assert store.names() == ["openai"]
    assert store.delete("never-stored") is False
    assert store.names() == ["openai"]
    store.delete("openai")
    assert store.names() == []
    assert store.backend.get_password(SERVICE, ":names") is None


def test_services_are_isolated(secrets_path: Path) -> None:
    one = open_secret_store("file", secrets_path, provider, service="hark-one")
    two = open_secret_store("file", secrets_path, provider, service="hark-two")
    one.set("openai", SECRET)

    assert two.get("openai") is None
    assert two.names() == []


@pytest.mark.parametrize(
    "name",
    ["", "OpenAI", "has space", "colon:name", "slash/name", "x" * 65, SECRET.upper(), "é"],
)
def test_bad_names_are_rejected_without_echoing_them(store: SecretStore, name: str) -> None:
    with pytest.raises(ValueError, match="Invalid secret name") as caught:
        store.set(name, "some-value")
    if name:
        assert name not in str(caught.value)
    with pytest.raises(ValueError):
        store.get(name)
    with pytest.raises(ValueError):
        store.delete(name)


def test_valid_name_edges(store: SecretStore) -> None:
    store.set("a", "value-one")
    store.set("x" * 64, "value-two")
    store.set("svc.name_with-all.9", "value-three")
    assert store.names() == ["a", "svc.name_with-all.9", "x" * 64]


def test_empty_value_is_rejected(store: SecretStore) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        store.set("openai", "")


def test_values_read_or_written_are_registered_for_redaction(secrets_path: Path) -> None:
    redactor = Redactor()
    writer = open_secret_store("file", secrets_path, provider, redactor=redactor)
    writer.set("custom", "plain-looking-value-42")
    assert redactor.redact("got plain-looking-value-42") == "got [REDACTED]"

    reader_redactor = Redactor()
    reader = open_secret_store("file", secrets_path, provider, redactor=reader_redactor)
    assert reader.get("custom") == "plain-looking-value-42"
    assert reader_redactor.redact("x plain-looking-value-42 y") == "x [REDACTED] y"


def test_unknown_backend_choice(secrets_path: Path) -> None:
    with pytest.raises(ValueError, match="Unknown secrets backend"):
        open_secret_store("plaintext", secrets_path, provider)  # type: ignore[arg-type]


# -- choosing the backend -------------------------------------------------------------------

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="D-Bus is Linux's")


@pytest.fixture
def no_session_bus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "bus"
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={missing}")


@linux_only
def test_auto_without_secret_service_uses_the_encrypted_file_and_says_so(
    no_session_bus: None, secrets_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="src.services.secrets")

    store = open_secret_store("auto", secrets_path, provider, service=SERVICE)

    assert store.describe().startswith("encrypted file ")
    assert isinstance(store.backend, EncryptedFileKeyring)
    assert store.backend.path == secrets_path
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("OS keyring is not usable" in m for m in messages)
    assert f"Secrets are kept in: {store.describe()}" in messages
    store.set("openai", SECRET)
    assert store.get("openai") == SECRET


@linux_only
def test_keyring_without_secret_service_is_unavailable(
    no_session_bus: None, secrets_path: Path
) -> None:
    with pytest.raises(SecretsUnavailable, match="Secret Service cannot be used here"):
        open_secret_store("keyring", secrets_path, provider, service=SERVICE)
    assert not secrets_path.exists()


# -- the real Secret Service ----------------------------------------------------------------


def secret_service_reachable() -> bool:
    try:
        import secretstorage

        with closing(secretstorage.dbus_init()) as connection:
            if not secretstorage.check_service_availability(connection):
                return False
            secretstorage.Collection(connection)  # the default collection, which keyring uses
            return True
    except Exception:
        return False


@pytest.fixture
def keyring_service(tmp_path: Path) -> Iterator[str]:
    if not secret_service_reachable():
        pytest.skip("no Secret Service reachable on the D-Bus session bus")
    service = f"hark-test-{uuid.uuid4().hex[:12]}"
    yield service
    # Leave the keyring as it was, even if the test failed half-way.
    cleanup = open_secret_store("keyring", tmp_path / "unused.bin", None, service=service)
    for name in ("openai", "github"):
        cleanup.delete(name)


@pytest.mark.keyring
def test_real_secret_service_round_trip(keyring_service: str, tmp_path: Path) -> None:
    store = open_secret_store("keyring", tmp_path / "unused.bin", None, service=keyring_service)

    assert store.describe().startswith("Secret Service")
    assert store.names() == []

    store.set("openai", SECRET)
    store.set("github", "ghp_secret_service_value")

    assert store.names() == ["github", "openai"]
    assert store.get("openai") == SECRET
    # Visible to another client of the same keyring.
    again = open_secret_store("auto", tmp_path / "unused.bin", None, service=keyring_service)
    assert again.describe() == store.describe()
    assert again.get("github") == "ghp_secret_service_value"

    assert store.delete("openai") is True
    assert store.delete("openai") is False
    assert store.get("openai") is None
    assert store.names() == ["github"]
    assert store.delete("github") is True
    assert store.names() == []
    assert not (tmp_path / "unused.bin").exists()
