"""Stagger windows (`WINDOWED BY STAGGER (PARTITION BY k RANGE INTERVAL ...)`): a window per
partition key opens at the ROWTIME of that key's first row and closes a range later; the
key's next row after that opens a new window. Each window is emitted once, when ROWTIME
passes its close, with the close as its ROWTIME.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
from sqlglot import exp

from flowsql.engine.isolation import run_isolated
from flowsql.engine.operators import OperatorBase, Rejected, registered, times_us
from flowsql.engine.planner import INPUT_PLACEHOLDER, OperatorPlan
from flowsql.kda.functions import interval_us
from flowsql.kda.parser import STAGGER_MARK

if TYPE_CHECKING:
    from flowsql.kda.translate import _Pump

CLOSE = "__kda_close"
_names = itertools.count()


@dataclass
class StaggerSpec:
    rowtime: str
    range_us: int
    keys: list[exp.Expression] = field(default_factory=list)
    key_sql: list[str] = field(default_factory=list)
    operator_template: str = ""

    def describe(self) -> str:
        return (
            f"stagger window: per {', '.join(self.key_sql) or 'key'}, open at the first row's ROWTIME, "
            f"closed {self.range_us / 1e6:g} s later"
        )

    def finish(self, query: exp.Select, input_name: str, system_alias: str | None) -> str:
        """The operator's SQL: grouped by the keys and each row's window close."""
        self.key_sql = [k.sql("duckdb") for k in query.args["group"].expressions]
        final = query.copy()
        final.args["group"].append("expressions", exp.column(CLOSE))
        for item in final.expressions:
            if system_alias is not None and item.alias == system_alias:
                item.set("this", exp.column(CLOSE))  # the output ROWTIME is the window's close
        final.select(exp.alias_(exp.column(CLOSE), CLOSE), copy=False)
        for table in final.find_all(exp.Table):
            if table.name.lower() == input_name.lower():
                alias = exp.TableAlias(this=exp.to_identifier(table.alias or table.name, quoted=True))
                table.replace(exp.Table(this=exp.to_identifier(INPUT_PLACEHOLDER), alias=alias))
                break
        self.operator_template = final.sql("duckdb")
        return self.operator_template

    def make_operator(
        self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0
    ) -> StaggerOperator:
        return StaggerOperator(plan, con, self)


def prepare_stagger(work: _Pump, query: exp.Select, rowtime: str) -> StaggerSpec | None:
    """Take the stagger mark out of the GROUP BY; bare columns of a key expression in the
    SELECT list stand for the key (KDA prints `EVENT_TIME` as `FLOOR(EVENT_TIME TO MINUTE)`)."""
    group = query.args.get("group")
    marks = [
        g
        for g in (group.expressions if group else [])
        if isinstance(g, exp.Anonymous) and str(g.this).upper() == STAGGER_MARK
    ]
    if not marks or group is None:
        return None
    mark = marks[0]
    size = interval_us(mark.expressions[0]) if len(mark.expressions) == 1 else None
    if not size or size <= 0:
        raise work.fail(mark, "a stagger window's RANGE must be a fixed INTERVAL longer than zero")
    keys = [g for g in group.expressions if g is not mark]
    if not keys:
        raise work.fail(mark, "a stagger window needs PARTITION BY keys")
    group.set("expressions", keys)
    key_columns = {c.name.lower(): k for k in keys if not isinstance(k, exp.Column) for c in k.find_all(exp.Column)}
    for item in query.expressions:
        target = item.this if isinstance(item, exp.Alias) else item
        if isinstance(target, exp.Column) and target.name.lower() in key_columns:
            target.replace(key_columns[target.name.lower()].copy())
    return StaggerSpec(rowtime, size, keys)


class StaggerOperator(OperatorBase):
    """Keeps the rows of open stagger windows and each key's open window close."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, spec: StaggerSpec) -> None:
        super().__init__()
        self.plan = plan
        self.con = con
        self.spec = spec
        self.time_column = spec.rowtime
        self.relation = f"__flowsql_kda_in_{next(_names)}"
        self.open: dict[tuple[Any, ...], int] = {}
        self.buffer: list[pa.Table] = []
        keys = ", ".join(f"{k} AS __k{i}" for i, k in enumerate(spec.key_sql))
        self.keys_sql = f"SELECT {keys} FROM {self.relation}"
        self.sql = spec.operator_template.replace(INPUT_PLACEHOLDER, self.relation)

    @property
    def buffered_rows(self) -> int:
        return sum(t.num_rows for t in self.buffer)

    @property
    def closed_until_us(self) -> int | None:
        return None

    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        if table.num_rows == 0:
            return None, []
        keyed = run_isolated(self.plan, table, self._keys)
        table, key_rows = keyed.good, keyed.result
        times = times_us(table, self.spec.rowtime)
        closes = np.empty(len(times), dtype=np.int64)
        for index, (key, time) in enumerate(zip(key_rows, times, strict=True)):
            close = self.open.get(key)
            if close is None or time >= close:
                close = int(time) + self.spec.range_us
                self.open[key] = close
            closes[index] = close
        self.buffer.append(table.append_column(CLOSE, pa.array(closes, pa.int64()).cast(pa.timestamp("us"))))
        return None, keyed.rejected

    def _keys(self, rows: pa.Table) -> list[tuple[Any, ...]]:
        with registered(self.con, self.relation, rows):
            return self.con.sql(self.keys_sql).fetchall()

    def _closing(self, rows: pa.Table) -> pa.Table:
        with registered(self.con, self.relation, rows):
            return self.con.sql(f"SELECT * EXCLUDE ({CLOSE}) FROM ({self.sql}) ORDER BY {CLOSE}").to_arrow_table()

    def advance(self, watermark_us: int) -> pa.Table | None:
        if not self.buffer:
            return None
        rows = pa.concat_tables(self.buffer) if len(self.buffer) > 1 else self.buffer[0]
        closes = times_us(rows, CLOSE)
        due = closes <= watermark_us
        if not due.any():
            return None
        self.buffer = [rows.filter(pa.array(~due))] if (~due).any() else []
        self.open = {k: c for k, c in self.open.items() if c > watermark_us}
        emitted = run_isolated(self.plan, rows.filter(pa.array(due)), self._closing)
        self.pending_rejects += [(code, reason, bad.drop_columns([CLOSE])) for code, reason, bad in emitted.rejected]
        return emitted.result

    def snapshot(self) -> tuple[dict[str, Any], pa.Table | None]:
        return {}, pa.concat_tables(self.buffer) if self.buffer else None

    def restore(self, data: dict[str, Any], rows: pa.Table | None) -> None:
        """Every open window has a row kept, so the kept rows tell each key's open close."""
        self.buffer = [rows] if rows is not None and rows.num_rows else []
        self.open = {}
        if not self.buffer:
            return
        keys = self._keys(self.buffer[0])
        for key, close in zip(keys, times_us(self.buffer[0], CLOSE), strict=True):
            self.open[key] = max(self.open.get(key, 0), int(close))
