"""Adaptive micro-batches: batches waiting in the queue join into one, in order, per source."""

from __future__ import annotations

import queue

import pyarrow as pa

from flowsql import runner
from flowsql.records import SourceBatch

JOINABLE = frozenset({"a", "b"})


def batch(source: str, values: list[int], offset: int) -> tuple[str, str, SourceBatch]:
    table = pa.table({"n": pa.array(values, pa.int64())})
    return ("batch", source, SourceBatch(source, table, [], {"offset": offset}, raw_bytes=len(values)))


def test_waiting_batches_of_one_source_join_and_keep_the_last_position() -> None:
    inbox: queue.Queue = queue.Queue()
    for item in [batch("a", [2, 3], 2), batch("a", [4], 3), ("end", "a", None), batch("b", [9], 1)]:
        inbox.put(item)
    items = runner._coalesced(batch("a", [1], 1), inbox, JOINABLE)
    assert [(kind, name) for kind, name, _ in items] == [("batch", "a"), ("end", "a"), ("batch", "b")]
    joined = items[0][2]
    assert joined.table.column("n").to_pylist() == [1, 2, 3, 4]
    assert joined.position == {"offset": 3} and joined.raw_bytes == 4
    assert inbox.empty()


def test_a_batch_that_comes_alone_runs_alone_and_sources_do_not_mix() -> None:
    inbox: queue.Queue = queue.Queue()
    assert [p.table.num_rows for _, _, p in runner._coalesced(batch("a", [1], 1), inbox, JOINABLE)] == [1]
    inbox.put(batch("b", [2], 1))
    inbox.put(batch("a", [3], 2))
    items = runner._coalesced(batch("a", [1], 1), inbox, JOINABLE)
    assert [(name, p.table.column("n").to_pylist()) for _, name, p in items] == [("a", [1]), ("b", [2]), ("a", [3])]


def test_a_micro_batch_stops_growing_at_its_row_limit(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(runner, "_MICRO_BATCH_ROWS", 3)
    inbox: queue.Queue = queue.Queue()
    for offset in range(2, 5):
        inbox.put(batch("a", [offset], offset))
    items = runner._coalesced(batch("a", [1], 1), inbox, JOINABLE)
    assert [p.table.column("n").to_pylist() for _, _, p in items] == [[1, 2, 3], [4]]


def test_a_source_that_is_not_joinable_keeps_its_batches_as_read() -> None:
    inbox: queue.Queue = queue.Queue()
    inbox.put(batch("cdc", [2], 2))
    items = runner._coalesced(batch("cdc", [1], 1), inbox, JOINABLE)
    assert [p.table.column("n").to_pylist() for _, _, p in items] == [[1], [2]]
