"""A KDA pump as a flowsql query: ROWTIME to the stream's time column, the STEP/FLOOR group
on a time column to the foundation's TUMBLE, KDA functions to DuckDB, and the SELECT list
cast and named as the target stream's columns."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import sqlglot
from sqlglot import exp

from flowsql.errors import Location, PipelineError
from flowsql.kda.division import integer_division
from flowsql.kda.functions import TIME_UNITS, FunctionError, floor_unit, interval_us, rewrite_functions
from flowsql.kda.model import WINDOW_END, KdaApplication, KdaStream, PumpDecl
from flowsql.kda.parser import kda_name
from flowsql.kda.rcf import expand_random_cut_forest, typed_input
from flowsql.kda.tumbling_items import expand_tumbling_items
from flowsql.pipeline.model import Column, Pipeline
from flowsql.records import ARRIVAL_TIME

if TYPE_CHECKING:
    from flowsql.engine.operators import OperatorFactory
    from flowsql.kda.sliding import SlidingSpec
    from flowsql.kda.stagger import StaggerSpec

_SYSTEM_COLUMNS = {ARRIVAL_TIME, "window_start", WINDOW_END}


@dataclass(frozen=True)
class _Bucket:
    """A STEP/FLOOR grouping expression on a time column."""

    node: exp.Expression
    column: str
    size_us: int
    interval: exp.Interval


def node_error(
    pipeline: Pipeline, node: exp.Expression | None, message: str, fallback: Location, hint: str | None = None
) -> PipelineError:
    """An error placed at `node` (its first identifier carries sqlglot's position)."""
    location = fallback
    candidates = [node] if node is not None else []
    if node is not None:
        candidates += list(node.find_all(exp.Identifier))
    for candidate in candidates:
        meta = candidate.meta
        if "start" in meta:
            start = int(meta["start"])
            line = pipeline.text.count("\n", 0, start) + 1
            location = Location(str(pipeline.path), line, start - pipeline.text.rfind("\n", 0, start))
            break
    return PipelineError(message, location, pipeline.line(location.line), hint)


class _Pump:
    """The translation of one pump; `fail` raises at a node of its query."""

    def __init__(self, pipeline: Pipeline, app: KdaApplication, name: str, location: Location) -> None:
        self.pipeline, self.app, self.name, self.location = pipeline, app, name, location

    def fail(self, node: exp.Expression | None, message: str, hint: str | None = None) -> PipelineError:
        return node_error(self.pipeline, node, message, self.location, hint)


@dataclass(frozen=True)
class _Target:
    """The stream a pump inserts into: its node in the query, its declaration, the sink it is
    bound to (None for an in-application stream) and the INSERT's column list, if any."""

    node: exp.Expression
    stream: KdaStream
    sink: str | None
    listed: list[str] | None


@dataclass
class _Shape:
    """How a single-input pump runs: the column that carries its output ROWTIME, the words
    `explain` shows, and the KDA window operator it needs (at most one)."""

    system: str
    how: str
    stagger: StaggerSpec | None = None
    bucket: _Bucket | None = None
    sliding: SlidingSpec | None = None


def translate_pump(
    pipeline: Pipeline,
    app: KdaApplication,
    pump: str,
    insert: exp.Insert,
    location: Location,
    text: str,
    join_windows: dict[int, int | None] | None = None,
) -> PumpDecl:
    """One pump (one UNION ALL branch) as a flowsql query, by a pass per concern."""
    work = _Pump(pipeline, app, pump, location)
    target = _resolve_target(work, insert)
    query = insert.expression
    if not isinstance(query, exp.Select):
        raise work.fail(query, "a pump must insert SELECT STREAM ..., or SELECT STREAMs joined by UNION ALL")
    query, forest = expand_random_cut_forest(work, query)
    query = expand_tumbling_items(work, query)
    tables = _stream_tables(work, query)
    if len(tables) == 2:
        from flowsql.kda.stream_join import translate_join

        join = translate_join(work, query, tables, join_windows or {}, target.stream, target.listed, target.sink)
        _fill(work, target.node, target.stream, target.sink, join.rowtime, tables)
        return PumpDecl(
            target=target.sink or target.stream.name,
            is_view=target.sink is None,
            query=query,
            location=location,
            text=text,
            pump=pump,
            translation=join.describe(),
            factory=join,
            planner=join,
        )
    input_table = _single_input(work, query, tables, join_windows or {})
    _bind_references(app, query, input_table)
    input_name = input_table.name
    rowtime = _input_rowtime(work, input_name, input_table)
    columns = _input_columns(work, input_name)
    _rename_system_columns(query, rowtime, any(s.lower() == input_name.lower() for s in pipeline.sources))
    _expand_stars(work, query, columns)
    _unwrap_monotonic(query)
    shape = _window_shape(work, query, input_table, rowtime)
    _rewrite_expressions(work, query, shape, input_table, rowtime, columns)
    _project(
        work,
        query,
        target.stream,
        target.listed,
        None if target.sink else shape.system,
        aggregated=shape.stagger is not None,
    )
    how, factory = _finish_operator(work, query, shape, input_name, None if target.sink else shape.system)
    if forest is not None:
        operator_sql = forest.finish(work, query, input_name, typed_input(columns, rowtime))
        how, factory = forest.describe() + "; duckdb sql per batch: " + operator_sql, forest
    _fill(work, target.node, target.stream, target.sink, shape.system, [input_table])
    return PumpDecl(
        target=target.sink or target.stream.name,
        is_view=target.sink is None,
        query=query,
        location=location,
        text=text,
        pump=pump,
        translation=how,
        factory=factory,
    )


def _resolve_target(work: _Pump, insert: exp.Insert) -> _Target:
    """`INSERT INTO "S" [(cols)]`: the declared stream, and the sink of its name if there is one."""
    node, listed = insert.this, None
    if isinstance(node, exp.Schema):
        listed = [kda_name(c.this if isinstance(c, exp.Column) else c) for c in node.expressions]
        node = node.this
    name = kda_name(node.this) if isinstance(node, exp.Table) else ""
    stream = work.app.streams.get(name.lower())
    if stream is None:
        raise work.fail(node, f"the pump inserts into '{name}', which no CREATE OR REPLACE STREAM declares")
    sink = next((n for n in work.pipeline.sinks if n.lower() == name.lower()), None)
    return _Target(node, stream, sink, listed)


def _single_input(
    work: _Pump, query: exp.Select, tables: list[exp.Table], join_windows: dict[int, int | None]
) -> exp.Table:
    """The one stream a pump that joins no other stream reads; refuses what only joins may do
    and what no pump may (setting ROWTIME)."""
    windowed = [t for t in tables if _offset(t) in join_windows]
    if windowed:
        raise work.fail(
            windowed[0],
            "a window on a stream in FROM belongs to a stream-to-stream join",
            "join two streams, or aggregate over a window with OVER in the SELECT list",
        )
    for item in query.expressions:
        if isinstance(item, exp.Alias) and item.alias.upper() == "ROWTIME":
            raise work.fail(
                item.args.get("alias"),
                "setting ROWTIME with `AS ROWTIME` is not supported by flowsql's KDA front end",
                "window on the event-time column with a WATERMARK on the source instead",
            )
    return tables[0]


def _bind_references(app: KdaApplication, query: exp.Select, input_table: exp.Table) -> None:
    """Each reference table read by the pump becomes the relation that reads its file."""
    for table in list(query.find_all(exp.Table)):
        reference = app.references.get(table.name.lower())
        if reference is not None and table is not input_table:
            table.replace(reference.relation(table.alias or table.name))


def _input_rowtime(work: _Pump, input_name: str, input_table: exp.Table) -> str:
    """The column that holds the input's ROWTIME; a stream no pump has filled yet has none."""
    rowtime = work.app.rowtime_of(work.pipeline, input_name)
    if rowtime is None and any(n.lower() == input_name.lower() for n in work.pipeline.sinks):
        raise work.fail(
            input_table,
            f"the stream '{input_name}' is bound to a sink and read before any pump fills it",
            "declare a pump that fills it earlier in the file",
        )
    if rowtime is None:
        raise work.fail(
            input_table,
            f"the stream '{input_name}' is read before any pump fills it",
            "declare the pump that fills it earlier in the file",
        )
    return rowtime


def _window_shape(work: _Pump, query: exp.Select, input_table: exp.Table, rowtime: str) -> _Shape:
    """Stagger, tumbling (the query turned to TUMBLE), sliding, or per row, in that order."""
    from flowsql.kda.sliding import prepare_sliding
    from flowsql.kda.stagger import prepare_stagger

    stagger = prepare_stagger(work, query, rowtime)
    if stagger is not None:
        return _Shape(rowtime, stagger.describe(), stagger=stagger)
    bucket = _window_bucket(work, query, input_table.name, rowtime)
    if bucket is not None:
        _to_tumble(query, input_table, bucket, rowtime)
        how = f"tumbling window: STEP/FLOOR of {bucket.column} by {bucket.size_us / 1e6:g} s -> TUMBLE"
        return _Shape(WINDOW_END, how, bucket=bucket)
    sliding = prepare_sliding(work, query, rowtime)
    return _Shape(rowtime, sliding.describe() if sliding else "per row: runs on every micro-batch", sliding=sliding)


def _rewrite_expressions(
    work: _Pump, query: exp.Select, shape: _Shape, input_table: exp.Table, rowtime: str, columns: list[Column]
) -> None:
    """The expression rules: KDA's aggregates, columns, division and functions in DuckDB's terms."""
    windowed = shape.stagger is not None or shape.bucket is not None
    if windowed:
        _first_last_as_aggregates(query, rowtime)
    _refuse_shard_id(work, query, columns)
    integer_division(query, columns)
    try:
        rewrite_functions(query)
    except FunctionError as exc:
        raise work.fail(exc.node, str(exc)) from None
    _check_functions(work, query)
    if not windowed:
        _carry_time_through_subqueries(query, input_table, rowtime)


def _finish_operator(
    work: _Pump, query: exp.Select, shape: _Shape, input_name: str, system: str | None
) -> tuple[str, OperatorFactory | None]:
    """The SQL a sliding or stagger operator runs, and the words `explain` shows for it."""
    if shape.sliding is not None:
        return shape.how + "; duckdb sql per batch: " + shape.sliding.finish(query, input_name), shape.sliding
    if shape.stagger is not None:
        operator_sql = shape.stagger.finish(query, input_name, system)
        return shape.stagger.describe() + "; duckdb sql per closed window: " + operator_sql, shape.stagger
    return shape.how, None


def _unwrap_monotonic(query: exp.Select) -> None:
    """MONOTONIC(x) only tells KDA that x never decreases (so a GROUP BY on it can close): it is x."""
    for node in list(query.find_all(exp.Anonymous)):
        if str(node.this).upper() == "MONOTONIC" and len(node.expressions) == 1:
            node.replace(node.expressions[0])


def _first_last_as_aggregates(query: exp.Select, rowtime: str) -> None:
    """FIRST_VALUE(x) / LAST_VALUE(x) with no OVER in a window's SELECT are KDA aggregates:
    the value of the window's first / last row by ROWTIME."""
    for node in list(query.find_all(exp.FirstValue, exp.LastValue)):
        if isinstance(node.parent, exp.Window):
            continue
        function = "first" if isinstance(node, exp.FirstValue) else "last"
        node.replace(sqlglot.parse_one(f'{function}({node.this.sql("duckdb")} ORDER BY "{rowtime}")', read="duckdb"))


def _carry_time_through_subqueries(query: exp.Select, table: exp.Table, rowtime: str) -> None:
    """A per-row pump whose stream is read in a FROM subquery: each SELECT between the stream
    and the pump's own passes the row's time on, for a ROWTIME above it and for the target's."""
    inner = table.find_ancestor(exp.Select)
    while inner is not None and inner is not query:
        names = {name.lower() for name in inner.named_selects}
        if (
            rowtime.lower() not in names
            and not inner.args.get("group")
            and not any(isinstance(e, exp.Star) for e in inner.expressions)
        ):
            inner.select(exp.column(rowtime), copy=False)
        inner = inner.parent.find_ancestor(exp.Select) if inner.parent is not None else None


def _refuse_shard_id(work: _Pump, query: exp.Select, columns: list[Column]) -> None:
    """SHARD_ID is a column of the input only when the Kinesis source fills one (`shard_column`)."""
    if any(c.name.upper() == "SHARD_ID" for c in columns):
        return
    for column in query.find_all(exp.Column):
        if column.name.upper() == "SHARD_ID" and not column.this.quoted:
            raise work.fail(
                column,
                "SHARD_ID is not a column of this pump's input: only a Kinesis source gives "
                "each row's shard, in a column it is asked to fill",
                "declare \"SHARD_ID\" VARCHAR on the Kinesis source with shard_column = 'SHARD_ID'",
            )


def _fill(
    work: _Pump, target_node: exp.Expression, stream: KdaStream, sink: str | None, system: str, inputs: list[exp.Table]
) -> None:
    """Note that a pump fills `stream`; pumps into one in-application stream must agree on
    which column carries its ROWTIME, and none may read what the stream itself feeds."""
    key = stream.name.lower()
    sources: set[str] = set()
    for table in inputs:
        sources |= {table.name.lower()} | work.app.upstream.get(table.name.lower(), set())
        if key in sources:
            raise work.fail(
                table,
                f"the pump reads '{table.name}', which is filled from '{stream.name}': "
                "its rows would go round in a loop",
            )
    work.app.upstream[key] = work.app.upstream.get(key, set()) | sources
    if sink is None and key in work.app.filled and stream.rowtime != system:
        raise work.fail(
            target_node,
            f"the pumps into '{stream.name}' give its ROWTIME differently: "
            f"{_timing(stream.rowtime)} from the pump above, {_timing(system)} from this one",
            "give this pump its own stream, or bind the stream to a sink",
        )
    work.app.filled.add(key)
    if sink is None:
        work.app.streams[key] = KdaStream(stream.name, stream.columns, stream.location, system)


def _offset(table: exp.Table) -> int | None:
    """Where the table's name starts in the file (as the parser's tokens say)."""
    meta = table.this.meta if isinstance(table.this, exp.Identifier) else {}
    return int(meta["start"]) if "start" in meta else None


def _timing(rowtime: str | None) -> str:
    return "window ends" if rowtime == WINDOW_END else f"per-row times ({rowtime})"


@functools.cache
def _duckdb_functions() -> frozenset[str]:
    with duckdb.connect() as con:
        rows = con.sql("SELECT DISTINCT lower(function_name) FROM duckdb_functions()").fetchall()
    return frozenset(r[0] for r in rows)


def _check_functions(work: _Pump, query: exp.Select) -> None:
    """A call that is neither a KDA function flowsql translates nor a DuckDB function is
    named here, at its place in the file, instead of by DuckDB with no place."""
    for call in query.find_all(exp.Anonymous):
        name = str(call.this)
        if name.lower() not in _duckdb_functions() and name.upper() not in ("TUMBLE",):
            raise work.fail(
                call,
                f"function {name.upper()} is not supported by flowsql's KDA front end",
                "see docs/kda-migration.md for the supported functions",
            )


def _stream_tables(work: _Pump, query: exp.Select) -> list[exp.Table]:
    """The pump's stream inputs: one, or the two sides of a stream-to-stream join."""
    known = {s.lower() for s in work.pipeline.sources} | set(work.app.streams)
    streams = []
    for table in query.find_all(exp.Table):
        if isinstance(table.this, exp.Anonymous):
            raise work.fail(table, f"table function {table.this.this} is not supported in a pump")
        if table.name.lower() in known:
            streams.append(table)
        elif table.name.lower() not in work.app.references:
            raise work.fail(table, f"no stream or reference table is named '{table.name}'")
    if not streams:
        raise work.fail(query, "the pump reads no stream")
    if len(streams) > 2:
        raise work.fail(streams[2], "a pump joins at most two streams", "join a third in a further pump")
    return streams


def _rename_system_columns(query: exp.Select, rowtime: str, is_source: bool) -> None:
    for column in list(query.find_all(exp.Column)):
        name = column.name.upper()
        if name == "ROWTIME" or (is_source and name == "APPROXIMATE_ARRIVAL_TIME"):
            column.set("this", exp.to_identifier(rowtime))


def _input_columns(work: _Pump, name: str) -> list[Column]:
    source = next((d for n, d in work.pipeline.sources.items() if n.lower() == name.lower()), None)
    if source is not None:
        return [c for c in source.columns if c.name.lower() not in _SYSTEM_COLUMNS]
    return list(work.app.streams[name.lower()].columns)


def _expand_stars(work: _Pump, query: exp.Select, columns: list[Column]) -> None:
    expanded: list[exp.Expression] = []
    for item in query.expressions:
        starred = isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
        star = item if isinstance(item, exp.Star) else item.this if starred else None
        if star is None:
            expanded.append(item)
            continue
        if not columns:
            raise work.fail(query, "SELECT * needs the input's columns declared")
        expanded += [exp.column(c.name, quoted=True) for c in columns]
    query.set("expressions", expanded)


def _bucket_of(node: exp.Expression) -> _Bucket | None:
    unit = floor_unit(node)
    if unit is not None and isinstance(node, exp.Floor) and isinstance(node.this, exp.Column) and unit in TIME_UNITS:
        interval = exp.Interval(this=exp.Literal.string("1"), unit=exp.Var(this=unit))
        return _Bucket(node, node.this.name, TIME_UNITS[unit], interval)
    if isinstance(node, exp.Anonymous) and str(node.this).upper() == "STEP" and len(node.expressions) == 2:
        value, interval = node.expressions
        size = interval_us(interval)
        if isinstance(value, exp.Column) and isinstance(interval, exp.Interval) and size:
            return _Bucket(node, value.name, size, interval)
    return None


def _window_bucket(work: _Pump, query: exp.Select, input_name: str, rowtime: str) -> _Bucket | None:
    """The grouping bucket that drives emission: on ROWTIME first, else on the source's
    watermarked event-time column."""
    group = query.args.get("group")
    aggregates = any(
        agg.find_ancestor(exp.Window) is None for e in query.expressions for agg in e.find_all(exp.AggFunc)
    )
    if group is None:
        if aggregates:
            raise work.fail(
                query, "an aggregate over a stream needs GROUP BY ..., STEP(ROWTIME BY INTERVAL ...) or an OVER window"
            )
        return None
    buckets = [b for b in (_bucket_of(item) for item in group.expressions) if b is not None]
    on_rowtime = [b for b in buckets if b.column.lower() == rowtime.lower()]
    if on_rowtime:
        return on_rowtime[0]
    source = next((d for n, d in work.pipeline.sources.items() if n.lower() == input_name.lower()), None)
    watermark = source.watermark.column.lower() if source and source.watermark else None
    on_event = [b for b in buckets if b.column.lower() == watermark]
    if on_event:
        return on_event[0]
    node = buckets[0].node if buckets else group
    raise work.fail(
        node,
        "GROUP BY on a stream needs STEP or FLOOR on ROWTIME (or on an event-time column "
        "with a WATERMARK), so that each group closes",
        "add STEP(\"STREAM\".ROWTIME BY INTERVAL '60' SECOND) to the GROUP BY, or declare "
        "WATERMARK FOR the event-time column on the CREATE SOURCE",
    )


def _to_tumble(query: exp.Select, table: exp.Table, bucket: _Bucket, rowtime: str) -> None:
    bucket_sql = bucket.node.sql("duckdb")
    group = query.args["group"]
    kept = [item for item in group.expressions if item is not bucket.node]
    group.set("expressions", kept + [exp.column("window_start"), exp.column(WINDOW_END)])
    for node in list(query.find_all(type(bucket.node))):
        if node.sql("duckdb") == bucket_sql and node.parent is not None:
            node.replace(exp.column("window_start"))
    # A bare ROWTIME in a grouped SELECT is KDA's output ROWTIME: the window's end.
    for column in list(query.find_all(exp.Column)):
        if (
            column.name.lower() == rowtime.lower()
            and column.find_ancestor(exp.AggFunc) is None
            and column.find_ancestor(exp.Group) is None
        ):
            column.replace(exp.column(WINDOW_END))
    call = exp.Anonymous(
        this="TUMBLE",
        expressions=[
            exp.column(table.name, quoted=True),
            exp.column(bucket.column, quoted=True),
            bucket.interval.copy(),
        ],
    )
    alias = table.alias or table.name
    table.replace(exp.Table(this=call, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))))


