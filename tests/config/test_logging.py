"""Session logging: redaction on every handler, rotation, pruning, private files."""

from __future__ import annotations

import logging
import os
import re
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from src.config.logging_setup import NOISY_LOGGERS, reset_logging, setup_logging
from src.config.redaction import REDACTED, REDACTOR, RedactionFilter, Redactor

SECRET = "hunter2-very-private-value-0451"
OPENAI_KEY = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345"
BEARER_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_root = root.level
    saved = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    reset_logging()
    root.setLevel(saved_root)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- a known secret never reaches a file or the console -------------------------------------


def test_registered_secret_never_reaches_the_file_or_stderr(
    tmp_path: Path, redactor: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path = setup_logging(tmp_path / "logs", level="DEBUG", redactor=redactor)
    redactor.add(SECRET)

    logging.getLogger().warning("root args: %s (end)", SECRET)
    logging.getLogger("openai").warning(f"openai f-string: {SECRET} (end)")
    logging.getLogger("httpx").warning("httpx mapping: %s", {"x-custom": SECRET})
    logging.getLogger("websockets.client").error("websockets repr: %r (end)", SECRET)
    logging.getLogger("agents").warning("agents text %s", SECRET)
    logging.getLogger("openai.agents").warning("openai.agents text %s", SECRET)
    logging.getLogger("httpcore.http11").debug("httpcore debug %s", SECRET)
    try:
        raise RuntimeError(f"upstream rejected {SECRET}")
    except RuntimeError:
        logging.getLogger("openai").exception("call failed for %s", "the-user")

    text = read(log_path)
    err = capsys.readouterr().err

    assert SECRET not in text
    assert SECRET not in err
    assert f"root args: {REDACTED} (end)" in text
    assert f"openai f-string: {REDACTED} (end)" in text
    assert f"httpx mapping: {{'x-custom': '{REDACTED}'}}" in text
    assert f"websockets repr: '{REDACTED}' (end)" in text
    assert f"agents text {REDACTED}" in text
    assert f"openai.agents text {REDACTED}" in text
    assert f"httpcore debug {REDACTED}" in text
    assert "call failed for the-user" in text
    assert "Traceback (most recent call last)" in text
    assert f"RuntimeError: upstream rejected {REDACTED}" in text

    assert f"hark: warning: root args: {REDACTED} (end)" in err
    assert f"hark: error: websockets repr: '{REDACTED}' (end)" in err
    assert (
        f"hark: error: call failed for the-user (RuntimeError: upstream rejected {REDACTED})"
        in (err)
    )
    assert "Traceback" not in err
    assert "httpcore debug" not in err


def test_python_warnings_are_logged_through_the_redaction_filter(
    tmp_path: Path, redactor: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path = setup_logging(tmp_path / "logs", redactor=redactor)
    redactor.add(SECRET)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(f"retrying with {SECRET}", UserWarning, stacklevel=1)

    text = read(log_path)
    err = capsys.readouterr().err
    assert SECRET not in text and SECRET not in err
    assert f"UserWarning: retrying with {REDACTED}" in text
    assert "hark: warning: " in err and REDACTED in err


def test_unregistered_keys_and_tokens_are_redacted_by_pattern(
    tmp_path: Path, redactor: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path = setup_logging(tmp_path, redactor=redactor)

    logging.getLogger("openai").warning("client made with api_key=%s", OPENAI_KEY)
    logging.getLogger("httpx").warning("headers: Authorization: Bearer %s", BEARER_TOKEN)
    logging.getLogger("hark.connector").warning("GET /v1/items?access_token=abc123xyz&page=2")
    logging.getLogger("hark.connector").warning('body {"client_secret": "cs-0987654321"}')

    text = read(log_path)
    err = capsys.readouterr().err
    for output in (text, err):
        assert OPENAI_KEY not in output
        assert BEARER_TOKEN not in output
        assert "abc123xyz" not in output
        assert "cs-0987654321" not in output
        assert f"Authorization: Bearer {REDACTED}" in output
        assert f"access_token={REDACTED}&page=2" in output
        assert f'{{"client_secret": "{REDACTED}"}}' in output
        assert "client made with api_key=" in output


def test_process_wide_redactor_is_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    value = "default-redactor-value-7731"
    log_path = setup_logging(tmp_path)
    REDACTOR.add(value)

    logging.getLogger("hark").warning("value is %s", value)

    assert f"value is {REDACTED}" in read(log_path)
    assert value not in capsys.readouterr().err


def test_stack_info_is_redacted(tmp_path: Path, redactor: Redactor) -> None:
    log_path = setup_logging(tmp_path, redactor=redactor)

    logging.getLogger("hark").warning("with stack sk-proj-0123456789abcdefghij", stack_info=True)

    text = read(log_path)
    assert "Stack (most recent call last)" in text
    assert "sk-proj-0123456789abcdefghij" not in text


# -- levels, console format, idempotence ----------------------------------------------------


def test_library_debug_goes_to_the_file_only_when_level_is_debug(
    tmp_path: Path, redactor: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path = setup_logging(tmp_path, level="DEBUG", console_level="DEBUG", redactor=redactor)

    logging.getLogger("httpx").debug("library chatter")
    logging.getLogger("hark.app").debug("app detail")

    text = read(log_path)
    err = capsys.readouterr().err
    assert "library chatter" in text
    assert "library chatter" not in err
    assert "hark: debug: app detail" in err


def test_library_info_is_dropped_at_info_level(
    tmp_path: Path, redactor: Redactor, capsys: pytest.CaptureFixture[str]
) -> None:
    log_path = setup_logging(tmp_path, level="INFO", redactor=redactor)

    logging.getLogger("httpx").info("HTTP Request: POST https://example.invalid 200")
    logging.getLogger("hark.app").info("app info")

    text = read(log_path)
    assert "HTTP Request" not in text
    assert "app info" in text
    assert "app info" not in capsys.readouterr().err


def test_file_format_is_detailed(tmp_path: Path, redactor: Redactor) -> None:
    log_path = setup_logging(tmp_path, redactor=redactor)

    logging.getLogger("hark.app").warning("shape check")

    line = next(line for line in read(log_path).splitlines() if "shape check" in line)
    pattern = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} WARNING  hark\.app \[MainThread\] shape check"
    assert re.fullmatch(pattern, line)


def test_setup_twice_does_not_duplicate_handlers(tmp_path: Path, redactor: Redactor) -> None:
    first = setup_logging(tmp_path, redactor=redactor)
    second = setup_logging(tmp_path, redactor=redactor)

    logging.getLogger("hark.app").warning("exactly once")

    assert first == second
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_hark_handler", False)]
    assert len(ours) == 2
    assert read(second).count("exactly once") == 1
    for handler in ours:
        assert any(isinstance(f, RedactionFilter) for f in handler.filters)


# -- files: names, modes, rotation, pruning -------------------------------------------------


def test_session_file_is_private_in_a_private_directory(tmp_path: Path, redactor: Redactor) -> None:
    log_dir = tmp_path / "new" / "logs"
    log_path = setup_logging(log_dir, redactor=redactor)

    assert log_path.parent == log_dir
    assert re.fullmatch(rf"hark-\d{{8}}-\d{{6}}-{os.getpid()}\.log", log_path.name)
    assert mode(log_dir) == 0o700
    assert mode(log_path) == 0o600


def test_rotation_keeps_backup_count_files_all_private(tmp_path: Path, redactor: Redactor) -> None:
    log_path = setup_logging(tmp_path, max_bytes=2_000, backup_count=2, redactor=redactor)

    for number in range(200):
        logging.getLogger("hark.app").warning("line %03d %s", number, "x" * 60)

    backups = sorted(p.name for p in tmp_path.iterdir() if p.name != log_path.name)
    assert backups == [f"{log_path.name}.1", f"{log_path.name}.2"]
    for name in (log_path.name, *backups):
        assert mode(tmp_path / name) == 0o600
        assert (tmp_path / name).stat().st_size <= 2_000
    assert "line 199" in read(log_path)


def test_old_sessions_beyond_keep_sessions_are_deleted(tmp_path: Path, redactor: Redactor) -> None:
    old = []
    for index in range(30):
        session = tmp_path / f"hark-20240101-0000{index:02d}-{1000 + index}.log"
        session.write_text("old\n")
        backup = tmp_path / f"{session.name}.1"
        backup.write_text("older\n")
        for path in (session, backup):
            os.utime(path, (1_700_000_000 + index, 1_700_000_000 + index))
        old.append(session)
    unrelated = [tmp_path / "notes.txt", tmp_path / "hark-config.log", tmp_path / "x.log.1"]
    for path in unrelated:
        path.write_text("keep me\n")

    log_path = setup_logging(tmp_path, keep_sessions=5, redactor=redactor)

    remaining = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("hark-2"))
    expected_old = [s.name for s in old[-4:]]
    expected = sorted([log_path.name, *expected_old, *(f"{n}.1" for n in expected_old)])
    assert remaining == expected
    assert all(path.exists() for path in unrelated)


# -- the redactor and the filter on their own -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {OPENAI_KEY} used", f"key {REDACTED} used"),
        ("legacy sk-0123456789abcdefABCDEF", f"legacy {REDACTED}"),
        ("sk-short is not a key", "sk-short is not a key"),
        (f"Authorization: Bearer {BEARER_TOKEN}", f"Authorization: Bearer {REDACTED}"),
        (f"auth=Bearer {BEARER_TOKEN}", f"auth=Bearer {REDACTED}"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", f"Authorization: Basic {REDACTED}"),
        (
            "(b'Authorization', b'Bearer abcdefgh12345')",
            f"(b'Authorization', b'Bearer {REDACTED}')",
        ),
        ("{'x-api-key': 'zzzzzzzz'}", f"{{'x-api-key': '{REDACTED}'}}"),
        ("https://h/p?key=AIzaSyA1&alt=json", f"https://h/p?key={REDACTED}&alt=json"),
        (
            "grant_type=x&client_secret=abc&token=t0k",
            f"grant_type=x&client_secret={REDACTED}&token={REDACTED}",
        ),
        ('{"api_key": "a\\"b", "model": "gpt"}', f'{{"api_key": "{REDACTED}", "model": "gpt"}}'),
        ("{'refresh_token': 'r', 'n': 1}", f"{{'refresh_token': '{REDACTED}', 'n': 1}}"),
        ('{"password":"p4ss","max_tokens": 10}', f'{{"password":"{REDACTED}","max_tokens": 10}}'),
        ("Cookie: session=abc; theme=dark", f"Cookie: {REDACTED}"),
        ("sort_key=name monkey=1", "sort_key=name monkey=1"),
        ("missing bearer token", "missing bearer token"),
        ("nothing to see here", "nothing to see here"),
    ],
)
def test_patterns(text: str, expected: str) -> None:
    redactor = Redactor()
    assert redactor.redact(text) == expected
    assert redactor.redact(expected) == expected


def test_known_values_short_values_and_url_encoding() -> None:
    redactor = Redactor(["abc", "pa ss/word+1"])
    redactor.add("pa ss/word+1-longer")

    assert len(redactor) > 0
    assert redactor.redact("abc abc") == "abc abc"
    assert redactor.redact("x pa ss/word+1-longer y") == f"x {REDACTED} y"
    assert redactor.redact("x pa ss/word+1 y") == f"x {REDACTED} y"
    assert redactor.redact("q=pa%20ss%2Fword%2B1&z") == f"q={REDACTED}&z"


def test_filter_survives_bad_arguments_and_still_redacts() -> None:
    redactor = Redactor([SECRET])
    record = logging.LogRecord("hark", logging.WARNING, __file__, 1, "%d items", (SECRET,), None)

    assert RedactionFilter(redactor).filter(record) is True

    assert record.args is None
    assert SECRET not in record.getMessage()
    assert "%d items" in record.getMessage()


def test_filter_renders_and_redacts_exceptions_once() -> None:
    redactor = Redactor([SECRET])
    try:
        raise ValueError(f"bad {SECRET}")
    except ValueError as exc:
        info = (type(exc), exc, exc.__traceback__)
    record = logging.LogRecord("hark", logging.ERROR, __file__, 1, "failed", None, info)

    redaction = RedactionFilter(redactor)
    redaction.filter(record)
    redaction.filter(record)  # a second handler's filter: harmless

    assert record.exc_info is None
    assert record.exc_text is not None
    assert f"ValueError: bad {REDACTED}" in record.exc_text
    assert SECRET not in logging.Formatter().format(record)
