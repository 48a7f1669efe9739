"""Firehose buffering: rows wait until `buffer_size` bytes or `buffer_interval` seconds,
whichever comes first; an interval of 0 delivers every micro-batch."""

from __future__ import annotations

import pyarrow as pa


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
