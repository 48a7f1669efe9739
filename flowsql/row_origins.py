"""Where each decoded row came from: its original bytes and position, for the error output.

A row the engine turns away (late, or a record a query fails on) should reach the error output
as it was read, so it can be replayed: the record's own bytes and its file@offset or
shard/sequence number. The spans are worked out only when a row is turned away.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import duckdb
import numpy as np
import pyarrow as pa

Original = tuple[bytes, str]
"""A record's bytes as read, and its position."""


class RowOrigins(Protocol):
    def records(self, rows: Sequence[int]) -> list[Original]:
        """The original record of each of `rows` (indices into the decoded batch)."""


Spans = list[tuple[int, int]]


class ChunkSpans:
    """Rows decoded from one chunk of bytes: row i is data[start:end] of span i."""

    def __init__(self, data: bytes, origin: str, base_offset: int, spans: Spans | Callable[[], Spans]) -> None:
        self.data = data
        self.origin = origin
        self.base_offset = base_offset
        self._spans = spans

    def spans(self) -> Spans:
        if callable(self._spans):
            self._spans = self._spans()
        return self._spans

    def records(self, rows: Sequence[int]) -> list[Original]:
        spans = self.spans()
        return [
            (self.data[spans[row][0] : spans[row][1]], f"{self.origin}@{self.base_offset + spans[row][0]}")
            for row in rows
        ]


class ListedRecords:
    """Rows that each came from a record held whole (a Kinesis user record)."""

    def __init__(self, originals: Callable[[], list[Original]]) -> None:
        self._make = originals
        self._originals: list[Original] | None = None

    def records(self, rows: Sequence[int]) -> list[Original]:
        if self._originals is None:
            self._originals = self._make()
        return [self._originals[row] for row in rows]


class JoinedOrigins:
    """The origins of batches joined into one micro-batch, each part after the one before."""

    def __init__(self, parts: list[tuple[int, RowOrigins | None]]) -> None:
        self.parts = parts  # (row count, origins) of each batch in order

    def records(self, rows: Sequence[int]) -> list[Original]:
        starts = np.cumsum([0] + [count for count, _ in self.parts])
        out: list[Original] = []
        for row in rows:
            part = int(np.searchsorted(starts, row, side="right")) - 1
            origins = self.parts[part][1]
            if origins is None:
                raise LookupError("a joined batch has rows of unknown origin")
            out.extend(origins.records([row - int(starts[part])]))
        return out


def line_spans(data: bytes, lines: list[int] | None) -> Spans:
    """Spans of the given lines of `data` (None: every line that is not blank)."""
    spans, start = [], 0
    for line in data.split(b"\n"):
        spans.append((start, start + len(line)))
        start += len(line) + 1
    if lines is None:
        return [(s, e) for s, e in spans if data[s:e].strip()]
    return [spans[index] for index in lines]


def find_rows(batch: pa.Table, rows: pa.Table) -> list[int] | None:
    """The index in `batch` of each of `rows`, which were taken from it with every column (equal
    rows are matched one to one, in order); None when they cannot all be found there."""
    if rows.num_rows == 0 or batch.num_rows == 0 or not rows.schema.equals(batch.schema):
        return None
    names = [f'"{name.replace(chr(34), chr(34) * 2)}"' for name in batch.column_names]
    match = " AND ".join(f"r.{n} IS NOT DISTINCT FROM b.{n}" for n in names)
    columns = ", ".join(names)
    con = duckdb.connect()
    try:
        con.register("b_in", batch.append_column("__row", pa.array(np.arange(batch.num_rows, dtype=np.int64))))
        con.register("r_in", rows.append_column("__row", pa.array(np.arange(rows.num_rows, dtype=np.int64))))
        found = con.execute(f"""
            WITH b AS (SELECT *, row_number() OVER (PARTITION BY {columns} ORDER BY __row) AS __k FROM b_in),
                 r AS (SELECT *, row_number() OVER (PARTITION BY {columns} ORDER BY __row) AS __k FROM r_in)
            SELECT r.__row, b.__row FROM r JOIN b ON {match} AND r.__k = b.__k ORDER BY r.__row""").fetchall()
    except duckdb.Error:
        return None  # a column type DuckDB cannot compare: the rows go out as JSON instead
    finally:
        con.close()
    if len(found) != rows.num_rows:
        return None
    return [int(b) for _, b in found]
