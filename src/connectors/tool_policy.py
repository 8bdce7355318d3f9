"""How long a tool may run and when it is worth trying again: one policy for text and voice.

A read that failed for a passing reason (a timeout at the provider, a 5xx, a rate limit: the
``ConnectorError(retryable=True)`` of ``http_error_message``) is tried again after an
exponentially growing pause, because the user would otherwise hear "try again later" for a
blip. Tools with side effects are never retried here: a send that timed out may have been
sent, and doing it twice is worse than saying so. The deadline covers every attempt and
pause together, so the user waits at most ``tool_timeout`` seconds for one tool.

Not a connector: it has no ``CONNECTOR``, so discovery passes over it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from src.connectors.base import ConnectorError

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``attempts`` tries of an idempotent read, pausing ``base_delay * 2**n`` between.

    ``sleep`` is injectable so tests observe the pauses without waiting for them.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 4.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays cannot be negative")

    def delay(self, retry: int) -> float:
        """The pause before retry number ``retry`` (1 for the first retry)."""
        return float(min(self.max_delay, self.base_delay * 2 ** (retry - 1)))


NO_RETRIES = RetryPolicy(attempts=1)


async def with_retries(name: str, call: Callable[[], Awaitable[str]], policy: RetryPolicy) -> str:
    """Run ``call``; on a retryable ``ConnectorError`` pause and run it again, up to the limit."""
    attempt = 1
    while True:
        try:
            return await call()
        except ConnectorError as exc:
            if not exc.retryable or attempt >= policy.attempts:
                raise
            pause = policy.delay(attempt)
            log.info(
                "tool %s failed (%s); retry %d of %d in %.2fs",
                name,
                exc.message,
                attempt,
                policy.attempts - 1,
                pause,
            )
            await policy.sleep(pause)
            attempt += 1


async def within(seconds: float, name: str, work: Awaitable[str]) -> str:
    """Await ``work`` for at most ``seconds``; past that, the tool's "took too long" sentence."""
    try:
        async with asyncio.timeout(seconds):
            return await work
    except TimeoutError as exc:
        raise ConnectorError(f"{name} took too long and was stopped.") from exc
