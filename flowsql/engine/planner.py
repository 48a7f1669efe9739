"""Turn the pipeline's queries into operators: find each query's input stream and window,
check it against DuckDB, and keep SQL templates the operators fill in at run time.

A window table function `TUMBLE(src, ts, size)` in FROM is replaced by a subquery that adds
`window_start` and `window_end` to the input rows (see windows.py); everything else in the
user's query is left as written and run by DuckDB itself, so any DuckDB expression or
aggregate works and a window's result is DuckDB's own answer over that window's rows.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import duckdb
import pyarrow as pa
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

from flowsql.engine.preaggregate import PreAggregation, plan_preaggregation
from flowsql.engine.query_errors import duckdb_error, find_token, node_location
from flowsql.engine.windows import WindowSpec
from flowsql.errors import Location, PipelineError, PipelineErrors
from flowsql.frontends import table_kind
from flowsql.pipeline.declarations import interval_hint, interval_seconds
from flowsql.pipeline.functions import UserFunction
from flowsql.pipeline.model import Pipeline, QueryDecl, TableDecl
from flowsql.records import ARRIVAL_TIME
from flowsql.scratch_sql import scratch_connection

if TYPE_CHECKING:
    from flowsql.engine.operators import OperatorFactory

_DIALECT = DuckDB()
WINDOW_FUNCTIONS = {"TUMBLE": 3, "HOP": 4, "SESSION": 3}
_WINDOW_ALIASES = {"SESSWIN": "SESSION"}  # the parser's stand-in name for SESSION(...)
INPUT_PLACEHOLDER = "__flowsql_input__"
WINDOW_COLUMNS = ("window_start", "window_end")


@dataclass
class StreamInfo:
    """What downstream queries can rely on about a stream: its columns and its clocks.

    `clocks` maps a time column (lower case) to how its watermark is made: 'event' for a
    source's WATERMARK column, 'arrival' for arrival_time, 'window' for the window_end of a
    windowed view's output."""

    name: str
    schema: pa.Schema
    clocks: dict[str, str] = field(default_factory=dict)
    watermark_delay_us: int = 0


@dataclass
class OperatorPlan:
    decl: QueryDecl
    input: str
    template: str  # the query's SQL with INPUT_PLACEHOLDER where the input relation goes
    window: WindowSpec | None
    prefilter: str | None = None  # a window query's row filter, applied as rows arrive
    preaggregate: PreAggregation | None = None  # partials kept instead of raw rows, when they decompose
    output_schema: pa.Schema = field(default_factory=lambda: pa.schema([]))
    inputs: tuple[str, ...] = ()  # every stream a front end's own operator reads (a join's two)
    factory: OperatorFactory | None = None  # a front end's own operator; None: a window or stateless one

    @property
    def all_inputs(self) -> tuple[str, ...]:
        return self.inputs or (self.input,)

    @property
    def target(self) -> str:
        return self.decl.target

    @property
    def kind(self) -> str:
        """'stateless', 'window', or 'report' (a query with EMIT over a CDC table's current state)."""
        if self.decl.emit is not None:
            return "report"
        return "stateless" if self.window is None else "window"

    def sql(self, relation: str) -> str:
        return self.template.replace(INPUT_PLACEHOLDER, relation)

    @staticmethod
    def sql_of(template: str, relation: str) -> str:
        return template.replace(INPUT_PLACEHOLDER, relation)


class QueryPlanner(Protocol):
    """Plans a front end's query that the standard planner cannot (a stream join's two inputs)."""

    def plan_operator(self, pipeline: Pipeline, decl: QueryDecl, streams: dict[str, StreamInfo]) -> OperatorPlan: ...


@dataclass(frozen=True)
class FrontEndQuery(QueryDecl):
    """A query a front end translated: it may run on an operator of its own (`factory`) and be
    planned by its own planner."""

    factory: OperatorFactory | None = None
    planner: QueryPlanner | None = None

    def note(self) -> str:
        """How the query was translated, in words (explain prints it)."""
        return ""


