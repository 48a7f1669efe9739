"""Operators run one query each on the pipeline's DuckDB connection.

A stateless query (projection, filter, any per-row expression) runs on each micro-batch. A
window query keeps the rows of its open windows; when the watermark passes a window's end,
the user's query runs once over the rows of the windows that just closed, and rows no open
window needs any more are dropped, so state is bounded by the open windows. Rows a query fails
on are set apart (see isolation.py) and rejected; the query runs on the rest.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flowsql.engine.isolation import Rejected, run_isolated, run_whole
from flowsql.engine.planner import OperatorPlan
from flowsql.engine.windows import FOREVER_US, WindowSpec, assignment_sql

_names = itertools.count()
_NULL_TIME = np.iinfo(np.int64).min


OperatorState = dict[str, Any]  # JSON-able; the rows an operator keeps travel beside it as a table


class Operator(Protocol):
    """What the engine asks of every operator, built in or a front end's: rows in, results out
    as the clocks move, and its state for checkpoints. `time_column` is the clock `advance`
    waits on (None: the operator never waits for one)."""

    @property
    def time_column(self) -> str | None: ...
    @property
    def buffered_rows(self) -> int: ...
    @property
    def closed_until_us(self) -> int | None: ...

    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        """Take a micro-batch: (rows to emit now, rows the query failed on)."""
        ...

    def push_input(self, position: int, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        """Take a micro-batch of one input of an operator of several (OperatorPlan.inputs)."""
        ...

    def advance(self, watermark_us: int) -> pa.Table | None:
        """The clock moved: what closed."""
        ...

    def advance_inputs(self, clocks: list[int | None]) -> pa.Table | None:
        """The clocks of each input (an operator of several inputs) moved: what closed."""
        ...

    def take_rejected(self) -> list[Rejected]:
        """Rows the query failed on while the operator emitted, since the last call."""
        ...

    def snapshot(self) -> tuple[OperatorState, pa.Table | None]:
        """The operator's state for a checkpoint: data and the rows it keeps."""
        ...

    def restore(self, data: OperatorState, rows: pa.Table | None) -> None:
        """Take back what `snapshot` gave, in a new operator of the same plan."""
        ...


class OperatorFactory(Protocol):
    """Builds a front end's own operator for a planned query (a KDA sliding window, a join)."""

    def make_operator(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0) -> Operator: ...


class OperatorBase(ABC):
    """What operators share: a single input, no clock, and rows the query failed on while it
    emitted (the engine's advance returns only results), held until the engine takes them for
    the error output. Each operator says how its state is saved and restored."""

    time_column: str | None = None

    def __init__(self) -> None:
        self.pending_rejects: list[Rejected] = []

    @property
    def closed_until_us(self) -> int | None:
        return None

    def take_rejected(self) -> list[Rejected]:
        taken, self.pending_rejects = self.pending_rejects, []
        return taken

    @abstractmethod
    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]: ...

    def push_input(self, position: int, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        return self.push(table)

    def advance(self, watermark_us: int) -> pa.Table | None:
        return None

    def advance_inputs(self, clocks: list[int | None]) -> pa.Table | None:
        known = [c for c in clocks if c is not None]
        return self.advance(min(known)) if known and len(known) == len(clocks) else None

    @abstractmethod
    def snapshot(self) -> tuple[OperatorState, pa.Table | None]: ...

    @abstractmethod
    def restore(self, data: OperatorState, rows: pa.Table | None) -> None: ...


def build_operator(plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0) -> Operator:
    """The operator of a planned query: its front end's own, or a window or stateless one."""
    if plan.factory is not None:
        return plan.factory.make_operator(plan, con, lateness_us)
    if plan.window is None:
        return StatelessOperator(plan, con)
    if plan.window.kind == "session":
        from flowsql.engine.session_partials import SessionPartialsOperator  # they build on this module's base
        from flowsql.engine.sessions import SessionOperator

        if plan.preaggregate is not None:
            return SessionPartialsOperator(plan, con, lateness_us)
        return SessionOperator(plan, con, lateness_us)
    return WindowOperator(plan, con, lateness_us)


def admit_timed_rows(
    plan: OperatorPlan,
    table: pa.Table,
    select: Callable[[str, pa.Table], pa.Table],
    closed_until: int | None,
    emitted: str,
) -> tuple[pa.Table, np.ndarray, list[Rejected]]:
    """What a window operator takes in of `table`, with those rows' times: rows through the
    query's row filter (run by `select`), with a time, and not behind what it already emitted
    (`emitted` names it in the reason: windows, sessions). The others are rejected with reasons."""
    assert plan.window is not None
    spec, prefilter = plan.window, plan.prefilter
    rejected: list[Rejected] = []
    if prefilter is not None and table.num_rows:
        filtered = run_isolated(plan, table, lambda rows: select(prefilter, rows))
        table, rejected = filtered.result, filtered.rejected
    if table.num_rows == 0:
        return table, np.empty(0, dtype=np.int64), rejected
    times = times_us(table, spec.time_column)
    missing = times == _NULL_TIME
    if missing.any():
        rejected.append(("missing-event-time", f"{spec.time_column} is null", table.filter(pa.array(missing))))
        table, times = table.filter(pa.array(~missing)), times[~missing]
    if closed_until is not None:
        late = spec.late(times, closed_until)
        if late.any():
            note = (
                f"{spec.time_column} is behind the watermark: its {emitted} up to "
                f"{_iso(closed_until)} were already emitted"
            )
            rejected.append(("late", note, table.filter(pa.array(late))))
            table, times = table.filter(pa.array(~late)), times[~late]
    return table, times, rejected


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


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


class StatelessOperator(OperatorBase):
    """Runs its query on every micro-batch as it comes."""

    buffered_rows = 0

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection) -> None:
        super().__init__()
        self.plan = plan
        self.con = con
        self.relation = f"__flowsql_in_{next(_names)}"
        self.sql = plan.sql(self.relation)

    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        """Returns (result rows, rows the query failed on)."""
        if table.num_rows == 0:
            return None, []
        isolated = run_isolated(self.plan, table, self._run)
        return isolated.result, isolated.rejected

    def _run(self, table: pa.Table) -> pa.Table:
        with registered(self.con, self.relation, table):
            return self.con.sql(self.sql).to_arrow_table()

    def snapshot(self) -> tuple[OperatorState, pa.Table | None]:
        return {}, None

    def restore(self, data: OperatorState, rows: pa.Table | None) -> None:
        return None


