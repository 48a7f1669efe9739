"""Sliding windows (KDA's OVER ... RANGE INTERVAL / ROWS n PRECEDING): one output row per
input row, aggregating that row and the window before it.

The operator keeps the rows the longest window can still reach. Each batch runs DuckDB's own
window functions over kept + new rows, in arrival order (`__kda_seq`), and emits the new rows.
A row sees only rows that arrived before it, as in KDA: a RANGE frame is bounded by the first
arrival inside the time range, not by the time itself, so equal ROWTIMEs do not see ahead.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from flowsql.engine.isolation import run_isolated
from flowsql.engine.operators import OperatorBase, Rejected, registered
from flowsql.engine.planner import INPUT_PLACEHOLDER, OperatorPlan
from flowsql.kda.functions import interval_us

if TYPE_CHECKING:
    from flowsql.kda.translate import _Pump

SEQ = "__kda_seq"
_names = itertools.count()


def _span(size_us: int) -> str:
    return f"__kda_span_{size_us}"


@dataclass
class SlidingSpec:
    """The windows of one pump: RANGE lengths, ROWS counts with their partitions, and the
    operator's SQL (filled in once the pump's query is final)."""

    rowtime: str
    ranges_us: set[int]
    rows: list[tuple[int, tuple[str, ...]]]
    operator_template: str = ""

    def describe(self) -> str:
        parts = [f"RANGE {us / 1e6:g} s" for us in sorted(self.ranges_us)]
        parts += [f"ROWS {n} PRECEDING" for n, _ in self.rows]
        return "sliding window (" + ", ".join(parts) + "): one output row per input row"

    def finish(self, query: exp.Select, input_table_name: str) -> str:
        """The SQL the operator runs: windows ordered by arrival, frames on __kda_seq."""
        final = query.copy()
        for window in _windows(final):
            spec = window.args.get("spec")
            if spec is None:
                continue
            window.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column(SEQ))]))
            if str(spec.args.get("kind")).upper() == "RANGE":
                size = interval_us(spec.args["start"])
                spec.set("start", exp.column(_span(size or 0)))
            _carry_seq(window, final)
        final.select(exp.column(SEQ), copy=False)
        for table in final.find_all(exp.Table):
            if table.name.lower() == input_table_name.lower():
                alias = table.alias or table.name
                table.replace(
                    exp.Table(
                        this=exp.to_identifier(INPUT_PLACEHOLDER),
                        alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
                    )
                )
                break
        self.operator_template = final.sql("duckdb")
        return self.operator_template

    def make_operator(
        self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0
    ) -> SlidingOperator:
        return SlidingOperator(plan, con, self)


def _carry_seq(window: exp.Window, top: exp.Select) -> None:
    """A window in a FROM subquery: every SELECT between it and the pump's passes __kda_seq on."""
    inner = window.find_ancestor(exp.Select)
    while inner is not None and inner is not top:
        if SEQ not in inner.named_selects:
            inner.select(exp.column(SEQ), copy=False)
        inner = inner.parent.find_ancestor(exp.Select) if inner.parent is not None else None


def _windows(query: exp.Select) -> list[exp.Window]:
    inline = [w for w in query.find_all(exp.Window) if w.args.get("spec") is not None or w.args.get("partition_by")]
    return inline


def prepare_sliding(work: _Pump, query: exp.Select, rowtime: str) -> SlidingSpec | None:
    """Check each OVER window is one KDA can slide, and give it ORDER BY ROWTIME."""
    windows = [
        w
        for w in query.find_all(exp.Window)
        if isinstance(w.this, exp.Identifier) or w.args.get("over") or w.args.get("spec") is not None
    ]
    if not windows:
        return None
    spec = SlidingSpec(rowtime, set(), [])
    for window in windows:
        frame = window.args.get("spec")
        if frame is None:
            named = isinstance(window.args.get("alias"), exp.Identifier)
            if window.args.get("partition_by") or window.args.get("order") or not named:
                raise work.fail(window, "a sliding window needs RANGE INTERVAL '...' PRECEDING or ROWS n PRECEDING")
            continue  # `agg OVER W`: the frame is in the WINDOW clause
        order = window.args.get("order")
        if order is not None:
            keys = [o.this for o in order.expressions]
            if len(keys) != 1 or not isinstance(keys[0], exp.Column) or keys[0].name.lower() != rowtime.lower():
                raise work.fail(order, "a sliding window is ordered by ROWTIME only")
        end = window_end_of(frame)
        if end not in ("CURRENT ROW", None):
            raise work.fail(window, "a sliding window ends at the current row")
        kind = str(frame.args.get("kind")).upper()
        start = frame.args.get("start")
        side = str(frame.args.get("start_side") or "").upper()
        if str(start).upper() == "CURRENT ROW":  # ROWS/RANGE CURRENT ROW: ROWS 0 / RANGE '0' PRECEDING
            start = (
                exp.Literal.number(0)
                if kind == "ROWS"
                else exp.Interval(this=exp.Literal.string("0"), unit=exp.Var(this="SECOND"))
            )
            side = "PRECEDING"
            frame.set("start", start)
            frame.set("start_side", "PRECEDING")
        partitions = tuple(_unqualified(p).sql("duckdb") for p in window.args.get("partition_by") or [])
        size = interval_us(start) if start is not None else None
        if kind == "RANGE" and side == "PRECEDING" and size is not None:
            spec.ranges_us.add(size)
        elif kind == "ROWS" and side == "PRECEDING" and isinstance(start, exp.Literal) and start.is_int:
            spec.rows.append((int(start.this), partitions))
        else:
            raise work.fail(
                window,
                "a sliding window needs RANGE INTERVAL '...' PRECEDING or ROWS n PRECEDING "
                "(UNBOUNDED windows would keep every row)",
            )
        window.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column(rowtime))]))
        frame.set("end", "CURRENT ROW")
    return spec


