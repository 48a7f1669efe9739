"""Operators run one query each on the pipeline's DuckDB connection.

A stateless query (projection, filter, any per-row expression) runs on each micro-batch. A
window query keeps the rows of its open windows; when the watermark passes a window's end,
the user's query runs once over the rows of the windows that just closed, and rows no open
window needs any more are dropped, so state is bounded by the open windows.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flowsql.engine.planner import OperatorPlan
from flowsql.engine.windows import FOREVER_US, SESSION_COLUMNS, WindowSpec, assignment_sql, session_bounds_sql

_names = itertools.count()
_NULL_TIME = np.iinfo(np.int64).min

Rejected = tuple[str, str, pa.Table]
"""(error code, reason, rows) of rows a query could not take."""


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, relation: str, table: pa.Table) -> Iterator[None]:
    """`table` visible to `con`'s queries as `relation` for the block, and gone after it."""
    con.register(relation, table)
    try:
        yield
    finally:
        con.unregister(relation)


def times_us(table: pa.Table, column: str) -> np.ndarray:
    """The column's times as int64 microseconds (nulls as the smallest int64)."""
    array = table.column(column)
    if not pa.types.is_timestamp(array.type) or array.type.unit != "us" or array.type.tz is not None:
        array = pc.cast(array, pa.timestamp("us"))
    values = array.cast(pa.int64())
    return values.fill_null(_NULL_TIME).to_numpy(zero_copy_only=False)


class StatelessOperator:
    """Runs its query on every micro-batch as it comes."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection) -> None:
        self.plan = plan
        self.con = con
        self.relation = f"__flowsql_in_{next(_names)}"
        self.sql = plan.sql(self.relation)

    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        """Returns (result rows, rejected rows); a stateless query rejects nothing."""
        if table.num_rows == 0:
            return None, []
        with registered(self.con, self.relation, table):
            return self.con.sql(self.sql).to_arrow_table(), []

    def advance(self, watermark_us: int) -> pa.Table | None:
        return None

    @property
    def closed_until_us(self) -> int | None:
        return None

    def state(self) -> pa.Table | None:
        return None


class WindowOperator:
    """Buffers rows of open windows and emits each window once, when the watermark passes it."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0) -> None:
        assert plan.window is not None
        self.plan = plan
        self.spec: WindowSpec = plan.window
        self.con = con
        self.lateness_us = lateness_us
        self.relation = f"__flowsql_in_{next(_names)}"
        self.buffer: list[pa.Table] = []
        self.buffered_rows = 0
        self.closed_until: int | None = None  # every window ending at or before this is emitted
        self.next_close: int | None = None  # no window can close before this
        # With pre-aggregation the state is partials per pane, windowed by pane start.
        self.pre = plan.preaggregate
        self.state_spec = self.pre.state_window(self.spec) if self.pre else self.spec
        self.query = self.pre.final_template if self.pre else plan.template

    @property
    def closed_until_us(self) -> int | None:
        return self.closed_until

    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        """Buffer the rows; rows with no time or behind the emitted windows are rejected."""
        if self.plan.prefilter is not None and table.num_rows:
            with registered(self.con, self.relation, table):
                table = self.con.sql(self.plan.sql_of(self.plan.prefilter, self.relation)).to_arrow_table()
        if table.num_rows == 0:
            return None, []
        times = times_us(table, self.spec.time_column)
        rejected: list[Rejected] = []
        missing = times == _NULL_TIME
        if missing.any():
            rejected.append(("missing-event-time", f"{self.spec.time_column} is null", table.filter(pa.array(missing))))
            table, times = table.filter(pa.array(~missing)), times[~missing]
        if self.closed_until is not None:
            late = self.spec.late(times, self.closed_until)
            if late.any():
                note = (f"{self.spec.time_column} is behind the watermark: its windows up to "
                        f"{_iso(self.closed_until)} were already emitted")
                rejected.append(("late", note, table.filter(pa.array(late))))
                keep = ~late
                table, times = table.filter(pa.array(keep)), times[keep]
        if table.num_rows:
            first = int(self.spec.first_end(times).min())
            if self.pre is not None:
                table = self._fold(table)
            self.buffer.append(table)
            self.buffered_rows += table.num_rows
            self.next_close = first if self.next_close is None else min(self.next_close, first)
        return None, rejected

    def _fold(self, table: pa.Table) -> pa.Table:
        assert self.pre is not None
        with registered(self.con, self.relation, table):
            return self.con.sql(self.plan.sql_of(self.pre.partial_template, self.relation)).to_arrow_table()

    def advance(self, watermark_us: int) -> pa.Table | None:
        """Emit the windows that end at or before watermark - allowed lateness."""
        until = watermark_us - self.lateness_us if watermark_us < FOREVER_US else FOREVER_US
        if self.closed_until is not None and until <= self.closed_until:
            return None
        result = None
        if self.next_close is not None and until >= self.next_close and self.buffer:
            result = self._emit(until)
        self.closed_until = until
        return result

    def _emit(self, until: int) -> pa.Table:
        rows = pa.concat_tables(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
        with registered(self.con, self.relation, rows):
            windows = assignment_sql(self.state_spec, self.relation, self.closed_until, until)
            result = self.con.sql(self.plan.sql_of(self.query, f"({windows})")).to_arrow_table()
            kept, next_close = self._still_needed(rows, until)
        self.buffer = [kept] if kept.num_rows else []
        self.buffered_rows = kept.num_rows
        self.next_close = next_close
        return result

    def _still_needed(self, rows: pa.Table, until: int) -> tuple[pa.Table, int | None]:
        if self.spec.kind == "session":
            open_rows = self.con.sql(
                f"SELECT * EXCLUDE ({SESSION_COLUMNS}), __we FROM ({session_bounds_sql(self.spec, self.relation)}) "
                f"WHERE __we > {until}"
            ).to_arrow_table()
            if open_rows.num_rows == 0:
                return rows.schema.empty_table(), None
            ends = open_rows.column("__we")
            next_close = pc.min(ends).as_py()
            return open_rows.drop_columns(["__we"]).select(rows.schema.names), next_close
        times = times_us(rows, self.state_spec.time_column)
        keep = self.spec.last_end(times) > until
        kept = rows.filter(pa.array(keep))
        if kept.num_rows == 0:
            return kept, None
        # Kept rows may also lie in windows already emitted: the next close is the first
        # window end after `until` (ends are aligned to the slide, offset by the size).
        spec = self.spec
        next_aligned_end = ((until - spec.size_us) // spec.slide_us + 1) * spec.slide_us + spec.size_us
        return kept, max(int(spec.first_end(times[keep]).min()), next_aligned_end)

    def state(self) -> pa.Table | None:
        if not self.buffer:
            return None
        return pa.concat_tables(self.buffer)


Operator = StatelessOperator | WindowOperator
