"""SESSION windows kept incrementally in DuckDB tables: the rows of open sessions, and per key
the bounds of each open session, merged set-wise with every micro-batch (a row may extend a
session or bridge two). A session is emitted and its rows dropped when the watermark passes
its end, so the work per row is done once and state holds only open sessions.
"""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pyarrow as pa

from flowsql.engine.isolation import Rejected, run_isolated
from flowsql.engine.operators import OperatorBase, OperatorState, admit_timed_rows, registered
from flowsql.engine.planner import OperatorPlan
from flowsql.engine.windows import FOREVER_US, WindowSpec

_names = itertools.count()
# DuckDB frees a deleted row's room only with the rest of its row group: a table is copied
# afresh once this many rows more than twice its live ones were written to it.
COMPACT_SLACK = 100_000
WINDOW_BOUNDS = ("window_start", "window_end")


class SessionOperator(OperatorBase):
    """Open sessions per key: rows in one table (with their key values and time), bounds in
    another (`__ws` the first row's time, `__last` the last's; the session ends at __last + gap)."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0) -> None:
        assert plan.window is not None and plan.window.kind == "session"
        super().__init__()
        self.plan = plan
        self.spec: WindowSpec = plan.window
        self.time_column = plan.window.time_column
        self.con = con
        self.lateness_us = lateness_us
        number = next(_names)
        self.relation = f"__flowsql_session_in_{number}"
        self.rows_table = f"__flowsql_session_rows_{number}"
        self.sessions_table = f"__flowsql_session_bounds_{number}"
        self.keys = [f"__k{i}" for i in range(len(self.spec.keys))]
        self.buffered_rows = 0
        self.written = {self.rows_table: 0, self.sessions_table: 0}  # rows stored since each was copied
        self.closed_until: int | None = None  # every session ending at or before this is emitted
        self.next_close: int | None = None  # no session can close before this
        self.columns: list[str] | None = None  # the input's columns, known from the first rows

    @property
    def closed_until_us(self) -> int | None:
        return self.closed_until

    def _do(self, sql: str) -> list[tuple[object, ...]]:
        """Run a statement to its end (the connection takes no other work while a result is open)."""
        return self.con.execute(sql).fetchall()

    # -- arrival -----------------------------------------------------------------------------
    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        """Add the rows to their keys' open sessions; rows with no time, behind the emitted
        sessions, or that the row filter or the key expressions fail on are rejected."""
        table, times, rejected = admit_timed_rows(self.plan, table, self._select, self.closed_until, "sessions")
        if table.num_rows:
            rejected += self._add(table)
            first = int(np.min(times)) + self.spec.gap_us
            self.next_close = first if self.next_close is None else min(self.next_close, first)
        return None, rejected

    def _select(self, template: str, rows: pa.Table) -> pa.Table:
        with registered(self.con, self.relation, rows):
            return self.con.sql(self.plan.sql_of(template, self.relation)).to_arrow_table()

    def _keyed_sql(self) -> str:
        """The input rows with their key values and time (µs) beside them."""
        keys = "".join(f", {expression} AS {name}" for expression, name in zip(self.spec.keys, self.keys, strict=True))
        return f'SELECT *{keys}, epoch_us(CAST("{self.time_column}" AS TIMESTAMP)) AS __t FROM {self.relation}'

    def _add(self, table: pa.Table) -> list[Rejected]:
        """Store the rows and merge their sessions; rows a key expression fails on are rejected."""
        if self.columns is None:
            self._create_tables(table)
        try:
            with registered(self.con, self.relation, table):
                self._insert_keyed(f"SELECT * FROM ({self._keyed_sql()})")
            return []
        except duckdb.Error:
            # The statement failed as a whole (nothing stored): find the rows to blame.
            keyed = run_isolated(self.plan, table, self._keyed)
            if keyed.good.num_rows:
                with registered(self.con, self.relation, keyed.result):
                    self._insert_keyed(f"SELECT * FROM {self.relation}")
            return keyed.rejected

    def _keyed(self, rows: pa.Table) -> pa.Table:
        with registered(self.con, self.relation, rows):
            return self.con.sql(self._keyed_sql()).to_arrow_table()

    def _create_tables(self, table: pa.Table) -> None:
        self.columns = table.column_names
        with registered(self.con, self.relation, table):
            self._do(f"CREATE TABLE {self.rows_table} AS {self._keyed_sql()} LIMIT 0")
        keys = "".join(f"{name}, " for name in self.keys)
        self._do(
            f"CREATE TABLE {self.sessions_table} AS SELECT {keys}__t AS __ws, __t AS __last "
            f"FROM {self.rows_table} LIMIT 0"
        )

    def _insert_keyed(self, keyed_sql: str) -> None:
        """Append keyed rows and merge the sessions of the keys they touch, in one transaction."""
        self._do("BEGIN TRANSACTION")
        try:
            self._do(f"CREATE OR REPLACE TEMP TABLE {self.relation}_new AS {keyed_sql}")
            added = _count(self._do(f"INSERT INTO {self.rows_table} SELECT * FROM {self.relation}_new"))
            self._do(f"CREATE OR REPLACE TEMP TABLE {self.relation}_merged AS {self._merge_sql()}")
            self._do(
                f"DELETE FROM {self.sessions_table} AS s USING "
                f"(SELECT DISTINCT {self._key_list('')} FROM {self.relation}_new) AS n WHERE {self._same_key('s', 'n')}"
            )
            merged = _count(self._do(f"INSERT INTO {self.sessions_table} SELECT * FROM {self.relation}_merged"))
            self._do(f"DROP TABLE {self.relation}_new")
            self._do(f"DROP TABLE {self.relation}_merged")
            self._do("COMMIT")
        except BaseException:
            self._do("ROLLBACK")
            raise
        self.buffered_rows += added
        self.written[self.rows_table] += added
        self.written[self.sessions_table] += merged

    def _merge_sql(self) -> str:
        """Gaps and islands over the new rows (as points) and the open sessions of their keys
        (as intervals): an interval starting less than `gap` after the latest end before it
        continues that session."""
        new = f"{self.relation}_new"
        keys = self._key_list("")
        select_keys = "".join(f"{name}, " for name in self.keys)
        touched = (
            (
                f"SELECT s.* FROM {self.sessions_table} AS s SEMI JOIN (SELECT DISTINCT {keys} FROM {new}) AS n "
                f"ON {self._same_key('s', 'n')}"
            )
            if self.keys
            else f"SELECT * FROM {self.sessions_table}"
        )
        intervals = f"SELECT {select_keys}__t AS __ws, __t AS __last FROM {new} UNION ALL {touched}"
        partition = f"PARTITION BY {keys} " if self.keys else ""
        marked = (
            f"SELECT *, CASE WHEN __ws - max(__last) OVER ({partition}ORDER BY __ws, __last ROWS BETWEEN "
            f"UNBOUNDED PRECEDING AND 1 PRECEDING) < {self.spec.gap_us} THEN 0 ELSE 1 END AS __new "
            f"FROM ({intervals})"
        )
        numbered = (
            f"SELECT *, sum(__new) OVER ({partition}ORDER BY __ws, __new DESC ROWS UNBOUNDED PRECEDING) "
            f"AS __sid FROM ({marked})"
        )
        return (
            f"SELECT {select_keys}min(__ws) AS __ws, max(__last) AS __last FROM ({numbered}) "
            f"GROUP BY {select_keys}__sid"
        )

    def _key_list(self, alias: str) -> str:
        prefix = f"{alias}." if alias else ""
        return ", ".join(f"{prefix}{name}" for name in self.keys) or "1"

    def _same_key(self, left: str, right: str) -> str:
        # NULL is a key like any other, as in GROUP BY.
        return " AND ".join(f"{left}.{k} IS NOT DISTINCT FROM {right}.{k}" for k in self.keys) or "true"

    # -- emission ----------------------------------------------------------------------------
    def advance(self, watermark_us: int) -> pa.Table | None:
        """Emit the sessions that end at or before watermark - allowed lateness."""
        until = watermark_us - self.lateness_us if watermark_us < FOREVER_US else FOREVER_US
        if self.closed_until is not None and until <= self.closed_until:
            return None
        result = None
        if self.next_close is not None and until >= self.next_close and self.buffered_rows:
            result = self._emit(until)
        self.closed_until = until
        return result

    def _emit(self, until: int) -> pa.Table | None:
        """The closing sessions' result; their rows and bounds leave the state. Rows the query
        fails on go to the error output."""
        closing = f"{self.relation}_closing"
        gap = self.spec.gap_us
        self._do(
            f"CREATE OR REPLACE TEMP TABLE {closing} AS SELECT * FROM {self.sessions_table} "
            f"WHERE __last + {gap} <= {until}"
        )
        # A row of a closing session lies at least `gap` before `until`: the filter lets the scan
        # skip row groups of recent rows.
        member = f"{self._same_key('r', 'c')} AND r.__t BETWEEN c.__ws AND c.__last AND r.__t <= {until - gap}"
        hidden = ", ".join([*self.keys, "__t"])
        rows = self.con.sql(
            f"SELECT r.* EXCLUDE ({hidden}), make_timestamp(c.__ws) AS window_start, "
            f"make_timestamp(c.__last + {gap}) AS window_end "
            f"FROM {self.rows_table} AS r JOIN {closing} AS c ON {member}"
        ).to_arrow_table()
        result = None
        if rows.num_rows:
            emitted = run_isolated(self.plan, rows, self._run_query)
            result = emitted.result
            self.pending_rejects += [
                (code, reason, bad.drop_columns(list(WINDOW_BOUNDS))) for code, reason, bad in emitted.rejected
            ]
        deleted = self._do(f"DELETE FROM {self.rows_table} AS r USING {closing} AS c WHERE {member}")
        self._do(f"DELETE FROM {self.sessions_table} WHERE __last + {gap} <= {until}")
        self._do(f"DROP TABLE {closing}")
        self.buffered_rows -= _count(deleted)
        self._compact(self.rows_table, self.buffered_rows)
        self._compact(self.sessions_table, None)
        self._refresh_next_close()
        return result

    def _compact(self, table: str, live: int | None) -> None:
        """Copy `table` afresh when deleted rows outnumber live ones by far, so that state holds
        what is open and not what was emitted."""
        if self.written[table] <= COMPACT_SLACK:
            return
        live = live if live is not None else _count(self._do(f"SELECT count(*) FROM {table}"))
        if self.written[table] > 2 * live + COMPACT_SLACK:
            self._do(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {table}")
            self.written[table] = live

    def _run_query(self, rows: pa.Table) -> pa.Table:
        with registered(self.con, self.relation, rows):
            return self.con.sql(self.plan.sql(self.relation)).to_arrow_table()

    def _refresh_next_close(self) -> None:
        found = self._do(f"SELECT min(__last) + {self.spec.gap_us} FROM {self.sessions_table}")[0][0]
        self.next_close = int(found) if isinstance(found, int) else None

    # -- checkpoints -------------------------------------------------------------------------
    def snapshot(self) -> tuple[OperatorState, pa.Table | None]:
        """The open sessions' rows as they came in; their bounds are derived from them again."""
        rows = None
        if self.columns is not None and self.buffered_rows:
            hidden = ", ".join([*self.keys, "__t"])
            rows = self.con.sql(f"SELECT * EXCLUDE ({hidden}) FROM {self.rows_table}").to_arrow_table()
        return {"closed_until": self.closed_until, "next_close": self.next_close}, rows

    def restore(self, data: OperatorState, rows: pa.Table | None) -> None:
        self.closed_until = data.get("closed_until")
        if rows is not None and rows.num_rows:
            if self.columns is None:
                self._create_tables(rows)
            with registered(self.con, self.relation, rows):
                self._insert_keyed(f"SELECT * FROM ({self._keyed_sql()})")
        self.next_close = data.get("next_close")
        if self.buffered_rows:
            self._refresh_next_close()


def _count(result: list[tuple[object, ...]]) -> int:
    """The row count an INSERT or DELETE answers with."""
    value = result[0][0] if result else 0
    return value if isinstance(value, int) else 0
