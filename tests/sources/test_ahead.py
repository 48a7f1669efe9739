"""Decoding ahead on several threads keeps the reader's order and hands results on at once."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from flowsql.sources.ahead import map_in_order


def slow_square(value: int) -> int:
    time.sleep(random.random() / 200)  # results finish out of order
    return value * value


def test_results_come_in_input_order() -> None:
    assert list(map_in_order(iter(range(200)), slow_square, 3, "t")) == [v * v for v in range(200)]


def test_a_result_is_handed_on_while_the_reader_waits_for_more() -> None:
    more = threading.Event()

    def items() -> Iterator[int]:
        yield 1
        more.wait(10)  # like a followed file with nothing new yet
        yield 2

    results = map_in_order(items(), lambda v: v * 10, 2, "t")
    assert next(results) == 10
    more.set()
    assert list(results) == [20]


def test_an_error_of_the_reader_or_the_work_reaches_the_consumer_in_order() -> None:
    def items() -> Iterator[int]:
        yield from range(5)
        raise OSError("disk gone")

    results = map_in_order(items(), lambda v: v, 2, "t")
    assert [next(results) for _ in range(5)] == list(range(5))
    with pytest.raises(OSError, match="disk gone"):
        next(results)

    def fail_on_three(value: int) -> int:
        if value == 3:
            raise ValueError("bad chunk")
        return value

    results = map_in_order(iter(range(10)), fail_on_three, 2, "t")
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad chunk"):
        next(results)


def test_a_slow_consumer_bounds_the_work_in_flight() -> None:
    taken = []

    def items() -> Iterator[int]:
        for value in range(100):
            taken.append(value)
            yield value

    results = map_in_order(items(), lambda v: v, 2, "t")
    next(results)
    # Showing that the producer does not run ahead needs a stretch of time in which it could:
    # this pause is that stretch, not a wait for something to happen.
    time.sleep(0.3)
    assert len(taken) <= 5  # one handed on, two waiting, one being put, one being read
    results.close()
