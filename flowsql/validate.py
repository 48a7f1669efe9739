"""The check before every run (and all of `flowsql validate`): everything a run does up to
reading data, with every error of the file collected and shown together.

Sources and sinks are built from their options, every query is planned through DuckDB, and each
operator runs once on one row of its input's declared types (times set, everything else null),
which binds and type-checks the SQL the operators run later: window emissions, pre-aggregation
folds and merges, and the operators of other front ends.
"""

from __future__ import annotations

import difflib
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlglot import exp

from flowsql.engine.isolation import failing_loudly
from flowsql.engine.operators import build_operator
from flowsql.engine.planner import OperatorPlan, Plan, plan_pipeline
from flowsql.engine.query_errors import duckdb_error, node_location, offset_location, statement_offset
from flowsql.engine.windows import FOREVER_US
from flowsql.errors import FlowsqlError, Location, PipelineError, PipelineErrors
from flowsql.options import Option, expand_environment
from flowsql.pipeline.functions import register_functions
from flowsql.pipeline.model import Pipeline, SinkDecl, SourceDecl, TableDecl
from flowsql.pipeline.parser import read_pipeline
from flowsql.records import ARRIVAL_TIME

_SAMPLE_TIME_US = 1_704_067_200_000_000  # 2024-01-01T00:00:00: any time works, windows need one


@dataclass
class Checked:
    """A pipeline that passed every check, with what the check learned of it."""

    pipeline: Pipeline
    plan: Plan


def check_pipeline(path: str | Path) -> Checked:
    """Parse and check the pipeline file; raises PipelineErrors with every problem found."""
    pipeline, errors = read_pipeline(path)
    schemas: dict[str, pa.Schema] = {}
    streams: list[tuple[str, SourceDecl | TableDecl]] = [*pipeline.sources.items(), *pipeline.tables.items()]
    for name, decl in streams:
        try:
            schemas[name] = _stream_schema(pipeline, decl)
        except PipelineError as exc:
            errors.extend(_each(exc))
    plan = Plan({}, [])
    try:
        plan = plan_pipeline(pipeline, schemas, collect=True)
    except PipelineError as exc:
        errors.extend(_each(exc))
    errors += _check_sinks(pipeline, plan, complete=not errors)
    if not errors:
        errors += _dry_run(pipeline, plan)
    if errors:
        raise PipelineErrors([_with_line(pipeline, e) for e in errors])
    return Checked(pipeline, plan)


def _with_line(pipeline: Pipeline, error: PipelineError) -> PipelineError:
    """The error with its line of the file quoted, when it names a place but not the text."""
    where = error.location
    if error.source_line is not None or where is None or where.path != str(pipeline.path):
        return error
    return PipelineError(error.message, where, pipeline.line(where.line), error.hint)


def _each(error: PipelineError) -> list[PipelineError]:
    return error.errors if isinstance(error, PipelineErrors) else [error]


# -- sources ---------------------------------------------------------------------------------
def _stream_schema(pipeline: Pipeline, decl: SourceDecl | TableDecl) -> pa.Schema:
    """The schema a source's stream has at run time; checks its options and its inputs."""
    from flowsql.cdc.source import create_change_source
    from flowsql.sources import create_source

    _check_connector(decl, _source_connectors())
    source = create_change_source(decl) if isinstance(decl, TableDecl) else create_source(decl)
    schema = source.schema
    if ARRIVAL_TIME not in schema.names:
        schema = schema.append(pa.field(ARRIVAL_TIME, pa.timestamp("us")))
    _check_watermark(pipeline, decl, schema)
    if isinstance(decl, SourceDecl) and (decl.option("connector") or "").lower() == "file":
        _check_files(decl)
    return schema


def _source_connectors() -> list[str]:
    from flowsql.sources import connector_names

    return connector_names()


def _sink_connectors() -> list[str]:
    from flowsql.delivery import connector_names

    return connector_names()


