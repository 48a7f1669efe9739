"""Run a pipeline: reader threads feed a bounded queue, the engine runs micro-batches on the
main thread, and sinks flush when their buffers are due.

The queue is the backpressure: when the engine or a sink falls behind, readers block instead
of memory growing. Decoding happens in the reader threads (pyarrow releases the GIL), so
reading and SQL overlap on two cores.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from flowsql.cdc.source import create_change_source
from flowsql.checkpoint import CheckpointStore, pipeline_fingerprint
from flowsql.checkpoint.coordinator import CheckpointCoordinator
from flowsql.delivery import Sink, create_sink
from flowsql.delivery.retry import while_waiting
from flowsql.engine import Engine, plan_pipeline
from flowsql.engine.isolation import QUERY_FAILED, QueryError, query_place
from flowsql.engine.operators import Rejected
from flowsql.engine.planner import OperatorPlan, Plan
from flowsql.errors import FlowsqlError, PipelineError, SourceError
from flowsql.frontends import front_ends
from flowsql.logs import LateRecordLog, QueryFailureLog
from flowsql.metrics import Metrics, bind_reporters
from flowsql.pipeline.model import Pipeline
from flowsql.records import ARRIVAL_TIME, BadRecord, SourceBatch, late_records
from flowsql.row_origins import JoinedOrigins, find_rows
from flowsql.settings import pipeline_settings
from flowsql.sources import Source, create_source
from flowsql.status.sample import sample_run

_QUEUE_DEPTH = 4
_MICRO_BATCH_ROWS = 1 << 20  # a micro-batch grows up to this while input is waiting
_IDLE_TICK = 0.2
_OBSERVE_INTERVAL = 0.25  # how often the run's state is copied into its Metrics


@dataclass
class SourceStats:
    events: int = 0
    bytes: int = 0
    errors: int = 0
    finished: bool = False
    lag_millis: dict[str, int] = field(default_factory=dict)


@dataclass
class RunSummary:
    pipeline: str
    elapsed: float = 0.0
    sources: dict[str, SourceStats] = field(default_factory=dict)
    sinks: dict[str, dict[str, int]] = field(default_factory=dict)
    late: int = 0
    stopped_early: bool = False
    open_window_rows: int = 0
    resumed_epoch: int | None = None

    @property
    def events(self) -> int:
        return sum(s.events for s in self.sources.values())

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.sources.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "elapsed_seconds": round(self.elapsed, 3),
            "events_in": self.events,
            "events_per_second": round(self.events / self.elapsed, 1) if self.elapsed else 0.0,
            "errors": self.errors,
            "late": self.late,
            "sources": {n: vars(s) for n, s in self.sources.items()},
            "sinks": self.sinks,
            "stopped_early": self.stopped_early,
            "open_window_rows": self.open_window_rows,
            "resumed_epoch": self.resumed_epoch,
        }


class PipelineRun:
    """Everything one `flowsql run` holds: sources, plan, engine and sinks."""

    def __init__(self, pipeline: Pipeline, store: CheckpointStore | None = None) -> None:
        self.pipeline = pipeline
        self.settings = pipeline_settings(pipeline)
        self.sources: dict[str, Source] = {n: create_source(d) for n, d in pipeline.sources.items()}
        self.sources.update({n: create_change_source(d) for n, d in pipeline.tables.items()})
        schemas = {n: _stream_schema(s) for n, s in self.sources.items()}
        self.plan: Plan = plan_pipeline(pipeline, schemas)
        self.sinks: dict[str, Sink] = {}
        for op in self.plan.operators:
            if op.decl.is_view:
                continue
            decl = next(d for n, d in pipeline.sinks.items() if n.lower() == op.target.lower())
            if decl.name not in self.sinks:
                self.sinks[decl.name] = create_sink(decl, pipeline.name, op.output_schema)
            elif self.sinks[decl.name].schema != op.output_schema:
                raise PipelineError(
                    f"two queries write to sink '{decl.name}' with different columns",
                    op.decl.location,
                    pipeline.line(op.decl.location.line),
                )
        unused = [n for n in pipeline.sinks if n not in self.sinks]
        if unused:
            decl = pipeline.sinks[unused[0]]
            raise PipelineError(
                f"sink '{decl.name}' is declared but no INSERT INTO writes to it",
                decl.location,
                pipeline.line(decl.location.line),
            )
        self.error_sink = {name: self._error_sink_for(name) for name in self.sources}
        lateness = {n: int(s.options.allowed_lateness * 1_000_000) for n, s in self.sources.items()}
        self.engine = Engine(
            self.plan, self._on_output, self._on_reject, lateness, state_memory=self.settings.state_memory
        )
        self.summary = RunSummary(pipeline.name, sources={n: SourceStats() for n in self.sources})
        self.checkpoints = CheckpointCoordinator(self, store, self.settings.checkpoint_interval) if store else None
        self.metrics = Metrics()
        bind_reporters(self.metrics, self.sources, self.sinks)
        self.started: float | None = None
        # A CDC table's EMIT CHANGES reports per micro-batch: its feed's batches stay as read,
        # so its changelog does not depend on how far behind the engine was.
        self._joinable = frozenset(n for n in self.sources if n not in pipeline.tables)
        self._observed_at = 0.0
        self._late_log = LateRecordLog(logging.getLogger("flowsql"))
        self._pushing: SourceBatch | None = None
        self._query_failure_log = QueryFailureLog(logging.getLogger("flowsql"))

    def fingerprint(self) -> str:
        """What a checkpoint of this pipeline depends on: schemas, queries, windows, outputs."""
        return pipeline_fingerprint(
            {
                "sources": {
                    n: [str(s.schema), str((self.pipeline.sources.get(n) or self.pipeline.tables[n]).watermark)]
                    for n, s in self.sources.items()
                },
                "queries": [
                    [
                        op.input,
                        op.target,
                        op.template,
                        repr(op.window),
                        repr(op.preaggregate),
                        *([repr(op.decl.emit)] if op.decl.emit else []),
                    ]
                    for op in self.plan.operators
                ],
                "sinks": {n: str(s.schema) for n, s in self.sinks.items()},
            }
        )

    # -- wiring ------------------------------------------------------------------------------
    def _root_source(self, stream: str) -> str:
        for op in self.plan.operators:
            if op.decl.is_view and op.target.lower() == stream.lower():
                return self._root_source(op.input)
        return next(n for n in self.sources if n.lower() == stream.lower())

    def _error_sink_for(self, source: str) -> Sink | None:
        """A source's bad records go to the error output of the first sink it feeds."""
        for op in self.plan.operators:
            if not op.decl.is_view and self._root_source(op.input) == source:
                return next(s for n, s in self.sinks.items() if n.lower() == op.target.lower())
        return None

    def _on_output(self, sink: str, rows: pa.Table) -> None:
        target = next(s for n, s in self.sinks.items() if n.lower() == sink.lower())
        target.add(rows)

    def _on_reject(self, op: OperatorPlan, rejected: Rejected) -> None:
        code, reason, rows = rejected
        source = self._root_source(op.input)
        if code == QUERY_FAILED:
            reason = self._query_failed(op, source, reason, rows)
        records = self._turned_away(source, code, reason, rows)
        sink = self.error_sink.get(source)
        if code == "late":
            self.summary.late += len(records)
            self.metrics.inc("flowsql_late_records_total", len(records), source=source)
            self._late_log.dropped(source, op.target, len(records), reason, sink.name if sink else None)
        if sink is not None:
            sink.add_errors(records)

    def _turned_away(self, source: str, code: str, reason: str, rows: pa.Table) -> list[BadRecord]:
        """Error records of rows the engine turned away: the records as read (bytes and position)
        when the rows are the batch being pushed, else their values as JSON."""
        batch = self._pushing
        if batch is not None and batch.source == source and batch.origins is not None:
            found = find_rows(batch.table, rows)
            try:
                originals = batch.origins.records(found) if found is not None else None
            except LookupError:  # part of a joined batch came without origins
                originals = None
            if originals is not None:
                return [BadRecord(source, code, reason, raw, position) for raw, position in originals]
        return [BadRecord(r.source, code, r.message, r.raw, r.position) for r in late_records(source, rows, reason)]

    def _query_failed(self, op: OperatorPlan, source: str, reason: str, rows: pa.Table) -> str:
        """Rows a query failed on count as the source's errors; with `on_query_error = 'fail'`
        the first one ends the run, before anything after it is delivered. Returns the error
        output's message: which query, and why."""
        if self.settings.on_query_error == "fail":
            record = late_records(source, rows.slice(0, 1), reason)[0].raw.decode()
            raise QueryError(
                f"{query_place(op)} failed on a record of source '{source}': {reason}\n"
                f"    record: {record}\n"
                "hint: SET on_query_error = 'skip' sends such records to the error output and goes on"
            )
        self.summary.sources[source].errors += rows.num_rows
        self._query_failure_log.failed(
            source, f"the query into '{op.target}' ({op.decl.location})", rows.num_rows, reason
        )
        return f"the query into '{op.target}' failed: {reason}"

    # -- running -----------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None, until_caught_up: bool = False) -> RunSummary:
        # A flush blocked in a destination's retries keeps sampling the run's state, so the
        # status and /metrics stay live through an outage (delivery/retry.py).
        with while_waiting(self._observe):
            return self._run(stop, until_caught_up)

    def _run(self, stop: threading.Event | None, until_caught_up: bool) -> RunSummary:
        stop = stop or threading.Event()
        for front_end in front_ends():  # what they load at run time only (reference data)
            front_end.prepare(self.pipeline)
        if self.checkpoints is not None:
            state = self.checkpoints.recover()
            if state is not None:
                self.summary.resumed_epoch = state.epoch
        for source in self.sources.values():
            source.stop_when_caught_up = until_caught_up
        inbox: queue.Queue[tuple[str, str, Any]] = queue.Queue(maxsize=_QUEUE_DEPTH)
        readers = [
            threading.Thread(target=_read_source, args=(source, inbox, stop), name=f"source-{name}", daemon=True)
            for name, source in self.sources.items()
        ]
        started = self.started = time.monotonic()
        self._observe(force=True)  # the first figures exist before anything can block
        for reader in readers:
            reader.start()
        remaining = set(self.sources)
        try:
            while remaining and not stop.is_set():
                try:
                    first = inbox.get(timeout=self._wait_time())
                except queue.Empty:
                    first = ("idle", "", None)
                for kind, name, payload in _coalesced(first, inbox, self._joinable):
                    if kind == "batch":
                        self._process(payload)
                    elif kind == "end":
                        remaining.discard(name)
                        self.summary.sources[name].finished = True
                        self.engine.finish(name)
                    elif kind == "error":
                        raise payload
                self._tick()
                self._flush_due()
                if self.checkpoints is not None and self.checkpoints.due():
                    self.checkpoints.commit()
                self._observe()
        finally:
            stop.set()
            for reader in readers:
                _drain_until_done(reader, inbox)
        self.summary.stopped_early = bool(remaining)
        for name, source in self.sources.items():
            self.summary.sources[name].lag_millis = source.lag()
        self.summary.open_window_rows = self.engine.buffered_rows()
        self.flush_all()
        self._late_log.flush()
        if self.checkpoints is not None:
            self.checkpoints.finish()
        self.summary.elapsed = time.monotonic() - started
        self.summary.sinks = {n: vars(s.stats).copy() for n, s in self.sinks.items()}
        self._observe(force=True)
        return self.summary

    def _observe(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._observed_at >= _OBSERVE_INTERVAL:
            self._observed_at = now
            sample_run(self)

    def _process(self, batch: SourceBatch) -> None:
        stats = self.summary.sources[batch.source]
        stats.events += batch.table.num_rows + len(batch.errors)
        stats.bytes += batch.raw_bytes
        if batch.errors:
            stats.errors += len(batch.errors)
            sink = self.error_sink.get(batch.source)
            if sink is not None:
                sink.add_errors(batch.errors)
        # Rows the engine turns away from this batch are found in it, to go out as they were read.
        self._pushing = batch
        try:
            self.engine.push(batch.source, batch.table, batch.progress)
        finally:
            self._pushing = None
        if self.checkpoints is not None:
            self.checkpoints.note_position(batch.source, batch.position)

    def _tick(self) -> None:
        now_us = int(time.time() * 1_000_000)
        for name, source in self.sources.items():
            if source.live:
                self.engine.tick(name, now_us)

    def _wait_time(self) -> float:
        now = time.monotonic()
        waits = [_IDLE_TICK]
        for sink in self.sinks.values():
            left = sink.buffer.seconds_to_due(now)
            if left is not None:
                waits.append(left)
        return max(0.01, min(waits))

    def _flush_due(self) -> None:
        now = time.monotonic()
        for sink in self.sinks.values():
            if sink.due(now):
                sink.flush()

    def flush_all(self) -> None:
        for sink in self.sinks.values():
            sink.flush()


def _stream_schema(source: Source) -> pa.Schema:
    schema = source.schema
    if ARRIVAL_TIME not in schema.names:
        schema = schema.append(pa.field(ARRIVAL_TIME, pa.timestamp("us")))
    return schema


def _read_source(source: Source, inbox: queue.Queue[tuple[str, str, Any]], stop: threading.Event) -> None:
    try:
        for batch in source.read(stop):
            _put(inbox, ("batch", source.name, batch), stop)
            if stop.is_set():
                return
        if not stop.is_set():
            _put(inbox, ("end", source.name, None), stop)
    except FlowsqlError as exc:
        _put(inbox, ("error", source.name, exc), stop)
    except Exception as exc:  # a reader must never die silently: the run would wait forever
        error = SourceError(f"source '{source.name}' failed: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        _put(inbox, ("error", source.name, error), stop)


def _coalesced(
    first: tuple[str, str, Any], inbox: queue.Queue[tuple[str, str, Any]], joinable: frozenset[str]
) -> list[tuple[str, str, Any]]:
    """The adaptive micro-batch: when the engine is behind, the batches waiting in the queue
    join the one taken into one micro-batch (fewer, larger queries); when it keeps up, each
    batch runs alone as it comes, for latency. Order is kept; only neighbours of one source join."""
    items = [first]
    while len(items) <= _QUEUE_DEPTH:
        try:
            items.append(inbox.get_nowait())
        except queue.Empty:
            break
    out: list[tuple[str, str, Any]] = []
    for item in items:
        last = out[-1] if out else None
        if (
            item[0] == "batch"
            and item[1] in joinable
            and last is not None
            and last[0] == "batch"
            and last[1] == item[1]
            and last[2].table.num_rows + item[2].table.num_rows <= _MICRO_BATCH_ROWS
            and last[2].table.schema.equals(item[2].table.schema)
        ):
            out[-1] = ("batch", item[1], _joined(last[2], item[2]))
        else:
            out.append(item)
    return out


def _joined(earlier: SourceBatch, later: SourceBatch) -> SourceBatch:
    """Two batches of one source as one; the position is the later one's (positions are whole)."""
    table = pa.concat_tables([earlier.table, later.table]) if earlier.table.num_rows else later.table
    origins = JoinedOrigins([(earlier.table.num_rows, earlier.origins), (later.table.num_rows, later.origins)])
    return SourceBatch(
        later.source,
        table,
        earlier.errors + later.errors,
        later.position,
        earlier.raw_bytes + later.raw_bytes,
        later.progress,
        origins,
    )


def _put(inbox: queue.Queue[tuple[str, str, Any]], item: tuple[str, str, Any], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            inbox.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _drain_until_done(reader: threading.Thread, inbox: queue.Queue[tuple[str, str, Any]]) -> None:
    deadline = time.monotonic() + 5.0
    while reader.is_alive() and time.monotonic() < deadline:
        try:
            inbox.get_nowait()
        except queue.Empty:
            reader.join(0.05)