@dataclass
class Plan:
    streams: dict[str, StreamInfo]
    operators: list[OperatorPlan]
    tables: dict[str, TableDecl] = field(default_factory=dict)  # CDC tables by lower-case name
    functions: tuple[UserFunction, ...] = ()  # CREATE FUNCTION: registered on every connection that runs queries


def plan_pipeline(pipeline: Pipeline, source_schemas: dict[str, pa.Schema], collect: bool = False) -> Plan:
    """Plan every view and insert in file order; raises PipelineError pointing at the query.

    With `collect`, every query is planned even when one before it fails, and the errors are
    raised together (PipelineErrors); queries reading a stream that failed are not reported again."""
    streams: dict[str, StreamInfo] = {}
    for name, source in pipeline.sources.items():
        if name not in source_schemas:  # its declaration failed and was reported
            continue
        clocks = {ARRIVAL_TIME: "arrival"}
        delay = 0
        if source.watermark:
            clocks[source.watermark.column.lower()] = "event"
            delay = round(source.watermark.delay_seconds * 1_000_000)
        streams[name.lower()] = StreamInfo(name, source_schemas[name], clocks, delay)
    for name, table in pipeline.tables.items():
        if name not in source_schemas:
            continue
        # A CDC table is also the stream of its change events (windows over change_time).
        clocks = {ARRIVAL_TIME: "arrival"}
        delay = 0
        if table.watermark:
            clocks[table.watermark.column.lower()] = "event"
            delay = round(table.watermark.delay_seconds * 1_000_000)
        streams[name.lower()] = StreamInfo(name, source_schemas[name], clocks, delay)
    operators: list[OperatorPlan] = []
    errors: list[PipelineError] = []
    failed = set(pipeline.unparsed) | {
        n.lower() for n in (*pipeline.sources, *pipeline.tables) if n.lower() not in streams
    }
    for decl in _in_file_order(pipeline):
        if collect and (reads_any(decl, failed) or calls_any(decl, failed) or _writes_unparsed_sink(pipeline, decl)):
            failed.add(decl.target.lower())
            continue
        try:
            operator = _plan_one(pipeline, decl, streams)
        except (PipelineError, RecursionError) as exc:
            if not collect:
                raise
            errors.extend(_as_errors(pipeline, decl, exc))
            failed.add(decl.target.lower())
            continue
        operators.append(operator)
    if errors:
        raise PipelineErrors(errors)
    return Plan(
        streams, operators, {n.lower(): t for n, t in pipeline.tables.items()}, tuple(pipeline.functions.values())
    )


def _plan_one(pipeline: Pipeline, decl: QueryDecl, streams: dict[str, StreamInfo]) -> OperatorPlan:
    if not decl.is_view and decl.target.lower() not in {s.lower() for s in pipeline.sinks}:
        close = difflib.get_close_matches(decl.target, list(pipeline.sinks), n=1)
        raise _error(
            pipeline,
            decl,
            f"INSERT INTO names no declared sink: '{decl.target}'",
            hint=f"did you mean '{close[0]}'?"
            if close
            else "declare it with CREATE SINK " + decl.target + " WITH (...)",
        )
    front_end = decl if isinstance(decl, FrontEndQuery) else None
    if front_end is not None and front_end.planner is not None:
        operator = front_end.planner.plan_operator(pipeline, decl, streams)
    else:
        operator = _plan_query(pipeline, decl, streams)
    if front_end is not None:
        operator.factory = front_end.factory
    if decl.is_view:
        _add_view_stream(pipeline, decl, operator, streams)
    return operator


