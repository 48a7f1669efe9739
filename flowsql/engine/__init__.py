"""The engine: routes micro-batches through the pipeline's operators on one DuckDB database
and moves each stream's watermark, so windows close in order and exactly once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from flowsql.engine.budget import apply_budget
from flowsql.engine.operators import Operator, Rejected, build_operator
from flowsql.engine.planner import OperatorPlan, Plan, StreamInfo, plan_pipeline
from flowsql.engine.windows import FOREVER_US, WindowSpec
from flowsql.frontends import TableFeed, table_kind
from flowsql.pipeline.functions import register_functions

OutputHandler = Callable[[str, pa.Table], None]
RejectHandler = Callable[[OperatorPlan, Rejected], None]


class Engine:
    """Runs a Plan. Outputs for sinks go to `on_output(sink, rows)`; rows a window could not
    take (late, no time) go to `on_reject(operator, rejected)`."""

    def __init__(
        self,
        plan: Plan,
        on_output: OutputHandler,
        on_reject: RejectHandler,
        lateness_us: dict[str, int] | None = None,
        threads: int | None = None,
        state_memory: int | None = None,
    ) -> None:
        self.plan = plan
        self.on_output = on_output
        self.on_reject = on_reject
        self.con = register_functions(duckdb.connect(), plan.functions)
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        # State kept in DuckDB tables (open sessions) spills past the budget instead of failing.
        self.spill_directory = apply_budget(self, self.con, state_memory) if state_memory else None
        lateness = {k.lower(): v for k, v in (lateness_us or {}).items()}
        self.operators: list[tuple[OperatorPlan, Operator]] = []
        self.subscribers: dict[str, list[int]] = {}
        self.producers: dict[str, list[int]] = {}  # a view's queries (a front end may merge several)
        # Tables (CDC): each keeps its state and runs the reports (EMIT) over it.
        self.tables: dict[str, TableFeed] = {
            name: table_kind().open(decl, plan.streams[name], self.con) for name, decl in plan.tables.items()
        }
        for op_plan in plan.operators:
            if op_plan.kind == "report":
                self.tables[op_plan.input.lower()].add_report(op_plan)
                continue
            index = len(self.operators)
            operator = build_operator(op_plan, self.con, lateness.get(op_plan.input.lower(), 0))
            self.operators.append((op_plan, operator))
            for name in dict.fromkeys(n.lower() for n in op_plan.all_inputs):
                self.subscribers.setdefault(name, []).append(index)
            if op_plan.decl.is_view:
                self.producers.setdefault(op_plan.target.lower(), []).append(index)
        self.clocks: dict[str, dict[str, int]] = {name: {} for name in plan.streams}

    # -- input -----------------------------------------------------------------------------
    def push(self, source: str, table: pa.Table, progress: dict[str, int | None] | None = None) -> None:
        """Run one decoded micro-batch of a source through the queries, then move its watermarks.

        `progress` is how far the source's time has come per time column it tracks by partition
        (the least over its partitions; None while one has shown no time); a column it does not
        track is one ordered partition, and the batch's latest time is its progress."""
        key = source.lower()
        self._push_rows(key, table)
        if key in self.tables:
            self._deliver_all(self.tables[key].push(table))
        stream = self.plan.streams[key]
        for column, kind in stream.clocks.items():
            if kind not in ("event", "arrival"):
                continue
            # A column the source does not track per partition moves with the batch's latest.
            latest = progress[column] if progress is not None and column in progress else _max_time(table, column)
            if latest is not None:
                delay = stream.watermark_delay_us if kind == "event" else 0
                self._raise_clock(key, column, latest - delay)
        self._advance(key)

    def tick(self, source: str, now_us: int) -> None:
        """Arrival time moves with the wall clock even when nothing arrives (live sources)."""
        key = source.lower()
        self._raise_clock(key, "arrival_time", now_us)
        if key in self.tables and self.tables[key].clock_is_arrival:
            self._deliver_all(self.tables[key].advance(now_us))
        self._advance(key)

    def finish(self, source: str | None = None) -> None:
        """The end of a bounded input: every open window of its streams is emitted."""
        names = [source.lower()] if source else [s for s in self.plan.streams if self._is_source(s)]
        for key in names:
            if key in self.tables:
                self._deliver_all(self.tables[key].finish())
            for column in self.plan.streams[key].clocks:
                self._raise_clock(key, column, FOREVER_US)
            self._advance(key)

    def watermark(self, stream: str, column: str) -> int | None:
        return self.clocks.get(stream.lower(), {}).get(column.lower())

    def buffered_rows(self) -> int:
        """Rows the window queries keep for their open windows."""
        return sum(op.buffered_rows for plan, op in self.operators if plan.window is not None and plan.factory is None)

    # -- checkpoints ---------------------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, object], dict[str, pa.Table]]:
        """The engine's state as JSON-able data plus named row sets (the rows operators keep)."""
        operators: list[dict[str, object]] = []
        tables: dict[str, pa.Table] = {}
        for index, (op_plan, operator) in enumerate(self.operators):
            data, rows = operator.snapshot()
            entry: dict[str, object] = {"target": op_plan.target, "state": data}
            if rows is not None:
                tables[f"engine-{index}"] = rows
                entry["rows"] = f"engine-{index}"
            operators.append(entry)
        cdc: dict[str, object] = {}
        for name, feed in self.tables.items():
            cdc[name], feed_tables = feed.snapshot(f"cdc-{name}")
            tables.update(feed_tables)
        return {"clocks": self.clocks, "operators": operators, "cdc": cdc}, tables

    def restore(self, data: dict[str, Any], tables: dict[str, pa.Table]) -> None:
        """Take back a snapshot made by an engine of the same plan."""
        self.clocks = {k: dict(v) for k, v in data["clocks"].items()}
        for (_, operator), entry in zip(self.operators, data["operators"], strict=False):
            rows = tables.get(entry["rows"]) if entry.get("rows") else None
            # Checkpoints of earlier versions kept a window's state in the entry itself and a front
            # end's operator's under "custom".
            state = entry["state"] if "state" in entry else entry.get("custom") or entry
            operator.restore(state, rows)
        for name, entry in data.get("cdc", {}).items():
            self.tables[name].restore(entry, tables, f"cdc-{name}")

    # -- routing -----------------------------------------------------------------------------
    def _is_source(self, key: str) -> bool:
        return not any(p.decl.is_view and p.target.lower() == key for p in self.plan.operators)

    def _raise_clock(self, key: str, column: str, value: int) -> None:
        clocks = self.clocks[key]
        if clocks.get(column) is None or value > clocks[column]:
            clocks[column] = value

    def _push_rows(self, key: str, table: pa.Table) -> None:
        for index in self.subscribers.get(key, []):
            op_plan, operator = self.operators[index]
            if op_plan.inputs:  # an operator of several inputs takes each input's rows by position
                result, rejected = None, []
                for position, name in enumerate(op_plan.inputs):
                    if name.lower() == key:
                        result, more = operator.push_input(position, table)
                        rejected += more
                        if result is not None and result.num_rows:
                            self._deliver(op_plan, result)
                result = None
            else:
                result, rejected = operator.push(table)
            for item in rejected:
                self.on_reject(op_plan, item)
            if result is not None and result.num_rows:
                self._deliver(op_plan, result)

    def _advance(self, key: str) -> None:
        for index in self.subscribers.get(key, []):
            op_plan, operator = self.operators[index]
            clock = operator.time_column
            if clock is not None and op_plan.inputs:
                marks = [self.clocks[n.lower()].get(clock.lower()) for n in op_plan.inputs]
                result = operator.advance_inputs(marks)
                self._reject_emitted(op_plan, operator)
                if result is not None and result.num_rows:
                    self._deliver(op_plan, result)
            elif clock is not None:
                watermark = self.clocks[key].get(clock.lower())
                if watermark is not None:
                    result = operator.advance(watermark)
                    self._reject_emitted(op_plan, operator)
                    if result is not None and result.num_rows:
                        self._deliver(op_plan, result)
            if op_plan.decl.is_view:
                view = op_plan.target.lower()
                for column in self.plan.streams[view].clocks:
                    value = self._view_clock(view, column)
                    if value is not None:
                        self._raise_clock(view, column, value)
                self._advance(view)

    def _reject_emitted(self, op_plan: OperatorPlan, operator: Operator) -> None:
        """Rows the query failed on while the operator emitted go where rejected rows go."""
        for item in operator.take_rejected():
            self.on_reject(op_plan, item)

    def _view_clock(self, view: str, column: str) -> int | None:
        """How far a view's clock may move: the least of what each query filling it has seen
        (a window query's closed windows, else its inputs' clocks), None while one has none."""
        values: list[int | None] = []
        for index in self.producers.get(view, []):
            op_plan, operator = self.operators[index]
            if op_plan.window is not None:
                values.append(operator.closed_until_us if column == "window_end" else None)
            else:
                values += [self.clocks[n.lower()].get(column) for n in op_plan.all_inputs]
        if not values or any(v is None for v in values):
            return None
        return min(v for v in values if v is not None)

    def _deliver_all(self, outputs: list[tuple[OperatorPlan, pa.Table]]) -> None:
        for op_plan, rows in outputs:
            self._deliver(op_plan, rows)

    def _deliver(self, op_plan: OperatorPlan, rows: pa.Table) -> None:
        if op_plan.decl.is_view:
            self._push_rows(op_plan.target.lower(), rows)
        else:
            self.on_output(op_plan.target, rows)


def _max_time(table: pa.Table, column: str) -> int | None:
    name = next((c for c in table.column_names if c.lower() == column), None)
    if name is None:
        return None
    latest = pc.max(pc.cast(table.column(name), pa.timestamp("us")))
    return latest.cast(pa.int64()).as_py() if latest.is_valid else None


__all__ = ["Engine", "Plan", "StreamInfo", "WindowSpec", "plan_pipeline"]
