"""Retries for every destination: capped exponential backoff with full jitter, bounded by the
sink's `retry_duration`, and the short connect/read timeouts each attempt runs under.

While a destination is down the flush that called it blocks here; the runner's bounded queue
then stops the readers, so an outage slows the source instead of growing memory. The pauses call
back whoever waits on this thread (`while_waiting`), so the run's status stays live meanwhile.

Why ours and not botocore's retry modes (which every other AWS call uses, via flowsql/aws.py):
botocore bounds retries by a number of attempts, where a sink's `retry_duration` is a time budget
(Firehose's rule); it cannot serve the HTTP endpoint sink, which is not an AWS API; and its pauses
neither call back the status display nor count retries and throttles per sink. The S3 client this
drives is built with one attempt, so the two never retry the same call.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from flowsql.errors import DeliveryError
from flowsql.metrics import DeliveryReporter
from flowsql.options import duration
from flowsql.secrets import scrub

log = logging.getLogger("flowsql.delivery")
T = TypeVar("T")
_WAKE_EVERY = 0.25  # seconds between calls of the waiting callback during one pause
_waiting = threading.local()


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
    sleep: Callable[[float], None] | None = None,
    draw: Callable[[], float] = random.random,
    reporter: DeliveryReporter | None = None,
    is_throttle: Callable[[BaseException], bool] = lambda exc: False,
    secrets: Iterable[str] = (),
) -> T:
    """Run `action` until it succeeds, a non-transient error escapes, or the retry budget
    is spent (then RetriesExhausted). `what` names the operation in logs; never a secret.
    Each retry is counted on `reporter` (and logged by it); error text from the remote is
    scrubbed of `secrets` before it is logged or put in an exception."""
    deadline = clock() + policy.retry_duration
    known = list(secrets)
    attempt = 0
    while True:
        attempt += 1
        try:
            return action()
        except Exception as exc:
            if not is_transient(exc):
                raise
            reason = scrub(describe_error(exc), known)
            left = deadline - clock()
            if left <= 0:
                raise RetriesExhausted(
                    f"{what}: still failing after {attempt} attempts over the retry_duration of "
                    f"{policy.retry_duration:g} s; last error: {reason}",
                    attempt,
                    exc,
                ) from exc
            # The last pause is cut short so one more attempt lands right at the deadline.
            pause = min(policy.backoff(attempt, draw), left)
            if reporter is None:
                log.warning("%s: attempt %d failed (%s); retrying in %.2f s", what, attempt, reason, pause)
            else:
                reporter.retry(f"{what}: attempt {attempt} failed ({reason})", pause, left, is_throttle(exc))
            (sleep or pause_while_waiting)(pause)


@contextmanager
def while_waiting(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` every fraction of a second while a retry on this thread pauses (the
    runner samples its status this way while a destination is down)."""
    previous = getattr(_waiting, "callback", None)  # a threading.local: unset on a thread that never set it
    _waiting.callback = callback
    try:
        yield
    finally:
        _waiting.callback = previous


def pause_while_waiting(seconds: float) -> None:
    """Sleep `seconds`, calling this thread's waiting callback (if any) at least every
    _WAKE_EVERY seconds."""
    callback: Callable[[], None] | None = getattr(_waiting, "callback", None)
    end = time.monotonic() + seconds
    while True:
        if callback is not None:
            callback()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, _WAKE_EVERY) if callback is not None else left)


def describe_error(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"