def _project(
    work: _Pump,
    query: exp.Select,
    stream: KdaStream,
    listed: list[str] | None,
    system: str | None,
    aggregated: bool = False,
) -> None:
    """KDA inserts by position (or by the listed names), casting to the stream's types."""
    outputs = list(query.expressions)
    if listed is not None:
        unknown = [n for n in listed if n.lower() not in {c.name.lower() for c in stream.columns}]
        if unknown:
            raise work.fail(query, f"stream '{stream.name}' has no column '{unknown[0]}'")
        if len(listed) != len(outputs):
            raise work.fail(query, f"the INSERT names {len(listed)} columns but the SELECT gives {len(outputs)}")
        by_name = {n.lower(): e for n, e in zip(listed, outputs, strict=True)}
        ordered = [by_name.get(c.name.lower(), exp.Null()) for c in stream.columns]
    else:
        if len(outputs) != len(stream.columns):
            raise work.fail(
                query,
                f"the SELECT gives {len(outputs)} columns but stream '{stream.name}' has "
                f"{len(stream.columns)}: " + ", ".join(c.name for c in stream.columns),
            )
        ordered = outputs
    projected: list[exp.Expr] = []
    for column, expression in zip(stream.columns, ordered, strict=True):
        value = expression.unalias() if isinstance(expression, exp.Alias) else expression
        cast = exp.Cast(this=value, to=exp.DataType.build(column.sql_type, dialect="duckdb"))
        projected.append(exp.alias_(cast, column.name, quoted=True))
    if system is not None:
        system_value: exp.Expr = exp.column(system)
        if aggregated:  # stands in for the window close, which only the operator knows
            system_value = exp.Max(this=system_value)
        projected.append(exp.alias_(system_value, system))
    query.set("expressions", projected)
