"""Firehose buffering: rows wait until `buffer_size` bytes or `buffer_interval` seconds,
whichever comes first; an interval of 0 delivers every micro-batch.

`BufferOptions` is how every sink (and the Flink compiler) reads the two options; a sink whose
documented default differs from the object sinks' says so in its `DEFAULT_BUFFERING`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from flowsql.checkpoint.participants import CheckpointedSink
from flowsql.errors import UsageError
from flowsql.options import duration, size
from flowsql.records import BadRecord, bad_record_from_json

# Error records are few; a sink whose input is mostly bad still delivers them in bounded batches.
_MAX_PENDING_ERRORS = 10_000


@dataclass(frozen=True)
class Buffering:
    """When a sink flushes: at `size` bytes of buffered rows or when the oldest is `interval` s old."""

    size: int
    interval: float

    def describe(self) -> str:
        return f"buffer {self.size:,} bytes or {self.interval:g} s"


# The object sinks' default (docs/delivery.md): 64 MB objects suit Athena better than Firehose's
# 5 MiB default; the other sinks' defaults sit beside their options, each with its reason.
OBJECT_BUFFERING = Buffering(64 * 1000**2, 60.0)


@dataclass(frozen=True)
class BufferOptions:
    """`buffer_size` and `buffer_interval` as written in a sink's WITH (...); unset ones take the
    sink's DEFAULT_BUFFERING. Read them through `buffering`."""

    DEFAULT_BUFFERING: ClassVar[Buffering] = OBJECT_BUFFERING

    buffer_size: int | None = size(None)
    buffer_interval: float | None = duration(None)

    @property
    def buffering(self) -> Buffering:
        default = self.DEFAULT_BUFFERING
        return Buffering(
            default.size if self.buffer_size is None else self.buffer_size,
            default.interval if self.buffer_interval is None else self.buffer_interval,
        )


class DeliveryBuffer:
    def __init__(self, size_limit: int, interval: float) -> None:
        self.size_limit = size_limit
        self.interval = interval
        self.tables: list[pa.Table] = []
        self.bytes = 0
        self.rows = 0
        self.opened_at: float | None = None  # monotonic time of the first row

    def add(self, table: pa.Table, now: float) -> None:
        if table.num_rows == 0:
            return
        if self.opened_at is None:
            self.opened_at = now
        self.tables.append(table)
        self.bytes += table.nbytes
        self.rows += table.num_rows

    def due(self, now: float) -> bool:
        if self.opened_at is None:
            return False
        return self.bytes >= self.size_limit or now - self.opened_at >= self.interval

    def seconds_to_due(self, now: float) -> float | None:
        if self.opened_at is None:
            return None
        return max(0.0, self.opened_at + self.interval - now)

    def take(self) -> pa.Table | None:
        if not self.tables:
            return None
        table = pa.concat_tables(self.tables, promote_options="permissive")
        self.tables, self.bytes, self.rows, self.opened_at = [], 0, 0, None
        return table


class BufferedDelivery(CheckpointedSink):
    """What every sink does the same way: take rows and error records, and say when a flush is
    due. Subclasses set `self.buffer` and `self.errors` and say how a flush delivers."""

    name: str
    buffer: DeliveryBuffer
    errors: list[BadRecord]
    # Positions in the sink's output: rows and error records taken by flushes so far. A flush's
    # objects (and HTTP request ids) are named from them, so a replay of the same data repeats
    # the same names.
    rows_taken: int
    errors_taken: int
    stats: Any

    def has_transform(self) -> bool:
        return False  # a sink with a transformation handler says so (transforming.py)

    def add(self, table: pa.Table, now: float | None = None) -> None:
        self.buffer.add(table, time.monotonic() if now is None else now)

    def add_errors(self, records: list[BadRecord]) -> None:
        self.errors.extend(records)

    def due(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return self.buffer.due(now) or len(self.errors) >= _MAX_PENDING_ERRORS

    def snapshot(self) -> tuple[dict[str, Any], pa.Table | None]:
        """For checkpoints: counters and pending error records as data, unflushed rows as a table."""
        rows = pa.concat_tables(self.buffer.tables) if self.buffer.tables else None
        errors = [r.to_json() for r in self.errors]
        return {
            "rows_taken": self.rows_taken,
            "errors_taken": self.errors_taken,
            "errors": errors,
            "stats": vars(self.stats).copy(),
        }, rows

    def restore(self, data: dict[str, Any], rows: pa.Table | None) -> None:
        if "rows_taken" not in data:
            # Names were counted in flushes before: continuing from that count could reuse the
            # name of a delivered object for other rows.
            raise UsageError(
                f"sink '{self.name}': the checkpoint was written by an earlier flowsql that named "
                "objects differently; run with --reset to start over"
            )
        self.rows_taken = int(data["rows_taken"])
        self.errors_taken = int(data["errors_taken"])
        self.errors = [bad_record_from_json(e) for e in data["errors"]]
        if rows is not None and rows.num_rows:
            self.buffer.add(rows, time.monotonic())
