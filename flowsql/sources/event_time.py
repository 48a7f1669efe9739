"""Event time per partition (a Kinesis shard, a file): how far a source's time has come.

A partition's records arrive in roughly event-time order; between partitions the disorder is
unbounded (a backfill, a lagging shard, a child read after its parent). So a source's progress is
the least, over its active partitions, of the latest time each has shown, as Flink's per-split
watermarks: one fast partition cannot make a slow one's rows late. A partition that answers
empty for `idle_timeout` stops holding the others back until it has records again; one that runs
more than `max_drift` ahead of the source is paused by its reader (alignment), so a backfill of
partitions of unequal size keeps window state bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Times = dict[str, int]
"""Time column (lower case) -> microseconds since the epoch."""


@dataclass
class _Partition:
    latest: Times = field(default_factory=dict)
    quiet_since: float = 0.0  # the last record, or when we began asking again after a pause
    idle: bool = False
    paused: bool = False


class PartitionClocks:
    """The per-partition times of one source. Thread-safe: readers observe, the source reports."""

    def __init__(
        self,
        columns: Iterable[str],
        idle_timeout: float | None,
        max_drift: float | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.columns = tuple(c.lower() for c in columns)
        self.idle_timeout = idle_timeout
        self.max_drift_us = int(max_drift * 1_000_000) if max_drift else None
        self._clock = clock
        self._lock = threading.Lock()
        self._partitions: dict[str, _Partition] = {}
        self._progress: Times = {}
        self._seen: Times = {}  # the latest time of any record, for when every partition is idle

    # -- what the readers tell ---------------------------------------------------------------
    def add(self, partition: str, start: Times | None = None) -> None:
        """A partition that holds the source back from now on. `start` is where its time
        begins when known (a child shard starts where its parents ended)."""
        with self._lock:
            if partition not in self._partitions:
                self._partitions[partition] = _Partition(dict(start or {}), self._clock())

    def observe(self, partition: str, latest: Times) -> None:
        """Records of `partition` were read; `latest` is the greatest time of each column among them."""
        with self._lock:
            state = self._partitions.setdefault(partition, _Partition())
            for column, value in latest.items():
                if column in self.columns and value > state.latest.get(column, value - 1):
                    state.latest[column] = value
                if column in self.columns and value > self._seen.get(column, value - 1):
                    self._seen[column] = value
            state.quiet_since = self._clock()
            state.idle = False

    def answered_empty(self, partition: str) -> None:
        """The partition was asked for records and had none: it may be idle. Idleness is
        measured from its last record, and only while it is being asked (a paused or throttled
        partition is not idle)."""
        if self.idle_timeout is None:
            return
        with self._lock:
            state = self._partitions.get(partition)
            if state is not None and not state.paused and not state.idle:
                state.idle = self._clock() - state.quiet_since >= self.idle_timeout

    def finish(self, partition: str) -> Times:
        """The partition was read to its end: it no longer holds the source back. Returns its
        latest times (its children start there)."""
        with self._lock:
            state = self._partitions.pop(partition, None)
            return dict(state.latest) if state else {}

    def set_paused(self, partition: str, paused: bool) -> None:
        with self._lock:
            state = self._partitions.get(partition)
            if state is not None and state.paused != paused:
                state.paused = paused
                state.quiet_since = self._clock()

    # -- what the source reports -------------------------------------------------------------
    def progress(self) -> dict[str, int | None]:
        """Per column, the least latest time over the active partitions; it never goes back.
        A partition that has shown no time yet holds the column where it is (None before any).
        When every partition is idle, nothing holds the source back: progress is the latest
        time seen."""
        with self._lock:
            active = [p for p in self._partitions.values() if not p.idle]
            for column in self.columns:
                if active:
                    values = [p.latest.get(column) for p in active]
                    if any(v is None for v in values):
                        continue
                    value = min(v for v in values if v is not None)
                else:
                    seen = self._seen.get(column)
                    if seen is None:
                        continue
                    value = seen
                if value > self._progress.get(column, value - 1):
                    self._progress[column] = value
            return {column: self._progress.get(column) for column in self.columns}

    def ahead(self, partition: str) -> bool:
        """True when the partition's time runs more than max_drift ahead of the source's
        progress: its reader should pause until the slowest partitions catch up. An idle
        partition holds nothing back, and one that is the slowest in some column is what the
        others wait for (with two time columns, pausing it would leave every reader waiting)."""
        if self.max_drift_us is None:
            return False
        progress = self.progress()
        with self._lock:
            state = self._partitions.get(partition)
            if state is None or state.idle:
                return False
            active = [p for p in self._partitions.values() if not p.idle]
            for column in self.columns:
                value = state.latest.get(column)
                if value is not None and all(value <= p.latest.get(column, value) for p in active):
                    return False
            for column in self.columns:
                value, floor = state.latest.get(column), progress.get(column)
                if value is not None and floor is not None and value - floor > self.max_drift_us:
                    return True
            return False

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Per partition: its latest times and whether it is idle or paused (status, metrics)."""
        with self._lock:
            return {
                name: {"latest": dict(p.latest), "idle": p.idle, "paused": p.paused}
                for name, p in sorted(self._partitions.items())
            }