def _as_errors(pipeline: Pipeline, decl: QueryDecl, error: Exception) -> list[PipelineError]:
    if isinstance(error, PipelineErrors):
        return error.errors
    if isinstance(error, PipelineError):
        return [error]
    return [
        _error(
            pipeline,
            decl,
            "the query nests too deeply to plan",
            hint="split deeply nested expressions into views or simpler expressions",
        )
    ]


def _writes_unparsed_sink(pipeline: Pipeline, decl: QueryDecl) -> bool:
    """An INSERT into a sink whose own statement failed (and was reported)."""
    target = decl.target.lower()
    return not decl.is_view and target in pipeline.unparsed and target not in {s.lower() for s in pipeline.sinks}


def calls_any(decl: QueryDecl, names: set[str]) -> bool:
    """Whether the query calls a function whose CREATE FUNCTION failed (and was reported)."""
    return bool(names) and any(call.name.lower() in names for call in decl.query.find_all(exp.Anonymous))


def reads_any(decl: QueryDecl, names: set[str]) -> bool:
    """Whether the query reads one of these streams (lower-case names), directly or in a window."""
    if not names:
        return False
    for table in decl.query.find_all(exp.Table):
        call = window_call(table)
        name = call.expressions[0].name if call is not None and call.expressions else table.name
        if name.lower() in names:
            return True
    return False


def _add_view_stream(
    pipeline: Pipeline, decl: QueryDecl, operator: OperatorPlan, streams: dict[str, StreamInfo]
) -> None:
    """The view's stream; a view several queries fill (a front end's merged stream) keeps the
    clocks all of them carry, and all must give the same columns."""
    inputs = [streams[name.lower()] for name in operator.all_inputs]
    if operator.window:
        clocks = {"window_end": "window"}
    else:
        clocks = _kept_clocks(inputs[0], operator.output_schema)
        for other in inputs[1:]:
            clocks = {c: k for c, k in clocks.items() if c in _kept_clocks(other, operator.output_schema)}
    delay = max(s.watermark_delay_us for s in inputs)
    existing = streams.get(decl.target.lower())
    if existing is not None:  # names of sources and views never clash: a second query into this view
        if existing.schema != operator.output_schema:
            raise _error(
                pipeline,
                decl,
                f"two queries fill '{decl.target}' with different columns: "
                f"{existing.schema.to_string(show_schema_metadata=False)} and "
                f"{operator.output_schema.to_string(show_schema_metadata=False)}",
            )
        clocks = {c: k for c, k in existing.clocks.items() if clocks.get(c) == k}
        delay = max(delay, existing.watermark_delay_us)
    streams[decl.target.lower()] = StreamInfo(decl.target, operator.output_schema, clocks, delay)


def _in_file_order(pipeline: Pipeline) -> list[QueryDecl]:
    decls = [*pipeline.views.values(), *pipeline.inserts]
    return sorted(decls, key=lambda d: (d.location.line, d.location.column))


def _kept_clocks(stream: StreamInfo, schema: pa.Schema) -> dict[str, str]:
    names = {n.lower() for n in schema.names}
    return {column: kind for column, kind in stream.clocks.items() if column in names}


