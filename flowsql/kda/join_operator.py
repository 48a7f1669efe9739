"""The stream-to-stream join operator: keeps each side's rows while a row of the other side can
still pair with them, and emits each pair once, when the second of the two is pushed.

A kept row is done once the other side's clock is past its ROWTIME plus its own side's window
(a later row of the other side could not reach it, nor come before it); an outer join then
emits it unmatched. The clocks come from the engine, so a side that goes quiet still lets the
other side's rows go.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flowsql.engine.isolation import run_isolated
from flowsql.engine.operators import OperatorBase, Rejected, times_us
from flowsql.engine.planner import OperatorPlan
from flowsql.kda.stream_join import HELPERS, ID, KEEP, LEFT, LEFT_ID, MATCHED, ORDER, RIGHT, RIGHT_ID, TIME, US

if TYPE_CHECKING:
    from flowsql.kda.stream_join import JoinSpec

_names = itertools.count()
_SIDE = "__kda_side"
_PREFIXES = ("l:", "r:")


def tagged_empty(schema: pa.Schema) -> pa.Table:
    """No rows of a side, with the columns the operator adds to each kept row."""
    return _with_tags(
        schema.empty_table(), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, bool)
    )


def _with_tags(table: pa.Table, ids: np.ndarray, us: np.ndarray, out_us: np.ndarray, matched: np.ndarray) -> pa.Table:
    return (
        table.append_column(ID, pa.array(ids, pa.int64()))
        .append_column(US, pa.array(us, pa.int64()))
        .append_column(TIME, pa.array(out_us, pa.int64()).cast(pa.timestamp("us")))
        .append_column(MATCHED, pa.array(matched, pa.bool_()))
    )


class StreamJoinOperator(OperatorBase):
    """Two inputs: `push_input(side, rows)` pairs new rows with the other side's kept rows;
    `advance_inputs(clocks)`, which the engine calls once a batch's rows are all pushed, emits
    the batch's pairs in ROWTIME order and lets rows go (an outer join's unmatched ones too)."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, spec: JoinSpec) -> None:
        super().__init__()
        self.plan = plan
        self.con = con
        self.spec = spec
        self.time_column = spec.rowtime
        suffix = next(_names)
        self.relations = (f"{LEFT}{suffix}", f"{RIGHT}{suffix}")
        self.pairs_sql = self._bind(spec.pairs)
        self.unmatched_sql = tuple(self._bind(sql) for sql in spec.unmatched)
        self.kept = [tagged_empty(spec.input_schemas[0]), tagged_empty(spec.input_schemas[1])]
        self.next_id = 0
        self.pending: list[pa.Table] = []

    def _bind(self, sql: str) -> str:
        return sql.replace(LEFT, self.relations[0]).replace(RIGHT, self.relations[1])

    @property
    def buffered_rows(self) -> int:
        return self.kept[0].num_rows + self.kept[1].num_rows

    @property
    def closed_until_us(self) -> int | None:
        return None

    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        return self.push_input(0, table)

    def push_input(self, side: int, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        if table.num_rows == 0:
            return None, []
        us = times_us(table, self.spec.rowtime)
        ids = np.arange(self.next_id, self.next_id + table.num_rows, dtype=np.int64)
        self.next_id += table.num_rows
        new = _with_tags(table.select(self.spec.input_schemas[side].names), ids, us, us, np.zeros(table.num_rows, bool))
        paired = run_isolated(self.plan, new, lambda rows: self._run(self.pairs_sql, self._beside(side, rows)))
        new, result = paired.good, paired.result
        if result.num_rows:
            matched = [pc.unique(result.column(LEFT_ID)), pc.unique(result.column(RIGHT_ID))]
            new = _mark(new, matched[side])
            self.kept[1 - side] = _mark(self.kept[1 - side], matched[1 - side])
        self.kept[side] = pa.concat_tables([self.kept[side], new])
        if result.num_rows:
            self.pending.append(result)  # emitted at the batch's advance, with the other side's pairs
        return None, _untagged(paired.rejected)

    def _beside(self, side: int, rows: pa.Table) -> list[pa.Table]:
        """`rows` as side `side`, with the other side's kept rows."""
        sides = [self.kept[0], self.kept[1]]
        sides[side] = rows
        return sides

    def advance(self, watermark_us: int) -> pa.Table | None:
        return self.advance_inputs([watermark_us, watermark_us])

    def advance_inputs(self, clocks: list[int | None]) -> pa.Table | None:
        """Rows the other side can no longer reach go; unmatched ones of a kept side come out
        with their ROWTIME plus their own window as the output ROWTIME."""
        outputs, self.pending = self.pending, []
        for side in (0, 1):
            other_clock = clocks[1 - side]
            rows = self.kept[side]
            if other_clock is None or rows.num_rows == 0:
                continue
            reach = self.spec.windows_us[side] or 0
            done = rows.column(US).to_numpy() + reach < other_clock
            if not done.any():
                continue
            self.kept[side] = rows.filter(pa.array(~done)).combine_chunks()
            if self.spec.preserved[side]:
                finished = rows.filter(pa.array(done))
                finished = finished.filter(pc.invert(finished.column(MATCHED)))
                if finished.num_rows:
                    at = finished.column(US).to_numpy() + reach
                    finished = finished.set_column(
                        finished.schema.get_field_index(TIME), TIME, pa.array(at, pa.int64()).cast(pa.timestamp("us"))
                    )
                    alone = run_isolated(self.plan, finished, partial(self._unmatched, side))
                    self.pending_rejects += _untagged(alone.rejected)
                    outputs.append(alone.result)
        outputs = [o for o in outputs if o.num_rows]
        if not outputs:
            return None
        return _output(pa.concat_tables(outputs, promote_options="default"))

    def _unmatched(self, side: int, rows: pa.Table) -> pa.Table:
        sides = [tagged_empty(self.spec.input_schemas[0]), tagged_empty(self.spec.input_schemas[1])]
        sides[side] = rows
        return self._run(self.unmatched_sql[side], sides)

    def _run(self, sql: str, sides: list[pa.Table]) -> pa.Table:
        for relation, rows in zip(self.relations, sides, strict=True):
            self.con.register(relation, rows)
        try:
            return self.con.sql(sql).to_arrow_table()
        finally:
            for relation in self.relations:
                self.con.unregister(relation)

    def snapshot(self) -> tuple[dict[str, Any], pa.Table | None]:
        """Both sides' kept rows in one table: each side's columns prefixed, a side marker."""
        parts = []
        for side, prefix in enumerate(_PREFIXES):
            rows = self.kept[side]
            if rows.num_rows:
                renamed = rows.rename_columns([prefix + n for n in rows.column_names])
                parts.append(renamed.append_column(_SIDE, pa.array([side] * rows.num_rows, pa.int8())))
        table = pa.concat_tables(parts, promote_options="default") if parts else None
        return {"next_id": self.next_id}, table

    def restore(self, data: dict[str, Any], rows: pa.Table | None) -> None:
        self.next_id = int(data.get("next_id", 0))
        for side, prefix in enumerate(_PREFIXES):
            empty = tagged_empty(self.spec.input_schemas[side])
            if rows is None or not any(n.startswith(prefix) for n in rows.column_names):
                self.kept[side] = empty
                continue
            mine = rows.filter(pc.equal(rows.column(_SIDE), side))
            mine = mine.select([prefix + n for n in empty.column_names]).rename_columns(empty.column_names)
            self.kept[side] = mine.cast(empty.schema)


def _untagged(rejected: list[Rejected]) -> list[Rejected]:
    """Rejected rows as their stream had them, without the operator's columns."""
    return [(code, reason, rows.drop_columns([ID, US, TIME, MATCHED])) for code, reason, rows in rejected]


def _mark(rows: pa.Table, ids: pa.Array) -> pa.Table:
    hit = pc.is_in(rows.column(ID), value_set=ids)
    index = rows.schema.get_field_index(MATCHED)
    return rows.set_column(index, MATCHED, pc.or_(rows.column(MATCHED), hit))


def _output(result: pa.Table) -> pa.Table | None:
    """The rows the user's WHERE keeps, in ROWTIME order, without the operator's columns."""
    if result.num_rows == 0:
        return None
    kept = result.filter(result.column(KEEP)).sort_by([(ORDER, "ascending")])
    return kept.drop_columns([c for c in HELPERS if c in kept.column_names])
