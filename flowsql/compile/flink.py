"""Compile a pipeline file into a Flink SQL job: one script (sources, sinks, views and one
statement set of inserts) and a README naming the connector jars and the differences.

The pipeline is planned as `flowsql run` plans it first, so a file that does not check here
does not compile either, and each sink's columns are DuckDB's own result types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from flowsql.compile.flink_common import FLINK_VERSION, FlinkTable, Jar, flink_duration, quote_name
from flowsql.compile.flink_queries import translate_query
from flowsql.compile.flink_sinks import SinkTable, sink_table
from flowsql.compile.flink_sources import source_table
from flowsql.compile.unsupported import UnsupportedError, unsupported
from flowsql.decode import arrow_schema
from flowsql.engine.planner import OperatorPlan, Plan, plan_pipeline
from flowsql.errors import ConfigError
from flowsql.pipeline.model import Pipeline, SourceDecl
from flowsql.records import ARRIVAL_TIME

SCRIPT_NAME = "job.sql"
# Flink refuses a checkpoint interval under 10 ms; a buffer_interval of 0 s flushes at once on
# flowsql, and on Flink files are finished at checkpoints, so the job checkpoints this often.
MIN_CHECKPOINT_INTERVAL = 1.0
README_NAME = "README.md"


@dataclass
class FlinkJob:
    pipeline: Pipeline
    script: str
    jars: list[Jar] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def write(self, directory: Path) -> list[Path]:
        from flowsql.compile.flink_readme import job_readme

        directory.mkdir(parents=True, exist_ok=True)
        script = directory / SCRIPT_NAME
        readme = directory / README_NAME
        script.write_text(self.script, encoding="utf-8")
        readme.write_text(job_readme(self, SCRIPT_NAME), encoding="utf-8")
        return [script, readme]


def compile_flink(pipeline: Pipeline) -> FlinkJob:
    """The Flink SQL job for `pipeline`; raises PipelineError/ConfigError (exit 2) on what Flink lacks."""
    for table in pipeline.tables.values():
        raise ConfigError(
            f"cannot compile for Flink: table '{table.name}' is a CDC table, which this "
            "compiler does not translate yet",
            table.location,
            pipeline.line(table.location.line),
            hint="run the pipeline with flowsql run",
        )
    for function in pipeline.functions.values():
        where = function.decl.location
        raise UnsupportedError(
            f"cannot compile for Flink: function '{function.name}' is Python ({function.decl.target}) that "
            "flowsql calls in its own process; this compiler does not write PyFlink functions",
            where,
            pipeline.line(where.line),
            hint="keep this pipeline on flowsql run, or wrap the function as a PyFlink UDF and declare it "
            "on Flink with CREATE TEMPORARY FUNCTION ... LANGUAGE PYTHON",
        )
    plan = plan_pipeline(pipeline, {name: _source_schema(s) for name, s in pipeline.sources.items()})
    roots = _root_sources(plan)
    on_arrival = {
        roots[op.input.lower()]
        for op in plan.operators
        if op.window is not None and op.window.time_column.lower() == ARRIVAL_TIME
    }
    sources = [
        source_table(decl, plan.streams[name.lower()].schema, name.lower() in on_arrival)
        for name, decl in pipeline.sources.items()
    ]
    sinks: dict[str, SinkTable] = {}
    for operator in plan.operators:
        if not operator.decl.is_view and operator.target.lower() not in sinks:
            sink_decl = next(s for n, s in pipeline.sinks.items() if n.lower() == operator.target.lower())
            sinks[operator.target.lower()] = sink_table(sink_decl, operator.output_schema)
    attributes = _time_attributes(pipeline, plan)
    views, inserts = [], []
    query_notes: list[str] = []
    view_queries: dict[str, list[str]] = {}  # a view several queries fill is their UNION ALL
    producers = {
        op.target.lower(): [o for o in plan.operators if o.decl.is_view and o.target.lower() == op.target.lower()]
        for op in plan.operators
        if op.decl.is_view
    }
    for index, operator in enumerate(plan.operators):
        decl = operator.decl
        if decl.is_view:
            query = translate_query(pipeline, decl, plan, attributes)
            query_notes += query.notes
            view_queries.setdefault(decl.target.lower(), []).append(query.sql)
            if operator is producers[decl.target.lower()][-1]:
                _check_read_after_filled(pipeline, plan, producers[decl.target.lower()], index)
                body = "\nUNION ALL\n".join(view_queries[decl.target.lower()])
                views.append(f"CREATE TEMPORARY VIEW {quote_name(decl.target)} AS\n{body}")
        else:
            sink = sinks[decl.target.lower()]
            query = translate_query(pipeline, decl, plan, attributes, sink.extra_columns)
            query_notes += query.notes
            inserts.append(f"INSERT INTO {quote_name(sink.name)}\n{query.sql}")
    tables: list[FlinkTable] = [*sources, *sinks.values()]
    jars = _unique_jars(tables)
    notes = [note for table in tables for note in table.notes] + query_notes
    intervals = [s.buffer_interval for s in sinks.values() if s.files]
    if intervals and min(intervals) < MIN_CHECKPOINT_INTERVAL:
        notes.append(
            f"buffer_interval = '{flink_duration(min(intervals))}' would be a checkpoint interval Flink "
            f"refuses or cannot keep; the job checkpoints every {flink_duration(MIN_CHECKPOINT_INTERVAL)}, "
            "so files are finished up to that long after their rows"
        )
    script = _script(pipeline, tables, views, inserts, list(sinks.values()))
    return FlinkJob(pipeline, script, jars, notes)


def _check_read_after_filled(pipeline: Pipeline, plan: Plan, producers: list[OperatorPlan], last: int) -> None:
    """A Flink view is defined once, with all its queries: no query may read it before the last
    of them."""
    first = plan.operators.index(producers[0])
    name = producers[0].target.lower()
    for operator in plan.operators[first:last]:
        if name in {n.lower() for n in operator.all_inputs}:
            raise unsupported(
                pipeline,
                operator.decl,
                None,
                f"'{producers[0].target}' is read before the last query that fills it",
                hint="keep this pipeline on flowsql run, or move the reading query below them",
            )


def _source_schema(decl: SourceDecl) -> pa.Schema:
    if decl.columns:
        schema = arrow_schema(decl.columns)
    elif (decl.option("connector") or "").lower() == "generator":
        from flowsql.sources.generator import CLICKSTREAM_SCHEMA

        schema = CLICKSTREAM_SCHEMA
    else:
        from flowsql.errors import ConfigError

        raise ConfigError(
            f"cannot compile for Flink: source '{decl.name}' declares no columns; a Flink table needs them",
            decl.location,
        )
    if ARRIVAL_TIME not in schema.names:
        schema = schema.append(pa.field(ARRIVAL_TIME, pa.timestamp("us")))
    return schema


def _root_sources(plan: Plan) -> dict[str, str]:
    """Each stream (lower case) → the source it reads from, following views."""
    roots = {name: name for name, stream in plan.streams.items()}
    for operator in plan.operators:
        if operator.decl.is_view:
            roots[operator.target.lower()] = roots.get(operator.input.lower(), operator.input.lower())
    return roots


def _time_attributes(pipeline: Pipeline, plan: Plan) -> dict[str, set[str]]:
    """Columns Flink can window on, per stream: the WATERMARK column, and arrival_time when the
    source makes it a time attribute (processing time, or Kinesis arrival without a watermark)."""
    attributes: dict[str, set[str]] = {}
    for name, decl in pipeline.sources.items():
        columns = set()
        if decl.watermark is not None:
            columns.add(decl.watermark.column.lower())
        if decl.watermark is None or (decl.option("connector") or "").lower() != "kinesis":
            columns.add(ARRIVAL_TIME)
        attributes[name.lower()] = columns
    for operator in plan.operators:
        if operator.decl.is_view and operator.window is None:
            kept = {c.lower() for c in operator.output_schema.names}
            attributes[operator.target.lower()] = attributes.get(operator.input.lower(), set()) & kept
    return attributes


def _unique_jars(tables: list[FlinkTable]) -> list[Jar]:
    seen: dict[str, Jar] = {}
    for table in tables:
        for jar in table.jars:
            seen.setdefault(jar.coordinates, jar)
    return list(seen.values())


def _script(
    pipeline: Pipeline, tables: list[FlinkTable], views: list[str], inserts: list[str], sinks: list[SinkTable]
) -> str:
    lines = [
        f"-- Flink SQL job for the pipeline '{pipeline.name}' ({pipeline.path.name}),",
        f"-- written by `flowsql compile --target flink`; for Flink {FLINK_VERSION} or later.",
        "-- The connector jars it needs are listed in README.md beside this file.",
        "",
        "-- Firehose-style folders and flowsql's windows are in UTC.",
        "SET 'table.local-time-zone' = 'UTC';",
        f"SET 'pipeline.name' = '{pipeline.name}';",
    ]
    intervals = [s.buffer_interval for s in sinks if s.files]
    if intervals:
        lines.append(
            "-- Parquet files are finished at checkpoints: checkpoint as often as the shortest buffer_interval."
        )
        interval = max(min(intervals), MIN_CHECKPOINT_INTERVAL)
        lines.append(f"SET 'execution.checkpointing.interval' = '{flink_duration(interval)}';")
    lines.append("")
    for statement in [*(t.ddl for t in tables), *views]:
        lines += [statement + ";", ""]
    if inserts:
        # One statement set: every insert runs in one job and shares the source reads.
        lines.append("EXECUTE STATEMENT SET")
        lines.append("BEGIN")
        for insert in inserts:
            lines += [insert + ";", ""]
        lines[-1] = "END;"
    return "\n".join(lines) + "\n"
