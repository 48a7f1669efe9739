"""Reports over a CDC table's current state: `EMIT EVERY` snapshots and `EMIT CHANGES` changelogs.

A TableFeed owns one table's state and the reports over it. It applies each change batch and
cuts it where the report clock passes a snapshot boundary, so a snapshot at time T holds exactly
the changes that arrived before the clock reached T. The clock is the change_time watermark when
the table declares one, arrival_time otherwise.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from flowsql.cdc.columns import SNAPSHOT_TIME, group_columns
from flowsql.cdc.formats import OP, TableShape
from flowsql.cdc.table_state import TableState
from flowsql.engine.operators import times_us
from flowsql.engine.planner import OperatorPlan, StreamInfo
from flowsql.pipeline.model import TableDecl
from flowsql.records import ARRIVAL_TIME

_NO_TIME = np.iinfo(np.int64).min
_changelog_names = itertools.count()
# When the clock jumps over many intervals at once (a long pause in a live feed), the snapshots
# in between would all be the same; at most this many are written, the latest ones.
MAX_CATCH_UP = 100


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _stamp(rows: pa.Table, time_us: int, schema: pa.Schema) -> pa.Table:
    stamp = pa.array(np.full(rows.num_rows, time_us, dtype=np.int64), pa.int64()).cast(pa.timestamp("us"))
    return rows.add_column(0, pa.field(SNAPSHOT_TIME, pa.timestamp("us")), stamp).cast(schema)


class SnapshotReport:
    """EMIT EVERY: the query's full result each time the clock passes a multiple of the interval."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, relation: str) -> None:
        assert plan.decl.emit is not None
        self.plan = plan
        self.con = con
        self.sql = plan.sql(relation)
        self.interval_us = round(plan.decl.emit.interval_seconds * 1_000_000)
        self.next_due: int | None = None
        self.last_snapshot_us: int | None = None

    def start(self, clock_us: int) -> None:
        if self.next_due is None:
            self.next_due = (clock_us // self.interval_us + 1) * self.interval_us

    def due(self, clock_us: int) -> list[pa.Table]:
        """Snapshots for every boundary the clock has reached (the state is the same for all)."""
        if self.next_due is None or clock_us < self.next_due:
            return []
        last = (clock_us // self.interval_us) * self.interval_us
        count = (last - self.next_due) // self.interval_us + 1
        first = last - (min(count, MAX_CATCH_UP) - 1) * self.interval_us
        rows = self.con.sql(self.sql).to_arrow_table()
        self.next_due = last + self.interval_us
        self.last_snapshot_us = last
        return [_stamp(rows, t, self.plan.output_schema) for t in range(first, last + 1, self.interval_us)]

    def final(self, time_us: int) -> pa.Table | None:
        if self.last_snapshot_us == time_us:
            return None
        self.last_snapshot_us = time_us
        return _stamp(self.con.sql(self.sql).to_arrow_table(), time_us, self.plan.output_schema)


class ChangelogReport:
    """EMIT CHANGES: after each micro-batch, the groups whose result changed, with op insert,
    update (the new values) or delete (the last values)."""

    def __init__(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, relation: str, index: int) -> None:
        self.plan = plan
        self.con = con
        self.sql = plan.sql(relation)
        names = [n for n in plan.output_schema.names if n not in (SNAPSHOT_TIME, OP)]
        keys = group_columns(plan.decl.query, names)
        values = [n for n in names if n not in keys]
        self.previous = f"__flowsql_changelog_{index}"
        self.current = f"__flowsql_changelog_now_{index}"
        query_schema = pa.schema([plan.output_schema.field(n) for n in names])
        con.register(self.current, query_schema.empty_table())
        con.execute(f"CREATE TABLE {self.previous} AS SELECT * FROM {self.current}")
        con.unregister(self.current)
        on = " AND ".join(f"c.{_quote(k)} IS NOT DISTINCT FROM p.{_quote(k)}" for k in keys) or "true"
        changed = " OR ".join(f"c.{_quote(v)} IS DISTINCT FROM p.{_quote(v)}" for v in values) or "false"
        picked = ", ".join(
            f"CASE WHEN c.__present THEN c.{_quote(n)} ELSE p.{_quote(n)} END AS {_quote(n)}" for n in names
        )
        self.diff_sql = (
            f"SELECT CASE WHEN p.__present IS NULL THEN 'insert' WHEN c.__present IS NULL THEN 'delete' "
            f"ELSE 'update' END AS {OP}, {picked} "
            f"FROM (SELECT *, true AS __present FROM {self.current}) c "
            f"FULL OUTER JOIN (SELECT *, true AS __present FROM {self.previous}) p ON {on} "
            f"WHERE p.__present IS NULL OR c.__present IS NULL OR {changed}"
        )

    def changes(self, time_us: int) -> pa.Table:
        result = self.con.sql(self.sql).to_arrow_table()
        self.con.register(self.current, result)
        try:
            diff = self.con.sql(self.diff_sql).to_arrow_table()
            self.con.execute(f"DELETE FROM {self.previous}")
            self.con.execute(f"INSERT INTO {self.previous} SELECT * FROM {self.current}")
        finally:
            self.con.unregister(self.current)
        return _stamp(diff, time_us, self.plan.output_schema)

    def last_result(self) -> pa.Table:
        return self.con.sql(f"SELECT * FROM {self.previous}").to_arrow_table()

    def restore(self, rows: pa.Table) -> None:
        self.con.register(self.current, rows)
        try:
            self.con.execute(f"DELETE FROM {self.previous}")
            self.con.execute(f"INSERT INTO {self.previous} SELECT * FROM {self.current}")
        finally:
            self.con.unregister(self.current)


Output = tuple[OperatorPlan, pa.Table]


@dataclass
class TableFeed:
    """One CDC table: its state, the reports over it and the report clock."""

    state: TableState
    clock_column: str
    delay_us: int
    snapshots: list[SnapshotReport] = field(default_factory=list)
    changelogs: list[ChangelogReport] = field(default_factory=list)
    clock_us: int | None = None
    latest_time_us: int | None = None  # the clock column's largest value: the final snapshot's time

    @classmethod
    def create(cls, decl: TableDecl, stream: StreamInfo, con: duckdb.DuckDBPyConnection) -> TableFeed:
        shape = TableShape(decl.name, decl.columns, decl.primary_key)
        event = next((c for c, kind in stream.clocks.items() if kind == "event"), None)
        if event is not None:
            return cls(TableState(shape, con), event, stream.watermark_delay_us)
        return cls(TableState(shape, con), ARRIVAL_TIME, 0)

    @property
    def clock_is_arrival(self) -> bool:
        return self.clock_column == ARRIVAL_TIME

    def add_report(self, plan: OperatorPlan) -> None:
        assert plan.decl.emit is not None
        if plan.decl.emit.kind == "every":
            self.snapshots.append(SnapshotReport(plan, self.state.con, self.state.relation))
        else:
            self.changelogs.append(ChangelogReport(plan, self.state.con, self.state.relation, next(_changelog_names)))

    def push(self, changes: pa.Table) -> list[Output]:
        """Apply a change batch; returns the snapshots that fell due within it and the changelogs."""
        if changes.num_rows == 0:
            return []
        raw = times_us(changes, self._column(changes))
        clock = np.where(raw == _NO_TIME, _NO_TIME, raw - self.delay_us)
        if self.clock_us is not None:
            clock = np.maximum(clock, self.clock_us)
        running = np.maximum.accumulate(clock)
        outputs: list[Output] = []
        start = 0
        while self.snapshots:
            known = np.flatnonzero(running != _NO_TIME)
            if known.size == 0:
                break
            for report in self.snapshots:
                report.start(int(running[known[0]]))
            due = min(r.next_due for r in self.snapshots if r.next_due is not None)
            cut = int(np.searchsorted(running, due, side="left"))
            if cut >= changes.num_rows:
                break
            self.state.apply(changes.slice(start, cut - start))
            start = cut
            outputs += self._due(int(running[cut]))
        self.state.apply(changes.slice(start))
        if running[-1] != _NO_TIME:
            self.clock_us = int(running[-1])
            latest = int(raw.max())
            self.latest_time_us = latest if self.latest_time_us is None else max(latest, self.latest_time_us)
        if self.clock_us is not None:
            outputs += [(r.plan, r.changes(self.clock_us)) for r in self.changelogs]
        return [(plan, rows) for plan, rows in outputs if rows.num_rows]

    def advance(self, clock_us: int) -> list[Output]:
        """The clock moved with no change (arrival time of a live source): snapshots that fell due."""
        if self.clock_us is None or clock_us <= self.clock_us:
            return []
        self.clock_us = clock_us
        return [(plan, rows) for plan, rows in self._due(clock_us) if rows.num_rows]

    def finish(self) -> list[Output]:
        """The end of a bounded feed: one last snapshot of every EMIT EVERY report."""
        if self.latest_time_us is None:
            return []
        # Live arrival time may have moved past the newest change; a final snapshot never goes back.
        time_us = max(self.latest_time_us, self.clock_us or self.latest_time_us)
        outputs = [(r.plan, r.final(time_us)) for r in self.snapshots]
        return [(plan, rows) for plan, rows in outputs if rows is not None and rows.num_rows]

    def snapshot(self, prefix: str) -> tuple[dict[str, Any], dict[str, pa.Table]]:
        """For checkpoints: the clock and report positions as JSON-able data, and the table state
        and each changelog's last result as named Arrow tables (names start with `prefix`)."""
        tables = {f"{prefix}-state": self.state.state()}
        for index, report in enumerate(self.changelogs):
            tables[f"{prefix}-changelog-{index}"] = report.last_result()
        data = {
            "clock_us": self.clock_us,
            "latest_time_us": self.latest_time_us,
            "snapshots": [{"next_due": r.next_due, "last_snapshot_us": r.last_snapshot_us} for r in self.snapshots],
        }
        return data, tables

    def restore(self, data: dict[str, Any], tables: dict[str, pa.Table], prefix: str) -> None:
        """Take back what `snapshot` gave, for the same table and reports."""
        self.state.restore(tables[f"{prefix}-state"])
        for index, report in enumerate(self.changelogs):
            report.restore(tables[f"{prefix}-changelog-{index}"])
        for snapshot_report, entry in zip(self.snapshots, data["snapshots"], strict=True):
            snapshot_report.next_due = entry["next_due"]
            snapshot_report.last_snapshot_us = entry["last_snapshot_us"]
        self.clock_us, self.latest_time_us = data["clock_us"], data["latest_time_us"]

    def _due(self, clock_us: int) -> list[Output]:
        return [(r.plan, rows) for r in self.snapshots for rows in r.due(clock_us)]

    def _column(self, changes: pa.Table) -> str:
        return next(c for c in changes.column_names if c.lower() == self.clock_column.lower())
