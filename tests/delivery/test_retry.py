"""The one retry loop every destination uses: full jitter, a cap, and the retry_duration bound."""

from __future__ import annotations

import pytest

from flowsql.delivery.retry import RetriesExhausted, RetryPolicy, TransientError, call_with_retry


class FakeClock:
    """Time that moves only when the loop sleeps, so the test is exact and instant."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(retry_duration=60, base_delay=0.1, max_delay=2.0)
    assert [policy.backoff(n, lambda: 1.0) for n in (1, 2, 3, 4, 5, 10)] == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    assert policy.backoff(3, lambda: 0.0) == 0.0
    assert policy.backoff(3, lambda: 0.5) == 0.4


def test_transient_failures_are_retried_until_success() -> None:
    clock, calls = FakeClock(), []

    def action() -> str:
        calls.append(clock.now)
        if len(calls) < 4:
            raise TransientError("503")
        return "ok"

    result = call_with_retry(
        action,
        RetryPolicy(10, 0.1, 1.0),
        "PUT x",
        lambda e: isinstance(e, TransientError),
        clock=lambda: clock.now,
        sleep=clock.sleep,
        draw=lambda: 1.0,
    )
    assert result == "ok" and len(calls) == 4
    assert clock.pauses == [0.2, 0.4, 0.8]


def test_the_retry_duration_bounds_the_attempts() -> None:
    clock = FakeClock()
    attempts = []

    def action() -> None:
        attempts.append(clock.now)
        raise TransientError("still down")

    with pytest.raises(RetriesExhausted) as caught:
        call_with_retry(
            action,
            RetryPolicy(5, 0.5, 1.0),
            "POST y",
            lambda e: True,
            clock=lambda: clock.now,
            sleep=clock.sleep,
            draw=lambda: 1.0,
        )
    # Pauses of 1 s (capped) until the 5 s budget is spent; the last attempt lands at the deadline.
    assert attempts[-1] == pytest.approx(5.0)
    assert clock.now == pytest.approx(5.0)
    assert caught.value.attempts == len(attempts)
    assert "still down" in str(caught.value) and "retry_duration of 5 s" in str(caught.value)


def test_permanent_errors_escape_at_once() -> None:
    clock = FakeClock()

    def action() -> None:
        raise PermissionError("AccessDenied")

    with pytest.raises(PermissionError):
        call_with_retry(
            action,
            RetryPolicy(60, 0.1, 1.0),
            "PUT z",
            lambda e: isinstance(e, TransientError),
            clock=lambda: clock.now,
            sleep=clock.sleep,
        )
    assert clock.pauses == []
