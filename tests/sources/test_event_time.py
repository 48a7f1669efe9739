"""Per-partition event time: the source's progress is the least over its active partitions,
idle partitions stop holding it back, a partition far ahead is told to pause; implausible
event times are found with their reasons."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsql.decode import NdjsonDecoder
from flowsql.pipeline.model import Column
from flowsql.sources.event_time import PartitionClocks, TimeBounds

S = 1_000_000


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_the_least_over_partitions_and_never_goes_back() -> None:
    clocks = PartitionClocks(["ts"], idle_timeout=None, max_drift=None)
    clocks.add("a")
    clocks.add("b")
    clocks.observe("a", {"ts": 100})
    assert clocks.progress() == {"ts": None}  # b has shown no time yet: it holds the source
    clocks.observe("b", {"ts": 40})
    assert clocks.progress() == {"ts": 40}
    clocks.observe("b", {"ts": 30})  # disorder inside a partition does not move anything back
    assert clocks.progress() == {"ts": 40}
    clocks.observe("b", {"ts": 120})
    assert clocks.progress() == {"ts": 100}
    clocks.finish("a")
    assert clocks.progress() == {"ts": 120}


def test_a_child_starts_where_its_parents_ended() -> None:
    clocks = PartitionClocks(["ts"], idle_timeout=None, max_drift=None)
    for shard in ("parent", "other"):
        clocks.add(shard)
    clocks.observe("parent", {"ts": 50})
    clocks.observe("other", {"ts": 500})
    ended = clocks.finish("parent")
    clocks.add("child", start=ended)  # registered before progress is read again
    assert clocks.progress() == {"ts": 50}
    clocks.observe("child", {"ts": 70})
    assert clocks.progress() == {"ts": 70}


def test_an_idle_partition_stops_holding_time_back_and_rejoins() -> None:
    now = FakeClock()
    clocks = PartitionClocks(["ts"], idle_timeout=30.0, max_drift=None, clock=now)
    clocks.add("busy")
    clocks.add("quiet")
    clocks.observe("quiet", {"ts": 10 * S})
    clocks.observe("busy", {"ts": 20 * S})
    assert clocks.progress() == {"ts": 10 * S}
    now.now = 29.0
    clocks.answered_empty("quiet")
    assert clocks.progress() == {"ts": 10 * S}  # measured from the last record: not yet
    now.now = 31.0
    clocks.answered_empty("quiet")
    assert clocks.progress() == {"ts": 20 * S}
    clocks.observe("quiet", {"ts": 15 * S})  # back, behind: it holds nothing back below 20
    clocks.observe("busy", {"ts": 40 * S})
    assert clocks.progress() == {"ts": 20 * S}
    clocks.observe("quiet", {"ts": 30 * S})
    assert clocks.progress() == {"ts": 30 * S}


def test_a_paused_partition_is_not_idle() -> None:
    now = FakeClock()
    clocks = PartitionClocks(["ts"], idle_timeout=5.0, max_drift=None, clock=now)
    clocks.add("a")
    clocks.observe("a", {"ts": 1})
    clocks.set_paused("a", True)
    now.now = 100.0
    clocks.answered_empty("a")
    clocks.set_paused("a", False)
    clocks.answered_empty("a")
    assert clocks.snapshot()["a"]["idle"] is False


def test_every_partition_idle_lets_time_reach_the_latest_seen() -> None:
    now = FakeClock()
    clocks = PartitionClocks(["ts"], idle_timeout=1.0, max_drift=None, clock=now)
    for name, ts in (("a", 5), ("b", 9)):
        clocks.add(name)
        clocks.observe(name, {"ts": ts})
    now.now = 2.0
    clocks.answered_empty("a")
    clocks.answered_empty("b")
    assert clocks.progress() == {"ts": 9}


def test_a_partition_far_ahead_is_paused() -> None:
    clocks = PartitionClocks(["ts"], idle_timeout=None, max_drift=60.0)
    clocks.add("slow")
    clocks.add("fast")
    clocks.observe("slow", {"ts": 0})
    clocks.observe("fast", {"ts": 30 * S})
    assert not clocks.ahead("fast")
    clocks.observe("fast", {"ts": 61 * S})
    assert clocks.ahead("fast") and not clocks.ahead("slow")
    clocks.observe("slow", {"ts": 10 * S})
    assert not clocks.ahead("fast")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 1000), min_size=1, max_size=20), min_size=1, max_size=5), st.randoms())
def test_progress_never_passes_a_partition_still_to_read(partitions: list[list[int]], rnd) -> None:  # type: ignore[no-untyped-def]
    """However partitions interleave, the progress is never beyond the least time a partition
    still has to deliver, once its times are non-decreasing (disorder is the delay's job)."""
    streams = [sorted(p) for p in partitions]
    clocks = PartitionClocks(["ts"], idle_timeout=None, max_drift=None)
    for index in range(len(streams)):
        clocks.add(str(index))
    cursors = [0] * len(streams)
    while any(c < len(s) for c, s in zip(cursors, streams, strict=True)):
        index = rnd.choice([i for i, s in enumerate(streams) if cursors[i] < len(s)])
        clocks.observe(str(index), {"ts": streams[index][cursors[index]]})
        cursors[index] += 1
        if cursors[index] == len(streams[index]):
            clocks.finish(str(index))
        progress = clocks.progress().get("ts")
        pending = [s[c] for c, s in zip(cursors, streams, strict=True) if c < len(s)]
        if progress is not None and pending:
            assert progress <= min(pending)


def _decoder() -> NdjsonDecoder:
    return NdjsonDecoder("clicks", (Column("id", "BIGINT"), Column("ts", "TIMESTAMP")), TimeBounds("ts", 86_400 * S))


def test_implausible_event_times_go_to_the_error_output_with_their_bytes_and_offsets() -> None:
    lines = [
        b'{"id":1,"ts":"2026-01-01 00:00:00"}',
        b'{"id":2,"ts":"2099-01-01 00:00:00"}',
        b"",
        b'{"id":3,"ts":"infinity"}',
        b'{"id":4,"ts":"10000-01-01 00:00:00"}',
        b'{"id":5,"ts":"2026-01-01 00:00:01"}',
        b'{"id":6,"ts":"-infinity"}',
    ]
    data = b"\n".join(lines)
    arrival = datetime(2026, 6, 1, tzinfo=UTC)
    table, bad = _decoder().decode(data, "in.ndjson", 1000, arrival)
    assert table.column("id").to_pylist() == [1, 5]
    assert [b.raw for b in bad] == [lines[1], lines[3], lines[4], lines[6]]
    offsets = [1000 + sum(len(line) + 1 for line in lines[:i]) for i in (1, 3, 4, 6)]
    assert [b.position for b in bad] == [f"in.ndjson@{o}" for o in offsets]
    assert all(b.error_code == "implausible-event-time" for b in bad)
    assert "ahead of its arrival time" in bad[0].message and "max_future" in bad[0].message
    assert "infinity" in bad[1].message and "outside the range" in bad[1].message


def test_implausible_times_among_malformed_lines_keep_their_own_lines() -> None:
    lines = [
        b'{"id":1,"ts":"2026-01-01 00:00:00"}',
        b"{not json",
        b'{"id":2,"ts":"2099-01-01 00:00:00"}',
        b'{"id":3,"ts":"2026-01-01 00:00:02"}',
    ]
    table, bad = _decoder().decode(b"\n".join(lines), "f", 0, datetime(2026, 6, 1, tzinfo=UTC))
    assert table.column("id").to_pylist() == [1, 3]
    assert [(b.raw, b.error_code) for b in bad] == [
        (lines[1], "format-conversion-failed"),
        (lines[2], "implausible-event-time"),
    ]
    assert isinstance(table, pa.Table)