def _plan_query(pipeline: Pipeline, decl: QueryDecl, streams: dict[str, StreamInfo]) -> OperatorPlan:
    query = decl.query.copy()
    window_nodes = [t for t in query.find_all(exp.Table) if window_call(t) is not None]
    stream_refs = [
        t
        for t in query.find_all(exp.Table)
        if window_call(t) is None and t.name.lower() in streams and not t.args.get("db")
    ]
    if len(window_nodes) + len(stream_refs) == 0:
        raise _no_stream_error(pipeline, decl, query, streams)
    if len(window_nodes) + len(stream_refs) > 1:
        raise _error(
            pipeline,
            decl,
            "a query reads one stream; joins between streams are not supported",
            node=(window_nodes + stream_refs)[1],
        )
    window: WindowSpec | None = None
    if window_nodes:
        node = window_nodes[0]
        input_name, window = _window_spec(pipeline, decl, node, streams, query)
        alias = node.alias or input_name
    else:
        node = stream_refs[0]
        input_name = node.name
        alias = node.alias or node.name
    replacement = exp.Table(
        this=exp.to_identifier(INPUT_PLACEHOLDER), alias=exp.TableAlias(this=exp.to_identifier(alias))
    )
    node.replace(replacement)
    template = query.sql(_DIALECT)
    stream = streams[input_name.lower()]
    operator = OperatorPlan(decl, stream.name, template, window)
    table = next((t for n, t in pipeline.tables.items() if n.lower() == input_name.lower()), None)
    if decl.emit is not None or (table is not None and window is None):
        _check_report(pipeline, decl, table, window)
        kind = table_kind()
        state_schema = kind.state_schema(stream.schema)
        assert decl.emit is not None  # _check_report refuses a report without EMIT
        operator.output_schema = kind.report_schema(_output_schema(pipeline, decl, operator, state_schema), decl.emit)
        return operator
    if window is not None:
        _check_window_grouping(pipeline, decl, query)
        operator.prefilter = _row_filter(query, alias)
    operator.output_schema = _output_schema(pipeline, decl, operator, stream.schema)
    if window is not None:
        operator.preaggregate = plan_preaggregation(
            query,
            INPUT_PLACEHOLDER,
            window,
            stream.schema,
            operator.prefilter is not None,
            operator.output_schema,
            tuple(pipeline.functions.values()),
        )
    return operator


def _no_stream_error(
    pipeline: Pipeline, decl: QueryDecl, query: exp.Query, streams: dict[str, StreamInfo]
) -> PipelineError:
    """A query reading nothing flowsql knows: name the table or function it does read, and the
    closest stream or window function."""
    known = ", ".join(s.name for s in streams.values())
    for table in query.find_all(exp.Table):
        if isinstance(table.this, exp.Anonymous):
            name = str(table.this.this)
            close = difflib.get_close_matches(name.upper(), list(WINDOW_FUNCTIONS), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]}?" if close else "window functions: TUMBLE, HOP, SESSION"
            return _error(
                pipeline, decl, f"unknown window function (table function) '{name}'", node=table.this, hint=hint
            )
        if table.name and not table.args.get("db"):
            names = [s.name for s in streams.values()]
            close = difflib.get_close_matches(table.name, names, n=1) or difflib.get_close_matches(
                table.name.lower(), [n.lower() for n in names], n=1
            )
            hint = f"did you mean '{close[0]}'?" if close else f"known streams: {known}"
            return _error(pipeline, decl, f"'{table.name}' is no source, table or view", node=table, hint=hint)
    return _error(pipeline, decl, "the query reads no source or view", hint=f"known streams: {known}")


def _check_report(pipeline: Pipeline, decl: QueryDecl, table: TableDecl | None, window: WindowSpec | None) -> None:
    """A query over a CDC table's current state is an INSERT with EMIT, and EMIT needs such a query."""
    if table is None or window is not None:
        raise _error(
            pipeline,
            decl,
            "EMIT applies to a query over a CDC table (CREATE TABLE ... PRIMARY KEY)",
            hint="windowed queries emit each window once when it closes; drop the EMIT clause",
        )
    if decl.is_view:
        raise _error(
            pipeline,
            decl,
            f"a view cannot read the current state of table '{table.name}'",
            hint=f"report on it with INSERT INTO sink SELECT ... FROM {table.name} ... EMIT CHANGES, "
            f"or window its change events with TUMBLE({table.name}, change_time, ...)",
        )
    if decl.emit is None:
        raise _error(
            pipeline,
            decl,
            f"a query over table '{table.name}' needs an EMIT clause",
            hint="end it with EMIT EVERY INTERVAL '5' MINUTE (a full snapshot each interval) or "
            f"EMIT CHANGES (the groups that changed); or window its change events with "
            f"TUMBLE({table.name}, change_time, INTERVAL '1' MINUTE)",
        )


