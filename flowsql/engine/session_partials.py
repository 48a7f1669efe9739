"""SESSION windows whose aggregates decompose: each open session keeps partial aggregates per
key instead of its rows. A micro-batch's rows and the partials of the sessions they touch are
merged in one gaps-and-islands pass, and a closed session's partials give its result directly.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from flowsql.engine.isolation import run_whole
from flowsql.engine.operators import OperatorState, registered
from flowsql.engine.planner import OperatorPlan
from flowsql.engine.preaggregate import PreAggregation, session_partials_sql
from flowsql.engine.sessions import SessionOperator, _count


class SessionPartialsOperator(SessionOperator):
    """One state table: per open session (key values, `__ws`, `__last`) and per the columns the
    query reads outside its aggregates, the partial aggregates of the session's rows."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0) -> None:
        super().__init__(plan, con, lateness_us)
        assert plan.preaggregate is not None
        self.pre: PreAggregation = plan.preaggregate
        self.written = {self.sessions_table: 0}

    def _fold_sql(self, rows: str) -> str:
        return self.plan.sql_of(self.pre.partial_template, f"({rows})")

    def _create_tables(self, table: pa.Table) -> None:
        self.columns = table.column_names
        points = f"SELECT *, __t AS __ws, __t AS __last FROM ({self._keyed_sql()})"
        with registered(self.con, self.relation, table):
            self._do(f"CREATE TABLE {self.sessions_table} AS {self._fold_sql(points)} LIMIT 0")

    def _keyed(self, rows: pa.Table) -> pa.Table:
        """The rows keyed, having also been folded on their own, so that a row the partial
        aggregates fail on is found here."""
        keyed = super()._keyed(rows)
        with registered(self.con, self.relation, keyed):
            # Every partial fetched: a count over them would let DuckDB skip computing them.
            self.con.sql(self._fold_sql(f"SELECT *, __t AS __ws, __t AS __last FROM {self.relation}")).to_arrow_table()
        return keyed

    def _insert_keyed(self, keyed_sql: str) -> None:
        """Merge keyed rows into the partials of their keys' sessions, in one transaction."""
        merged = f"{self.relation}_merged"
        new_keys = f"(SELECT DISTINCT {self._key_list('')} FROM ({keyed_sql}))"
        self._do("BEGIN TRANSACTION")
        try:
            self._do(f"CREATE OR REPLACE TEMP TABLE {merged} AS {self._merge_partials_sql(keyed_sql, new_keys)}")
            deleted = (
                _count(
                    self._do(
                        f"DELETE FROM {self.sessions_table} AS s USING {new_keys} AS n WHERE {self._same_key('s', 'n')}"
                    )
                )
                if self.keys
                else _count(self._do(f"DELETE FROM {self.sessions_table}"))
            )
            inserted = _count(self._do(f"INSERT INTO {self.sessions_table} BY NAME SELECT * FROM {merged}"))
            self._do(f"DROP TABLE {merged}")
            self._do("COMMIT")
        except BaseException:
            self._do("ROLLBACK")
            raise
        self.buffered_rows += inserted - deleted
        self.written[self.sessions_table] += inserted

    def _merge_partials_sql(self, keyed_sql: str, new_keys: str) -> str:
        """Gaps and islands over the new rows (as points) and the partials of their keys' open
        sessions (as intervals); the rows are folded and all partials merged per new session."""
        touched = (
            f"SELECT s.* FROM {self.sessions_table} AS s SEMI JOIN {new_keys} AS n ON {self._same_key('s', 'n')}"
            if self.keys
            else f"SELECT * FROM {self.sessions_table}"
        )
        read = [f'"{name}"' for name in self.pre.reads]
        intervals = (
            f"SELECT {', '.join([*self.keys, *read])}, true AS __raw, __t AS __ws, __t AS __last FROM ({keyed_sql}) "
            f"UNION ALL BY NAME SELECT *, false AS __raw FROM ({touched})"
        )
        ordered = f"PARTITION BY {self._key_list('')} ORDER BY __ws, __last" if self.keys else "ORDER BY __ws, __last"
        # __prev: the latest end before an interval; one that starts `gap` or more after it opens
        # a session, and its __prev is where the session before it ends.
        marked = (
            f"SELECT *, CASE WHEN __ws - __prev < {self.spec.gap_us} THEN 0 ELSE 1 END AS __new FROM ("
            f"SELECT *, max(__last) OVER ({ordered} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS __prev "
            f"FROM ({intervals}))"
        )
        opening = "CASE WHEN __new = 1 THEN"
        # Rows tied on (__ws, __last) may sort either way in each pass: the opener goes first.
        ordered = ordered.replace("ORDER BY __ws, __last", "ORDER BY __ws, __new DESC, __last")
        bounded = (
            f"SELECT * EXCLUDE (__ws, __last, __prev, __new), "
            f"max({opening} __ws END) OVER ({ordered} ROWS UNBOUNDED PRECEDING) AS __ws, "
            f"coalesce(min({opening} __prev END) OVER ({ordered} ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), "
            f"max(__last) OVER ({ordered} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) AS __last "
            f"FROM ({marked})"
        )
        unit = ", ".join([*self.keys, "__ws", "__last", *(f'"{name}"' for name in self.pre.keys)])
        partials = ", ".join(merge.rsplit(" AS ", 1)[1] for merge in self.pre.merges)
        return (
            f"WITH __bounded AS ({bounded}) "
            f"SELECT {unit}, {', '.join(self.pre.merges)} FROM ("
            f"{self._fold_sql('SELECT * FROM __bounded WHERE __raw')} UNION ALL BY NAME "
            f"SELECT {unit}, {partials} FROM __bounded WHERE NOT __raw) GROUP BY ALL"
        )

    def _emit(self, until: int) -> pa.Table | None:
        """The closing sessions' result from their partials, which then leave the state; a
        failure here is no single input row's, so it ends the run."""
        closing = f"__last + {self.spec.gap_us} <= {until}"
        relation = session_partials_sql(f"(SELECT * FROM {self.sessions_table} WHERE {closing})", self.spec.gap_us)
        query = self.plan.sql_of(self.pre.final_template, f"({relation})")
        result = run_whole(self.plan, lambda: self.con.sql(query).to_arrow_table())
        self.buffered_rows -= _count(self._do(f"DELETE FROM {self.sessions_table} WHERE {closing}"))
        self._compact(self.sessions_table, self.buffered_rows)
        self._refresh_next_close()
        return result if result.num_rows else None

    def snapshot(self) -> tuple[OperatorState, pa.Table | None]:
        """The open sessions' partials, with the state table's column types to restore them as."""
        data: OperatorState = {"closed_until": self.closed_until, "next_close": self.next_close}
        if self.columns is None or not self.buffered_rows:
            return data, None
        types = self._do(f"SELECT column_name, column_type FROM (DESCRIBE {self.sessions_table})")
        data["partial_types"] = [[str(name), str(kind)] for name, kind in types]
        return data, self.con.sql(f"SELECT * FROM {self.sessions_table}").to_arrow_table()

    def restore(self, data: OperatorState, rows: pa.Table | None) -> None:
        self.closed_until = data.get("closed_until")
        self.next_close = data.get("next_close")
        types = data.get("partial_types")
        if rows is None or not rows.num_rows:
            return
        if not isinstance(types, list):
            # The pipeline's fingerprint covers the plan, so this is a damaged checkpoint.
            raise ValueError("the checkpoint's session state holds no partial aggregates' types")
        columns = ", ".join(f'"{name}" {kind}' for name, kind in types)
        self._do(f"CREATE TABLE {self.sessions_table} ({columns})")
        with registered(self.con, self.relation, rows):
            self._do(f"INSERT INTO {self.sessions_table} BY NAME SELECT * FROM {self.relation}")
        self.columns = rows.column_names
        self.buffered_rows = self.written[self.sessions_table] = rows.num_rows
        self._refresh_next_close()