_YEAR_1_US = -62_135_596_800_000_000  # 0001-01-01T00:00:00
_YEAR_9999_US = 253_370_764_800_000_000  # 9999-01-01T00:00:00: a window of up to a year still ends in range


@dataclass(frozen=True)
class TimeBounds:
    """Which event times can be true. One record stamped in 2099 would move the watermark and
    make every later good record late; `infinity` or year 10000 cannot be windowed or written.
    Such a record is an error record, not a clock tick."""

    column: str
    max_future_us: int  # how far an event time may run ahead of its arrival time

    def implausible(self, table: pa.Table) -> tuple[np.ndarray, list[str]]:
        """A mask of the rows whose event time cannot be true, and the reason for each of them."""
        from flowsql.records import ARRIVAL_TIME

        name = next((c for c in table.column_names if c.lower() == self.column), None)
        if name is None or table.num_rows == 0:
            return np.zeros(table.num_rows, dtype=bool), []
        times = _micros(table.column(name))
        arrivals = _micros(table.column(ARRIVAL_TIME)) if ARRIVAL_TIME in table.column_names else None
        valid = times != _NULL
        out_of_range = valid & ((times < _YEAR_1_US) | (times >= _YEAR_9999_US))
        ahead = np.zeros(table.num_rows, dtype=bool)
        if arrivals is not None:
            known = valid & ~out_of_range & (arrivals != _NULL)
            ahead[known] = times[known] - arrivals[known] > self.max_future_us
        mask = out_of_range | ahead
        reasons = []
        for index in np.flatnonzero(mask):
            if out_of_range[index]:
                reasons.append(
                    f"event time {name} = {_shown(int(times[index]))} is outside the range a window "
                    f"can hold (0001-01-01 to 9999-01-01)"
                )
            else:
                reasons.append(
                    f"event time {name} = {_shown(int(times[index]))} is more than "
                    f"{_duration(self.max_future_us)} ahead of its arrival time "
                    f"{_shown(int(arrivals[index]))} (max_future)"  # type: ignore[index]
                )
        return mask, reasons


_NULL = np.iinfo(np.int64).min


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    if not pa.types.is_timestamp(column.type) or column.type.unit != "us" or column.type.tz is not None:
        column = pc.cast(column, pa.timestamp("us"))
    return column.cast(pa.int64()).fill_null(_NULL).to_numpy(zero_copy_only=False)


def _shown(us: int) -> str:
    if us >= np.iinfo(np.int64).max - 1:
        return "infinity"
    if us <= -np.iinfo(np.int64).max:
        return "-infinity"
    try:
        return (datetime(1970, 1, 1) + timedelta(microseconds=us)).isoformat(sep=" ")
    except OverflowError:
        return f"{us} microseconds since 1970"


def _duration(us: int) -> str:
    seconds = us / 1_000_000
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} s"
