"""Decode ahead: run a reader's decoding on a few threads while keeping the reader's order.

Decoding (DuckDB's JSON reader) releases the GIL but runs one chunk on one core; a file read
faster than one core decodes keeps more cores busy when the next chunks decode while the
engine works on the current one. Results come out in input order, so positions stay monotonic,
and each as soon as it and those before it are done, so a followed file is not held back.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar, cast

Item = TypeVar("Item")
Result = TypeVar("Result")

_END = object()
_POLL = 0.1


def map_in_order(items: Iterator[Item], work: Callable[[Item], Result], threads: int, name: str) -> Iterator[Result]:
    """`work` over `items` on up to `threads` threads, results in the order of `items`. Items
    are taken from their iterator on a thread of their own; at most `threads` results wait,
    so memory stays bounded when the consumer is slow."""
    if threads <= 1:
        for item in items:
            yield work(item)
        return
    waiting: queue.Queue[Future[Result] | BaseException | object] = queue.Queue(maxsize=threads)
    closing = threading.Event()

    def put(entry: Future[Result] | BaseException | object) -> bool:
        while not closing.is_set():
            try:
                waiting.put(entry, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    with ThreadPoolExecutor(threads, thread_name_prefix=name) as pool:

        def feed() -> None:
            try:
                for item in items:
                    if not put(pool.submit(work, item)):
                        return
                put(_END)
            except BaseException as exc:  # the consumer raises it, in order
                put(exc)

        feeder = threading.Thread(target=feed, name=f"{name}-read", daemon=True)
        feeder.start()
        try:
            while True:
                entry = waiting.get()
                if entry is _END:
                    return
                if isinstance(entry, BaseException):
                    raise entry
                # What is left once the end mark and errors are handled is a submitted Future.
                yield cast("Future[Result]", entry).result()
        finally:
            # The feeder sees `closing` at its next put; it is not waited for, since it may be
            # waiting on its source (a followed file) until the run's own stop reaches it.
            closing.set()
            while not waiting.empty():
                entry = waiting.get_nowait()
                if isinstance(entry, Future):
                    entry.cancel()
