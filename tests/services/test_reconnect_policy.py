"""The reconnect rules: what is worth retrying, and how long to wait (pure, no network)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.services.reconnect_policy import (
    BackoffPolicy,
    end_from_close,
    end_from_error_event,
    end_from_status,
    stalled,
    unreachable,
)


def test_ceiling_doubles_from_the_base_up_to_the_cap() -> None:
    policy = BackoffPolicy(base_seconds=0.5, cap_seconds=4.0)
    assert [policy.ceiling(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_full_jitter_draws_between_zero_and_the_ceiling() -> None:
    draws = iter([0.0, 0.5, 1.0])
    policy = BackoffPolicy(base_seconds=1.0, cap_seconds=30.0, random=lambda: next(draws))
    assert [policy.delay(3) for _ in range(3)] == [0.0, 2.0, 4.0]


@given(attempt=st.integers(min_value=1, max_value=10_000), draw=st.floats(0.0, 1.0))
def test_any_delay_stays_within_the_cap(attempt: int, draw: float) -> None:
    policy = BackoffPolicy(base_seconds=0.25, cap_seconds=30.0, random=lambda: draw)
    assert 0.0 <= policy.delay(attempt) <= 30.0


def test_attempts_are_limited_only_when_asked() -> None:
    assert BackoffPolicy().allows(1_000_000)
    limited = BackoffPolicy(max_attempts=3)
    assert [limited.allows(n) for n in (1, 3, 4)] == [True, True, False]


@pytest.mark.parametrize(
    "options",
    [{"base_seconds": -1.0}, {"cap_seconds": -1.0}, {"max_attempts": 0}],
)
def test_nonsense_settings_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**options)  # type: ignore[arg-type]


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        BackoffPolicy().ceiling(0)


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (None, True),  # no close frame: the network dropped
        (1001, True),  # going away: the 60-minute cap, a server restart
        (1000, True),  # the server ended the session normally: start a new one
        (1006, True),
        (1011, True),  # server error
        (1012, True),
        (1008, False),  # policy violation: the same request fails again
        (1002, False),  # protocol error: Hark sent something malformed
        (1009, False),
    ],
)
def test_close_codes(code: int | None, retryable: bool) -> None:
    end = end_from_close(code, "maximum duration" if code == 1001 else "")
    assert end.retryable is retryable
    assert end.kind == ("dropped" if code is None else "closed")


def test_close_reason_is_kept_for_the_user() -> None:
    assert "1001 maximum duration" in end_from_close(1001, "maximum duration").reason


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (401, "invalid_api_key", False),
        (403, None, False),
        (404, "model_not_found", False),
        (400, None, False),
        (429, "insufficient_quota", False),
        (429, "rate_limit_exceeded", True),
        (408, None, True),
        (500, "server_error", True),
        (503, None, True),
    ],
)
def test_handshake_statuses(status: int, code: str | None, retryable: bool) -> None:
    end = end_from_status(status, code)
    assert (end.kind, end.retryable, end.status, end.code) == ("rejected", retryable, status, code)


@pytest.mark.parametrize(
    ("code", "error_type", "status"),
    [
        ("invalid_api_key", "invalid_request_error", 401),
        (None, "authentication_error", 401),
        ("insufficient_quota", "insufficient_quota", 429),
    ],
)
def test_auth_and_quota_error_events_end_the_session(
    code: str | None, error_type: str, status: int
) -> None:
    end = end_from_error_event(code, error_type)
    assert end is not None
    assert (end.kind, end.retryable, end.status) == ("error_event", False, status)


@pytest.mark.parametrize(
    "code", ["invalid_event", "response_cancel_not_active", "item_not_found", None]
)
def test_ordinary_error_events_do_not_end_the_session(code: str | None) -> None:
    assert end_from_error_event(code, "invalid_request_error") is None


def test_stalls_and_unreachable_servers_are_transient() -> None:
    assert stalled(5.0).retryable and stalled(5.0).kind == "stalled"
    assert "5 s" in stalled(5.0).reason
    assert unreachable("ConnectionRefusedError").retryable
