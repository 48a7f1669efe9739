"""The forest operator: each row of the cursor is scored by a Random Cut Forest (AWS's
library, through krcf) and then added to it, in arrival order; the forest is part of the
checkpoint, so a restarted run goes on with the same forest and gives the same scores."""

from __future__ import annotations

import itertools
import json
from typing import Any

import duckdb
import krcf
import numpy as np
import pyarrow as pa
from krcf.types import DiVector

from flowsql.engine.isolation import run_isolated
from flowsql.engine.operators import OperatorBase, Rejected, registered
from flowsql.engine.planner import INPUT_PLACEHOLDER, OperatorPlan
from flowsql.kda.rcf import EXPLANATION, SCORE, SEQ, ForestSpec

_names = itertools.count()
FOREST_COLUMN = "forest"


def new_forest(spec: ForestSpec) -> krcf.RandomCutForest:
    """KDA's parameters as the library's options: timeDecay (records) is the inverse of the
    sampler's decay rate lambda; shingles are kept by the forest itself."""
    return krcf.RandomCutForest(
        {
            "dimensions": len(spec.dimensions),
            "shingle_size": spec.shingle_size,
            "num_trees": spec.trees,
            "sample_size": spec.sample_size,
            "random_seed": spec.seed,
            # krcf reads "lambda", but its options TypedDict cannot declare a key that is a keyword.
            "lambda": 1.0 / spec.time_decay,  # type: ignore[typeddict-unknown-key]
            "internal_shingling": True,
        }
    )


def explanation(spec: ForestSpec, attribution: DiVector) -> str:
    """ANOMALY_EXPLANATION: per numeric column its share of the score (high + low over the
    shingle's positions), and with directionality which way it is anomalous and how strongly."""
    dims = len(spec.dimensions)
    out: dict[str, dict[str, str]] = {}
    for index, name in enumerate(spec.dimensions):
        high = sum(attribution["high"][index::dims])
        low = sum(attribution["low"][index::dims])
        entry = {"ATTRIBUTION_SCORE": f"{high + low:.4f}"}
        if spec.directionality:
            entry = {
                "DIRECTION": "HIGH" if high >= low else "LOW",
                "STRENGTH": f"{abs(high - low):.4f}",
                "DIRECTED_ATTRIBUTION": f"{high - low:.4f}",
                **entry,
            }
        out[name] = entry
    return json.dumps(out, separators=(",", ":"))


class ForestOperator(OperatorBase):
    """Runs the cursor's SELECT on each batch, scores then learns each row, and runs the
    pump's SELECT on the scored rows. Rows either query fails on go to the error output; the
    forest learns each row once, after the cursor's query took it."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, spec: ForestSpec) -> None:
        super().__init__()
        self.plan = plan
        self.con = con
        self.spec = spec
        self.forest = new_forest(spec)
        self.input_relation = f"__flowsql_kda_rcf_in_{next(_names)}"
        self.scored_relation = f"__flowsql_kda_rcf_scored_{next(_names)}"
        self.cursor_sql = spec.cursor_template.replace(INPUT_PLACEHOLDER, self.input_relation)
        outer = spec.outer_template.replace(INPUT_PLACEHOLDER, self.scored_relation)
        self.outer_sql = f"SELECT * EXCLUDE ({SEQ}) FROM ({outer}) ORDER BY {SEQ}"

    buffered_rows = 0

    @property
    def closed_until_us(self) -> int | None:
        return None

    def push(self, table: pa.Table) -> tuple[pa.Table | None, list[Rejected]]:
        if table.num_rows == 0:
            return None, []
        numbered = table.append_column(SEQ, pa.array(np.arange(table.num_rows, dtype=np.int64)))
        cursor = run_isolated(self.plan, numbered, self._cursor)
        scored = self._scored(cursor.result)
        outer = run_isolated(self.plan, scored, self._outer)
        rejected = [
            (code, reason, rows.drop_columns([SEQ]) if SEQ in rows.column_names else rows)
            for code, reason, rows in cursor.rejected + outer.rejected
        ]
        return outer.result, rejected

    def _cursor(self, rows: pa.Table) -> pa.Table:
        with registered(self.con, self.input_relation, rows):
            return self.con.sql(self.cursor_sql).to_arrow_table()

    def _outer(self, rows: pa.Table) -> pa.Table:
        with registered(self.con, self.scored_relation, rows):
            return self.con.sql(self.outer_sql).to_arrow_table()

    def _scored(self, rows: pa.Table) -> pa.Table:
        """The rows with the score (and explanation) of each, the forest learning as it goes;
        a row with a NULL in a numeric column gets a NULL score and is not learnt."""
        points = np.column_stack(
            [rows.column(n).cast(pa.float64()).to_numpy(zero_copy_only=False) for n in self.spec.dimensions]
        )
        scores: list[float | None] = []
        explained: list[str | None] = []
        for point in points:
            if np.isnan(point).any():
                scores.append(None)
                explained.append(None)
                continue
            scores.append(self.forest.score(point))
            if self.spec.explain:
                explained.append(explanation(self.spec, self.forest.attribution(point)))
            self.forest.update(point)
        rows = rows.set_column(rows.schema.get_field_index(SCORE), SCORE, pa.array(scores, pa.float64()))
        if self.spec.explain:
            rows = rows.set_column(
                rows.schema.get_field_index(EXPLANATION), EXPLANATION, pa.array(explained, pa.string())
            )
        return rows

    def snapshot(self) -> tuple[dict[str, Any], pa.Table | None]:
        return {"entries_seen": self.forest.entries_seen()}, pa.table(
            {FOREST_COLUMN: pa.array([self.forest.to_msgpack()], pa.large_binary())}
        )

    def restore(self, data: dict[str, Any], rows: pa.Table | None) -> None:
        if rows is not None and rows.num_rows:
            self.forest = krcf.RandomCutForest.from_msgpack(rows.column(FOREST_COLUMN)[0].as_py())
