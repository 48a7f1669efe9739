"""`flowsql explain`: what a pipeline will do, in words and in the SQL DuckDB runs."""

from __future__ import annotations

from flowsql.delivery.buffer import Buffering
from flowsql.delivery.prefix import Prefix
from flowsql.delivery.sink import ObjectSink
from flowsql.engine.planner import FrontEndQuery
from flowsql.engine.preaggregate import session_partials_sql
from flowsql.engine.windows import assignment_sql
from flowsql.runner import PipelineRun
from flowsql.sources.base import SourceOptions, csv_format_of


def _format(options: SourceOptions) -> str:
    if options.format != "csv":
        return "json"
    form = csv_format_of(options)
    by = "header names" if form.header else "position"
    return (
        f"csv (delimiter {form.delimiter!r}, records end with {form.record_delimiter!r}, quote {form.quote!r}, "
        f"escape {form.escape or 'doubled quote'!r}, null {form.null_string!r}, columns by {by})"
    )


def explain_text(run: PipelineRun) -> str:
    pipeline = run.pipeline
    out = [f"pipeline {pipeline.name} ({pipeline.path})", "", "sources:"]
    for name, source in run.sources.items():
        decl = pipeline.sources.get(name) or pipeline.tables[name]
        kind = "bounded" if source.bounded else "unbounded"
        out.append(f"  {name}: connector={source.options.connector}, {kind}, format={_format(source.options)}")
        for field in source.schema:
            out.append(f"    {field.name} {field.type}")
        if name in pipeline.tables:
            table = pipeline.tables[name]
            out.append(
                f"    CDC table: format {table.option('format')}, primary key ({', '.join(table.primary_key)}); "
                f"these are its change events, queries without a window read its current state"
            )
        if decl.watermark:
            out.append(f"    watermark: {decl.watermark.column} - {decl.watermark.delay_seconds:g} s")
        else:
            out.append("    no watermark: windows use arrival_time")
        out += [f"    {line}" for line in source.explain_lines()]
        if source.options.allowed_lateness:
            out.append(f"    allowed lateness: {source.options.allowed_lateness:g} s")
    if pipeline.functions:
        out += ["", "functions:"]
        out += [f"  {function.decl.location}: {function.signature()}" for function in pipeline.functions.values()]
    out += ["", "queries:"]
    for op in run.plan.operators:
        target = f"view {op.target}" if op.decl.is_view else f"sink {op.target}"
        out.append(f"  {op.decl.location}: {', '.join(op.all_inputs)} -> {target}")
        note = op.decl.note() if isinstance(op.decl, FrontEndQuery) else ""
        if note:
            out.append(f"    {note}")
        sql: list[tuple[str, str]] = []
        if op.kind == "report" and op.decl.emit is not None:
            emit = op.decl.emit
            policy = (
                f"a full snapshot every {emit.interval_seconds:g} s and at the end of the input"
                if emit.kind == "every"
                else "after each micro-batch, the groups whose result changed"
            )
            out.append(f"    report over the current state of table {op.input}: {policy}")
            sql.append(("duckdb sql", op.sql("<table>")))
        elif op.window:
            out.append(
                f"    window: {op.window.describe()}; each window is emitted once, when the "
                f"watermark of {op.window.time_column} passes its end"
            )
            pre = op.preaggregate
            if pre is not None and op.window.kind == "session":
                out.append(
                    "    state: partial aggregates per open session and key; a micro-batch merges into its keys' "
                    "sessions, a closed session's partials are merged into its result"
                )
                relation = f"({session_partials_sql('<partials>', op.window.gap_us)})"
                sql.append(("duckdb sql (fold each micro-batch)", op.sql_of(pre.partial_template, "<input>")))
                sql.append(("duckdb sql (merge a closing session)", op.sql_of(pre.final_template, relation)))
            elif pre is not None:
                out.append(
                    f"    state: partial aggregates per {pre.pane_us / 1_000_000:g} s pane and key, "
                    "merged when a window closes"
                )
                relation = f"({assignment_sql(pre.state_window(op.window), '<partials>', None, None)})"
                sql.append(("duckdb sql (fold each micro-batch)", op.sql_of(pre.partial_template, "<input>")))
                sql.append(("duckdb sql (merge a closing window)", op.sql_of(pre.final_template, relation)))
            elif op.window.kind == "session":
                out.append(
                    "    state: each key's open sessions (bounds, and rows) in DuckDB tables; a micro-batch "
                    "is merged into its keys' sessions, a closed session's rows are dropped"
                )
                sql.append(("duckdb sql (a closing session)", op.sql("<its rows, with window_start and window_end>")))
            else:
                out.append("    state: the raw rows of the open windows")
                sql.append(("duckdb sql", op.sql(f"({assignment_sql(op.window, '<input>', None, None)})")))
        elif op.inputs:
            out.append(
                f"    joins {len(op.inputs)} inputs: each keeps its rows while the other can still pair with them"
            )
            sql.append(("duckdb sql", op.sql("<input>")))
        else:
            out.append("    stateless: runs on every micro-batch")
            sql.append(("duckdb sql", op.sql("<input>")))
        out.append("    output: " + ", ".join(f"{f.name} {f.type}" for f in op.output_schema))
        out += [f"    {label}: {text}" for label, text in sql]
    out += ["", "sinks:"]
    for name, sink in run.sinks.items():
        line = f"  {name}: -> {sink.describe()}, {sink.buffering.describe()}"
        prefix = sink.prefix if isinstance(sink, ObjectSink) else None
        if prefix is not None:
            line += f", prefix {prefix.text!r}"
        out.append(line)
        out += [f"    {text}" for text in sink.explain_lines()]
        warning = tiny_files_warning(sink.buffering, prefix) if prefix is not None else None
        if warning:
            out.append(f"    warning: {warning}")
    return "\n".join(out)


TINY_INTERVAL = 60.0
TINY_SIZE = 1000**2


def tiny_files_warning(buffering: Buffering, prefix: Prefix) -> str | None:
    """Many small objects make Athena slow and S3 costly: say so when the buffer invites them."""
    interval, size = buffering.interval, buffering.size
    partitioned = bool(prefix.partition_keys)
    reasons = []
    if interval < TINY_INTERVAL and partitioned:
        reasons.append(
            f"buffer_interval {interval:g} s with a partitioned prefix writes one object per partition every interval"
        )
    elif interval < TINY_INTERVAL:
        reasons.append(f"buffer_interval {interval:g} s writes an object at least that often")
    if size < TINY_SIZE:
        reasons.append(f"buffer_size {size:,} bytes caps objects under 1 MB")
    if not reasons:
        return None
    return (
        "many tiny files: "
        + "; ".join(reasons)
        + " (Athena reads best from objects of 64 MB or more; see docs/athena.md)"
    )