def _row_filter(query: exp.Query, alias: str) -> str | None:
    """The WHERE of a window query when it only looks at input rows: applied on arrival, so
    rows the query would drop never take room in window state."""
    select = query if isinstance(query, exp.Select) else None
    where = select.args.get("where") if select is not None else None
    if where is None or where.find(exp.Subquery, exp.Select) is not None:
        return None
    if any(c.name.lower() in WINDOW_COLUMNS for c in where.find_all(exp.Column)):
        return None
    return f'SELECT * FROM {INPUT_PLACEHOLDER} AS "{alias}" WHERE {where.this.sql(_DIALECT)}'


def window_call(table: exp.Table) -> exp.Anonymous | None:
    """The TUMBLE/HOP/SESSION call a FROM item is, if it is one."""
    call = table.this
    if isinstance(call, exp.Anonymous):
        name = str(call.this).upper()
        if _WINDOW_ALIASES.get(name, name) in WINDOW_FUNCTIONS:
            return call
    return None


def _window_spec(
    pipeline: Pipeline, decl: QueryDecl, node: exp.Table, streams: dict[str, StreamInfo], query: exp.Query
) -> tuple[str, WindowSpec]:
    call = window_call(node)
    assert call is not None
    kind = str(call.this).upper()
    kind = _WINDOW_ALIASES.get(kind, kind)
    args = call.expressions
    usage = {
        "TUMBLE": "TUMBLE(stream, time_column, INTERVAL '1 minute')",
        "HOP": "HOP(stream, time_column, INTERVAL '10 seconds' (slide), INTERVAL '1 minute' (size))",
        "SESSION": "SESSION(stream, time_column, INTERVAL '30 seconds' (gap))",
    }[kind]
    if (
        len(args) != WINDOW_FUNCTIONS[kind]
        or not isinstance(args[0], exp.Column)
        or not isinstance(args[1], exp.Column)
    ):
        raise _error(
            pipeline, decl, f"{kind} takes {WINDOW_FUNCTIONS[kind]} arguments", node=call, hint=f"write {usage}"
        )
    stream_name, time_column = args[0].name, args[1].name
    stream = streams.get(stream_name.lower())
    if stream is not None:
        time_column = next((n for n in stream.schema.names if n.lower() == time_column.lower()), time_column)
    if stream is None:
        raise _error(
            pipeline,
            decl,
            f"{kind} reads '{stream_name}', which is no source or view",
            node=args[0],
            hint="known streams: " + ", ".join(s.name for s in streams.values()),
        )
    clock = stream.clocks.get(time_column.lower())
    if clock is None:
        hint: str | None
        if time_column.lower() in {n.lower() for n in stream.schema.names}:
            hint = (
                f"declare WATERMARK FOR {time_column} AS {time_column} - INTERVAL '5 seconds' on the source, "
                f"or window on {ARRIVAL_TIME}"
            )
            message = f"'{time_column}' of '{stream.name}' has no watermark, so windows on it would never close"
        else:
            hint = "time columns of this stream: " + ", ".join(stream.clocks) if stream.clocks else None
            message = f"'{stream.name}' has no time column '{time_column}'"
        raise _error(pipeline, decl, message, node=args[1], hint=hint)
    intervals = []
    for arg in args[2:]:
        if not isinstance(arg, exp.Interval):
            raise _error(pipeline, decl, f"{kind} needs INTERVAL literals", node=call, hint=f"write {usage}")
        try:
            micros = round(interval_seconds(arg) * 1_000_000)
        except ValueError as exc:
            unit = arg.args.get("unit")
            where = find_token(pipeline, decl, unit.name) if unit is not None else None
            raise _error(pipeline, decl, str(exc), node=call, hint=interval_hint(arg), location=where) from None
        if micros <= 0:
            raise _error(pipeline, decl, f"{kind} intervals must be longer than zero", node=call)
        intervals.append(micros)
    name = stream.name
    if kind == "TUMBLE":
        return name, WindowSpec("tumble", time_column, size_us=intervals[0], slide_us=intervals[0])
    if kind == "HOP":
        slide, size = intervals
        if slide > size:
            raise _error(
                pipeline,
                decl,
                "HOP's slide is longer than its size: rows would fall between windows",
                node=call,
                hint=f"write {usage}",
            )
        return name, WindowSpec("hop", time_column, size_us=size, slide_us=slide)
    return name, WindowSpec("session", time_column, gap_us=intervals[0], keys=_group_keys(query))