def _check_connector(decl: SourceDecl | TableDecl | SinkDecl, known: list[str]) -> None:
    option = _option(decl.options, "connector")
    if option is None or str(option.value).lower() in known or isinstance(decl, TableDecl):
        return
    close = difflib.get_close_matches(str(option.value).lower(), known, n=1, cutoff=0.5)
    what = "sink" if isinstance(decl, SinkDecl) else "source"
    raise PipelineError(
        f"unknown connector '{option.value}' for {what} '{decl.name}'",
        option.location,
        option.source_line,
        f"did you mean '{close[0]}'?" if close else "connectors: " + ", ".join(known),
    )


def _option(options: tuple[Option, ...], key: str) -> Option | None:
    return next((o for o in options if o.key.lower() == key), None)


def _check_watermark(pipeline: Pipeline, decl: SourceDecl | TableDecl, schema: pa.Schema) -> None:
    """Windows compare times: a WATERMARK column must hold timestamps (or dates)."""
    if decl.watermark is None:
        return
    field = next((f for f in schema if f.name.lower() == decl.watermark.column.lower()), None)
    if field is None or pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
        return
    raise PipelineError(
        f"the WATERMARK column '{field.name}' is {field.type}, not a timestamp",
        *_watermark_place(pipeline, decl),
        f"declare {field.name} TIMESTAMP (JSON text such as '2024-01-01T00:00:00' is read as a timestamp)",
    )


def _watermark_place(pipeline: Pipeline, decl: SourceDecl | TableDecl) -> tuple[Location, str]:
    """The watermark column's place in the declaration (found from the statement's start)."""
    start = statement_offset(pipeline, decl.location)
    match = re.compile(r"(?i)\bWATERMARK\s+FOR\s+").search(pipeline.text, start)
    where = offset_location(pipeline, match.end()) if match else decl.location
    return where, pipeline.line(where.line)


def _check_files(decl: SourceDecl) -> None:
    """A bounded file source must name at least one file now; a followed one may wait for them."""
    follow = str(decl.option("follow") or "false").lower() in ("true", "1", "yes", "on")
    option = _option(decl.options, "path")
    if follow or option is None:
        return
    try:
        path = str(expand_environment(option.value))
    except ValueError:
        return  # reported by the source's own option check
    if any(ch in path for ch in "*?["):
        if glob.glob(path, recursive=True):
            return
    elif os.path.exists(path):
        return
    folder = os.path.dirname(path) or "."
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    close = difflib.get_close_matches(os.path.basename(path), names, n=1)
    hint = (
        f"did you mean '{os.path.join(os.path.dirname(path), close[0])}'?"
        if close
        else f"paths are read from the folder flowsql runs in ({os.getcwd()}); "
        "set follow = true to wait for files that are not there yet"
    )
    raise PipelineError(
        f"source '{decl.name}': path '{path}' matches no file", option.location, option.source_line, hint
    )


# -- sinks -----------------------------------------------------------------------------------
def _check_sinks(pipeline: Pipeline, plan: Plan, complete: bool) -> list[PipelineError]:
    """Each sink built from its options for the columns its queries give, as the run builds it;
    with every query `complete`ly planned, a sink no query writes is an error too."""
    from flowsql.delivery import create_sink

    errors: list[PipelineError] = []
    written: dict[str, OperatorPlan] = {}
    for op in plan.operators:
        if op.decl.is_view:
            continue
        duplicate = _duplicate_name(op.output_schema)
        if duplicate:
            errors.append(_duplicate_error(pipeline, op, duplicate))
            continue
        decl = next(d for n, d in pipeline.sinks.items() if n.lower() == op.target.lower())
        first = written.setdefault(decl.name, op)
        if first is not op and first.output_schema != op.output_schema:
            errors.append(
                _query_error(
                    pipeline,
                    op,
                    f"two queries write to sink '{decl.name}' with different "
                    f"columns: {_columns(first.output_schema)} and {_columns(op.output_schema)}",
                )
            )
    # A sink some INSERT names is not unused even when that INSERT failed (its error is shown).
    named = {d.target.lower() for d in pipeline.inserts} | pipeline.unparsed
    for name, decl in pipeline.sinks.items():
        try:
            _check_connector(decl, _sink_connectors())
            if name in written:
                create_sink(decl, pipeline.name, written[name].output_schema)
        except FlowsqlError as exc:
            errors += _each(exc) if isinstance(exc, PipelineError) else [_at(pipeline, decl, str(exc))]
        if complete and name not in written and name.lower() not in named:
            errors.append(_at(pipeline, decl, f"sink '{decl.name}' is declared but no INSERT INTO writes to it"))
    return errors


