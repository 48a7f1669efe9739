"""Rewrite one view or insert query for Flink: window calls become window TVFs, GROUP BY ALL
becomes explicit keys, and a construct Flink lacks stops the compile at its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from flowsql.compile.flink_dialect import TRUNCATE_UNITS, Descriptor, Flink, TableArgument, TableFunction
from flowsql.compile.unsupported import UnsupportedError, unsupported
from flowsql.engine.planner import WINDOW_COLUMNS, Plan, window_call
from flowsql.pipeline.model import Pipeline, QueryDecl

DIALECT = Flink()
_WINDOW_ALIASES = {"SESSWIN": "SESSION"}  # the parser's stand-in name for SESSION(...)

# Functions whose Flink spelling the dialect writes (or that both engines share by name).
SUPPORTED_FUNCTIONS: tuple[type[exp.Func], ...] = (
    exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Coalesce, exp.Cast, exp.TryCast, exp.If, exp.Nullif,
    exp.Upper, exp.Lower, exp.Length, exp.Substring, exp.Concat, exp.Abs, exp.Round, exp.Floor, exp.Ceil,
    exp.Sqrt, exp.Ln, exp.Exp, exp.Pow, exp.Trim, exp.Greatest, exp.Least, exp.Replace,
    exp.TimestampTrunc, exp.DateTrunc, exp.TimeToStr, exp.StrToTime, exp.UnixToTime, exp.ArrayAgg,
    exp.RegexpLike, exp.CurrentTimestamp, exp.CurrentDate, exp.Stddev, exp.StddevPop, exp.StddevSamp,
    exp.Variance, exp.VariancePop, exp.Case, exp.Pad,
)
# Constructs that parse as DuckDB but have no faithful Flink form.
_NO_FLINK_FORM: dict[type[exp.Expression], str] = {
    exp.Window: "an OVER (...) window function",
    exp.Lambda: "a lambda",
    exp.Struct: "a struct literal",
    exp.Bracket: "a list index or struct field access with [...]",
    exp.Qualify: "QUALIFY",
    exp.Join: "a join",
    exp.Unnest: "UNNEST",
    exp.Pivot: "PIVOT",
    exp.JSONExtract: "the JSON operator ->",
    exp.JSONExtractScalar: "the JSON operator ->>",
}


@dataclass(frozen=True)
class TranslatedQuery:
    decl: QueryDecl
    sql: str  # Flink SQL of the query alone (no CREATE VIEW / INSERT INTO)


def translate_query(pipeline: Pipeline, decl: QueryDecl, plan: Plan, time_attributes: dict[str, set[str]],
                    extra_columns: tuple[tuple[str, exp.Expression], ...] = ()) -> TranslatedQuery:
    """The query of `decl` in Flink SQL; `time_attributes` maps a stream (lower case) to the
    columns Flink can window on; `extra_columns` are appended to the SELECT list (partitions)."""
    query = decl.query.copy()
    _check_supported(pipeline, decl, query, plan)
    for table in list(query.find_all(exp.Table)):
        call = window_call(table)
        if call is not None:
            _rewrite_window(pipeline, decl, table, call, query, time_attributes)
    for select in list(query.find_all(exp.Select)):
        _expand_group_by(select)
    if extra_columns:
        query = _with_columns(query, extra_columns)
    return TranslatedQuery(decl, query.sql(DIALECT, identify=True, pretty=True))


def _check_supported(pipeline: Pipeline, decl: QueryDecl, query: exp.Query, plan: Plan) -> None:
    timestamp_columns = _timestamp_columns(plan, decl)
    for node in query.walk():
        if isinstance(node, exp.Anonymous):
            if _window_call_parent(node):
                continue
            raise unsupported(pipeline, decl, node, f"the function {str(node.this)}() has no Flink SQL equivalent")
        for kind, what in _NO_FLINK_FORM.items():
            if isinstance(node, kind):
                raise unsupported(pipeline, decl, node, f"{what} has no translation to Flink SQL here")
        if isinstance(node, exp.Func) and not isinstance(node, SUPPORTED_FUNCTIONS):
            raise unsupported(pipeline, decl, node, f"the function {node.sql_name().lower()}() has no Flink SQL "
                              "translation")
        if isinstance(node, exp.UnixToTime) and isinstance(node.this, exp.Column) \
                and node.this.name.lower() in timestamp_columns:
            # DuckDB's epoch_ms(timestamp) gives milliseconds; Flink has no exact counterpart.
            raise unsupported(pipeline, decl, node, "epoch_ms() of a timestamp has no exact Flink SQL equivalent")
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
            unit = node.args.get("unit")
            if unit is None or unit.name.upper() not in TRUNCATE_UNITS:
                raise unsupported(pipeline, decl, node, f"date_trunc to {unit.name if unit else '?'!r} has no "
                                  "Flink FLOOR(... TO unit) form")


def _window_call_parent(node: exp.Anonymous) -> bool:
    parent = node.parent
    return isinstance(parent, exp.Table) and window_call(parent) is node


def _timestamp_columns(plan: Plan, decl: QueryDecl) -> set[str]:
    """Timestamp columns of the stream `decl` reads."""
    operator = next((op for op in plan.operators if op.decl is decl), None)
    stream = plan.streams.get(operator.input.lower()) if operator is not None else None
    if stream is None:
        return set()
    return {f.name.lower() for f in stream.schema if str(f.type).startswith("timestamp")}


def _rewrite_window(pipeline: Pipeline, decl: QueryDecl, table: exp.Table, call: exp.Anonymous,
                    query: exp.Query, time_attributes: dict[str, set[str]]) -> None:
    kind = _WINDOW_ALIASES.get(str(call.this).upper(), str(call.this).upper())
    stream, column, *intervals = call.expressions
    attributes = time_attributes.get(stream.name.lower(), set())
    if column.name.lower() not in attributes:
        raise unsupported(pipeline, decl, column, f"'{column.name}' of '{stream.name}' is no Flink time attribute",
                          hint="Flink windows on a source's WATERMARK column or on arrival_time; windows over "
                               "a windowed view's window_end are not translated")
    partition: list[exp.Expression] = []
    if kind == "SESSION":
        partition = _session_keys(pipeline, decl, query)
    if kind == "HOP":
        intervals = [intervals[0], intervals[1]]  # flowsql and Flink both take slide, then size
    argument = TableArgument(this=exp.to_identifier(stream.name), partition=partition)
    tvf = exp.Anonymous(this=kind, expressions=[argument, Descriptor(this=exp.to_identifier(column.name)),
                                                *intervals])
    alias = table.args.get("alias")
    table.replace(exp.Table(this=TableFunction(this=tvf), alias=alias))


def _session_keys(pipeline: Pipeline, decl: QueryDecl, query: exp.Query) -> list[exp.Expression]:
    """flowsql keeps one session per group key; Flink says so with PARTITION BY, which takes columns."""
    select = query if isinstance(query, exp.Select) else query.find(exp.Select)
    if select is None:
        return []
    keys = []
    for key in _group_expressions(select):
        if any(c.name.lower() in WINDOW_COLUMNS for c in key.find_all(exp.Column)):
            continue
        if not isinstance(key, exp.Column):
            raise unsupported(pipeline, decl, key, "a SESSION window's keys must be plain columns in Flink "
                              "(SESSION ... PARTITION BY takes column names)")
        keys.append(exp.column(key.name))
    return keys


def _group_expressions(select: exp.Select) -> list[exp.Expression]:
    group = select.args.get("group")
    if group is None:
        return []
    keys: list[exp.Expression] = []
    if group.args.get("all"):
        keys += [e.unalias().copy() for e in select.expressions if not _has_aggregate(e)]
    outputs = {e.alias.lower(): e.unalias() for e in select.expressions if isinstance(e, exp.Alias)}
    for item in group.expressions:
        if isinstance(item, exp.Literal) and item.is_int:
            keys.append(select.expressions[int(item.this) - 1].unalias().copy())
        elif isinstance(item, exp.Column) and not item.table and item.name.lower() in outputs \
                and item.name.lower() not in WINDOW_COLUMNS:
            # Flink's GROUP BY sees input columns, not the SELECT list's aliases.
            keys.append(outputs[item.name.lower()].copy())
        else:
            keys.append(item.copy())
    return keys


def _has_aggregate(node: exp.Expression) -> bool:
    return any(not agg.find_ancestor(exp.Window) for agg in node.find_all(exp.AggFunc))


def _expand_group_by(select: exp.Select) -> None:
    group = select.args.get("group")
    if group is None:
        return
    keys = _group_expressions(select)
    if keys:
        select.set("group", exp.Group(expressions=keys))
    else:
        select.set("group", None)


def _with_columns(query: exp.Query, columns: tuple[tuple[str, exp.Expression], ...]) -> exp.Query:
    extra = [exp.alias_(expression.copy(), name) for name, expression in columns]
    if isinstance(query, exp.Select) and not query.args.get("group") and not query.args.get("distinct"):
        return query.select(*extra, copy=False)
    return exp.select(exp.Star(), *extra).from_(exp.Subquery(this=query, alias=exp.TableAlias(
        this=exp.to_identifier("q"))))


__all__ = ["DIALECT", "TranslatedQuery", "UnsupportedError", "translate_query"]