def _group_keys(query: exp.Query) -> tuple[str, ...]:
    """The SQL of the grouping expressions other than the window bounds (session keys)."""
    select = query if isinstance(query, exp.Select) else query.find(exp.Select)
    if select is None:
        return ()
    outputs = {e.alias_or_name.lower(): e.unalias() for e in select.expressions}
    group = select.args.get("group")
    keys: list[exp.Expression] = []
    if group is None:
        return ()
    if group.args.get("all"):
        keys = [e.unalias() for e in select.expressions if not _has_aggregate(e)]
    for item in group.expressions:
        if isinstance(item, exp.Literal) and item.is_int:
            keys.append(select.expressions[int(item.this) - 1].unalias())
        elif (
            isinstance(item, exp.Column)
            and not item.table
            and item.name.lower() in outputs
            and item.name.lower() not in WINDOW_COLUMNS
        ):
            keys.append(outputs[item.name.lower()])
        else:
            keys.append(item)
    return tuple(
        k.sql(_DIALECT) for k in keys if not any(c.name.lower() in WINDOW_COLUMNS for c in k.find_all(exp.Column))
    )


def _has_aggregate(node: exp.Expression) -> bool:
    return any(not agg.find_ancestor(exp.Window) for agg in node.find_all(exp.AggFunc))


def _check_window_grouping(pipeline: Pipeline, decl: QueryDecl, query: exp.Query) -> None:
    select = query if isinstance(query, exp.Select) else query.find(exp.Select)
    if select is None or not any(_has_aggregate(e) for e in select.expressions):
        return
    group = select.args.get("group")
    grouped: list[exp.Expression] = []
    if group is not None:
        if group.args.get("all"):
            grouped = [e for e in select.expressions if not _has_aggregate(e)]
        grouped += list(group.expressions)
    names = {c.name.lower() for g in grouped for c in g.find_all(exp.Column)}
    if not names & set(WINDOW_COLUMNS):
        raise _error(
            pipeline,
            decl,
            "a window aggregate must group by window_start or window_end",
            hint="add window_start, window_end to the SELECT list and GROUP BY ALL, "
            "so that each window gives its own rows",
        )


def _output_schema(pipeline: Pipeline, decl: QueryDecl, operator: OperatorPlan, input_schema: pa.Schema) -> pa.Schema:
    """Run the query on no rows: DuckDB checks names and types and tells the result's schema."""
    from flowsql.engine.windows import assignment_sql

    try:
        with scratch_connection(pipeline.functions.values(), __flowsql_empty=input_schema.empty_table()) as con:
            relation = "__flowsql_empty"
            if operator.window is not None:
                relation = f"({assignment_sql(operator.window, relation, None, None)})"
            return con.sql(operator.sql(relation)).to_arrow_table().schema
    except duckdb.Error as exc:
        raise duckdb_error(pipeline, decl, exc) from None


def _error(
    pipeline: Pipeline,
    decl: QueryDecl,
    message: str,
    node: exp.Expression | None = None,
    hint: str | None = None,
    location: Location | None = None,
) -> PipelineError:
    location = location or node_location(pipeline, node) or decl.location
    return PipelineError(message, location, pipeline.line(location.line), hint)