def _unqualified(node: exp.Expression) -> exp.Expression:
    """The partition key over the operator's kept rows, which carry no table alias."""
    node = node.copy()
    for column in node.find_all(exp.Column):
        column.set("table", None)
    return node


def window_end_of(frame: exp.Expression) -> str | None:
    end = frame.args.get("end")
    return None if end is None else str(end).upper()


class SlidingOperator(OperatorBase):
    """Keeps the rows the windows can reach; emits one row per new input row."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, spec: SlidingSpec) -> None:
        super().__init__()
        self.plan = plan
        self.con = con
        self.spec = spec
        self.relation = f"__flowsql_kda_in_{next(_names)}"
        self.kept: pa.Table | None = None
        self.next_seq = 0
        time_us = f'epoch_us(CAST("{spec.rowtime}" AS TIMESTAMP))'
        spans = "".join(
            f", {SEQ} - min({SEQ}) OVER (ORDER BY {time_us} RANGE BETWEEN {size} PRECEDING AND CURRENT ROW) "
            f"AS {_span(size)}"
            for size in sorted(spec.ranges_us)
        )
        self.input_sql = f"(SELECT *{spans} FROM {self.relation})"
        self.sql = spec.operator_template.replace(INPUT_PLACEHOLDER, self.input_sql)
        keep = []
        if spec.ranges_us:
            keep.append(f"{time_us} >= max({time_us}) OVER () - {max(spec.ranges_us)}")
        for count, partitions in spec.rows:
            over = f"PARTITION BY {', '.join(partitions)} " if partitions else ""
            keep.append(f"row_number() OVER ({over}ORDER BY {SEQ} DESC) <= {count}")
        self.keep_sql = f"SELECT * FROM {self.relation} QUALIFY {' OR '.join(keep)}" if keep else None

    @property
    def buffered_rows(self) -> int:
        return self.kept.num_rows if self.kept is not None else 0

    @property
    def closed_until_us(self) -> int | None:
        return None

    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        """One output row per new row; new rows the query fails on are rejected, and the rest
        are numbered as if those had never come."""
        if table.num_rows == 0:
            return None, []
        isolated = run_isolated(self.plan, table, self._slide)
        first = self.next_seq
        self.next_seq += isolated.good.num_rows
        with registered(self.con, self.relation, self._with_kept(isolated.good, first)):
            self.kept = self.con.sql(self.keep_sql).to_arrow_table() if self.keep_sql else None
        return isolated.result, isolated.rejected

    def _with_kept(self, table: pa.Table, first: int) -> pa.Table:
        numbered = table.append_column(SEQ, pa.array(range(first, first + table.num_rows), pa.int64()))
        return pa.concat_tables([self.kept, numbered]) if self.kept is not None else numbered

    def _slide(self, table: pa.Table) -> pa.Table:
        first = self.next_seq
        with registered(self.con, self.relation, self._with_kept(table, first)):
            return self.con.sql(
                f"SELECT * EXCLUDE ({SEQ}) FROM ({self.sql}) WHERE {SEQ} >= {first} ORDER BY {SEQ}"
            ).to_arrow_table()

    def snapshot(self) -> tuple[dict[str, Any], pa.Table | None]:
        return {"next_seq": self.next_seq}, self.kept

    def restore(self, data: dict[str, Any], rows: pa.Table | None) -> None:
        self.next_seq = int(data.get("next_seq", 0))
        self.kept = rows if rows is not None and rows.num_rows else None