def _duplicate_name(schema: pa.Schema) -> str | None:
    seen: set[str] = set()
    for name in schema.names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _duplicate_error(pipeline: Pipeline, op: OperatorPlan, name: str) -> PipelineError:
    """Placed at the second output of that name (a sink's columns are named once each)."""
    query = op.decl.query
    outputs = [e for e in query.expressions if e.alias_or_name == name] if isinstance(query, exp.Select) else []
    where = node_location(pipeline, outputs[1]) if len(outputs) > 1 else None
    where = where or op.decl.location
    return PipelineError(
        f"the query gives the column '{name}' twice",
        where,
        pipeline.line(where.line),
        f"name each column once, for example: {name} AS {name}_2",
    )


def _columns(schema: pa.Schema) -> str:
    return "(" + ", ".join(f"{f.name} {f.type}" for f in schema) + ")"


# -- one row through every operator ----------------------------------------------------------
def _dry_run(pipeline: Pipeline, plan: Plan) -> list[PipelineError]:
    errors: list[PipelineError] = []
    con = register_functions(duckdb.connect(), plan.functions)
    try:
        for op in plan.operators:
            if op.kind == "report":  # planned on the table's state schema already
                continue
            try:
                with failing_loudly():
                    _run_once(op, plan, con)
            except duckdb.Error as exc:
                errors.append(duckdb_error(pipeline, op.decl, exc))
            except (pa.ArrowException, ValueError, TypeError, KeyError) as exc:
                errors.append(
                    _query_error(
                        pipeline, op, f"the query fails on a row of its input's types: {type(exc).__name__}: {exc}"
                    )
                )
    finally:
        con.close()
    return errors


def _run_once(op: OperatorPlan, plan: Plan, con: duckdb.DuckDBPyConnection) -> None:
    """Build the operator as the engine does and put one row through it, closing its windows."""
    operator = build_operator(op, con)
    samples = [_sample_row(plan.streams[name.lower()].schema) for name in op.all_inputs]
    if op.inputs:
        for position, sample in enumerate(samples):
            operator.push_input(position, sample)
        operator.advance_inputs([FOREVER_US] * len(samples))
    else:
        operator.push(samples[0])
        operator.advance(FOREVER_US)


def _sample_row(schema: pa.Schema) -> pa.Table:
    columns = []
    for field in schema:
        if pa.types.is_timestamp(field.type):
            unit_scale = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0}[field.type.unit]
            value = _SAMPLE_TIME_US // unit_scale if unit_scale else _SAMPLE_TIME_US * 1000
            columns.append(pa.array([value], pa.int64()).cast(field.type))
        else:
            columns.append(pa.nulls(1, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


# -- places ----------------------------------------------------------------------------------
def _query_error(pipeline: Pipeline, op: OperatorPlan, message: str, hint: str | None = None) -> PipelineError:
    where = op.decl.location
    return PipelineError(message, where, pipeline.line(where.line), hint)


def _at(pipeline: Pipeline, decl: SinkDecl, message: str) -> PipelineError:
    return PipelineError(message, decl.location, pipeline.line(decl.location.line))


__all__ = ["Checked", "check_pipeline"]