class WindowOperator(OperatorBase):
    """Buffers rows of open TUMBLE and HOP windows and emits each window once, when the
    watermark passes it (SESSION windows: sessions.py)."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0) -> None:
        assert plan.window is not None
        super().__init__()
        self.plan = plan
        self.spec: WindowSpec = plan.window
        self.time_column = plan.window.time_column
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
        """Buffer the rows; rows with no time, behind the emitted windows, or that the query's
        row filter or partial aggregates fail on are rejected."""
        table, times, rejected = admit_timed_rows(self.plan, table, self._query, self.closed_until, "windows")
        if table.num_rows and self.pre is not None:
            folded = run_isolated(self.plan, table, self._fold)
            rejected += folded.rejected
            times = times_us(folded.good, self.spec.time_column) if folded.rejected else times
            table = folded.result
        if table.num_rows:
            first = int(self.spec.first_end(times).min())
            self.buffer.append(table)
            self.buffered_rows += table.num_rows
            self.next_close = first if self.next_close is None else min(self.next_close, first)
        return None, rejected

    def _query(self, template: str, rows: pa.Table) -> pa.Table:
        with registered(self.con, self.relation, rows):
            return self.con.sql(self.plan.sql_of(template, self.relation)).to_arrow_table()

    def _fold(self, table: pa.Table) -> pa.Table:
        assert self.pre is not None
        return self._query(self.pre.partial_template, table)

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
        """The closing windows' result. Raw rows it fails on leave the state for the error
        output; partial aggregates are no row's own, so a failure over them ends the run."""
        rows = pa.concat_tables(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
        windows = assignment_sql(self.state_spec, self.relation, self.closed_until, until)
        closing = self.plan.sql_of(self.query, f"({windows})")
        if self.pre is not None:
            result = run_whole(self.plan, lambda: self._query(closing, rows))
        else:
            emitted = run_isolated(self.plan, rows, lambda subset: self._query(closing, subset))
            result, rows = emitted.result, emitted.good
            self.pending_rejects += emitted.rejected
        with registered(self.con, self.relation, rows):
            kept, next_close = self._still_needed(rows, until)
        self.buffer = [kept] if kept.num_rows else []
        self.buffered_rows = kept.num_rows
        self.next_close = next_close
        return result

    def _still_needed(self, rows: pa.Table, until: int) -> tuple[pa.Table, int | None]:
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

    def snapshot(self) -> tuple[OperatorState, pa.Table | None]:
        rows = pa.concat_tables(self.buffer) if self.buffer else None
        return {"closed_until": self.closed_until, "next_close": self.next_close}, rows

    def restore(self, data: OperatorState, rows: pa.Table | None) -> None:
        self.closed_until = data.get("closed_until")
        self.next_close = data.get("next_close")
        self.buffer = [rows] if rows is not None and rows.num_rows else []
        self.buffered_rows = rows.num_rows if rows is not None else 0
