"""Retries for every destination: capped exponential backoff with full jitter, bounded by the
sink's `retry_duration`, and the short connect/read timeouts each attempt runs under.

While a destination is down the flush that called it blocks here; the runner's bounded queue
then stops the readers, so an outage slows the source instead of growing memory.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flowsql.errors import DeliveryError
from flowsql.options import duration

log = logging.getLogger("flowsql.delivery")
T = TypeVar("T")


@dataclass(frozen=True)
class RetryOptions:
    """The retry options a remote destination takes (mixed into its options dataclass)."""

    retry_duration: float = duration(300.0)
    connect_timeout: float = duration(2.0)
    read_timeout: float = duration(15.0)
    retry_base_delay: float = duration(0.1)
    retry_max_delay: float = duration(10.0)


@dataclass(frozen=True)
class RetryPolicy:
    retry_duration: float = 300.0
    base_delay: float = 0.1
    max_delay: float = 10.0

    @classmethod
    def from_options(cls, options: RetryOptions) -> RetryPolicy:
        return cls(options.retry_duration, options.retry_base_delay, options.retry_max_delay)

    def backoff(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        """Full jitter: a uniform pause in [0, min(cap, base * 2**attempt)), so many writers
        that failed together do not come back together."""
        return draw() * min(self.max_delay, self.base_delay * (2 ** min(attempt, 30)))


class TransientError(Exception):
    """A failure worth another attempt (5xx, throttling, a reset, a timeout)."""


class RetriesExhausted(DeliveryError):
    """`retry_duration` is spent and the last attempt still failed."""

    def __init__(self, message: str, attempts: int, last_error: BaseException) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error


def call_with_retry(
    action: Callable[[], T],
    policy: RetryPolicy,
    what: str,
    is_transient: Callable[[BaseException], bool],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = random.random,
) -> T:
    """Run `action` until it succeeds, a non-transient error escapes, or the retry budget
    is spent (then RetriesExhausted). `what` names the operation in logs; never a secret."""
    deadline = clock() + policy.retry_duration
    attempt = 0
    while True:
        attempt += 1
        try:
            return action()
        except Exception as exc:
            if not is_transient(exc):
                raise
            left = deadline - clock()
            if left <= 0:
                raise RetriesExhausted(
                    f"{what}: still failing after {attempt} attempts over the retry_duration of "
                    f"{policy.retry_duration:g} s; last error: {describe_error(exc)}",
                    attempt, exc,
                ) from exc
            # The last pause is cut short so one more attempt lands right at the deadline.
            pause = min(policy.backoff(attempt, draw), left)
            log.warning("%s: attempt %d failed (%s); retrying in %.2f s", what, attempt, describe_error(exc), pause)
            sleep(pause)


def describe_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"
