"""When and how soon to reconnect the Realtime link: pure rules, no I/O, no clock.

Two questions decide every reconnect, and both live here so they can be tested exhaustively
without a network:

* **Is it worth retrying?** A dropped TCP stream, a server close (the 60-minute cap is 1001
  "maximum duration"), a stalled link or a 5xx are transient. A rejected key (401), exhausted
  quota (``insufficient_quota``), a forbidden or unknown model, or a close that says the
  client spoke the protocol wrongly will fail the same way every time: retrying only hides
  the real problem from the user, so those stop at once.
* **How long to wait?** Exponential backoff with *full jitter* (a uniform draw between 0 and
  the exponential ceiling), so many clients cut off by one outage do not reconnect in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

EndKind = Literal[
    "dropped",  # the stream ended with no close frame
    "closed",  # the server sent a close frame
    "stalled",  # pings went unanswered
    "unreachable",  # the handshake could not complete (DNS, refused, timeout)
    "rejected",  # the handshake was answered with an HTTP error
    "error_event",  # the server reported an error that ends the session
    "recycle",  # Hark renews the session before the server's cap
    "client_closed",  # Hark closed it on purpose
]

# RFC 6455 close codes that mean "you sent something wrong / not allowed": a retry repeats it.
NON_RETRYABLE_CLOSE_CODES = frozenset({1002, 1003, 1007, 1008, 1009, 1010})
# Error-event codes that end a session for good (the same meaning as the HTTP statuses).
FATAL_ERROR_CODES = frozenset({"invalid_api_key", "insufficient_quota", "account_deactivated"})
# HTTP statuses at the handshake worth another try (besides 5xx and rate limits).
RETRYABLE_STATUSES = frozenset({408, 409, 425})
_MAX_EXPONENT = 62  # 2**62 is plenty; keeps the float finite for any attempt number


@dataclass(frozen=True)
class LinkEnd:
    """Why one Realtime link ended (or could not start), and whether to try again."""

    kind: EndKind
    retryable: bool
    reason: str
    status: int | None = None
    code: str | None = None


def end_from_close(code: int | None, reason: str = "") -> LinkEnd:
    """Classify the end of a receive loop: ``code`` is the server's close code, None if absent."""
    if code is None:
        return LinkEnd("dropped", True, "connection dropped")
    detail = f"server closed the session ({code}{' ' + reason if reason else ''})"
    return LinkEnd("closed", code not in NON_RETRYABLE_CLOSE_CODES, detail, code=str(code))


def end_from_status(status: int, code: str | None = None) -> LinkEnd:
    """Classify an HTTP error answering the WebSocket handshake."""
    if status == 429:
        retryable = code != "insufficient_quota"
    else:
        retryable = status in RETRYABLE_STATUSES or status >= 500
    return LinkEnd("rejected", retryable, f"handshake refused (HTTP {status})", status, code)


def end_from_error_event(code: str | None, error_type: str | None = None) -> LinkEnd | None:
    """A server ``error`` event that ends the session for good, or None for an ordinary error.

    Most error events are about one client event (a bad truncate, a cancel with nothing to
    cancel) and the session carries on. Authentication and quota errors do not recover.
    """
    if code in FATAL_ERROR_CODES or error_type == "authentication_error":
        status = 429 if code == "insufficient_quota" else 401
        return LinkEnd("error_event", False, f"server error ({code or error_type})", status, code)
    return None


def unreachable(detail: str) -> LinkEnd:
    return LinkEnd("unreachable", True, f"server unreachable ({detail})")


def stalled(timeout: float) -> LinkEnd:
    return LinkEnd("stalled", True, f"no answer to a ping within {timeout:g} s")


RECYCLE = LinkEnd("recycle", True, "session renewed before the server's time limit")
CLIENT_CLOSED = LinkEnd("client_closed", False, "closed by Hark")


@dataclass(frozen=True)
class BackoffPolicy:
    """Exponential backoff with full jitter.

    Attempt ``n`` (1-based) waits a uniform random time in ``[0, min(cap, base * 2**(n-1))]``.
    ``max_attempts`` None retries forever: a desktop assistant should come back by itself
    when the Wi-Fi does. ``random`` is injectable so tests get exact delays.
    """

    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    max_attempts: int | None = None
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("backoff times must not be negative")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None for unlimited)")

    def ceiling(self, attempt: int) -> float:
        """The longest wait before ``attempt``."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        exponent = min(attempt - 1, _MAX_EXPONENT)
        return min(self.cap_seconds, self.base_seconds * 2.0**exponent)

    def delay(self, attempt: int) -> float:
        """The wait before ``attempt``: a full-jitter draw below the ceiling."""
        return self.random() * self.ceiling(attempt)

    def allows(self, attempt: int) -> bool:
        """Whether ``attempt`` may be made at all."""
        return self.max_attempts is None or attempt <= self.max_attempts
