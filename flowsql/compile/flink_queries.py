"""Rewrite one view or insert query for Flink: window calls become window TVFs, GROUP BY ALL
becomes explicit keys, and a construct Flink lacks stops the compile at its line and column.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from flowsql.compile.flink_dialect import (
    TRUNCATE_UNITS,
    Descriptor,
    Flink,
    TableArgument,
    TableFunction,
    listed_value,
    sorted_list_key,
)
from flowsql.compile.flink_interval_join import JOIN_MARK, interval_join_reason, rewrite_interval_join
from flowsql.compile.flink_named_calls import rewrite_named_calls
from flowsql.compile.flink_reference import inline_reference_joins
from flowsql.compile.flink_structs import FIELD_MARK, flatten_structs
from flowsql.compile.flink_top_n import TOP_N_MARK, rewrite_top_n
from flowsql.compile.unsupported import UnsupportedError, unsupported
from flowsql.engine.planner import WINDOW_COLUMNS, FrontEndQuery, Plan, window_call
from flowsql.options import parse_duration
from flowsql.pipeline.model import Pipeline, QueryDecl

DIALECT = Flink()
_WINDOW_ALIASES = {"SESSWIN": "SESSION"}  # the parser's stand-in name for SESSION(...)

# Functions whose Flink spelling the dialect writes (or that both engines share by name).
SUPPORTED_FUNCTIONS: tuple[type[exp.Expr], ...] = (
    exp.Count,
    exp.Sum,
    exp.Avg,
    exp.Min,
    exp.Max,
    exp.Coalesce,
    exp.Cast,
    exp.TryCast,
    exp.If,
    exp.Nullif,
    exp.Upper,
    exp.Lower,
    exp.Length,
    exp.Substring,
    exp.Concat,
    exp.Abs,
    exp.Round,
    exp.Floor,
    exp.Ceil,
    exp.Sqrt,
    exp.Ln,
    exp.Exp,
    exp.Pow,
    exp.Trim,
    exp.Greatest,
    exp.Least,
    exp.Replace,
    exp.TimestampTrunc,
    exp.DateTrunc,
    exp.TimeToStr,
    exp.StrToTime,
    exp.UnixToTime,
    exp.ArrayAgg,
    exp.RegexpLike,
    exp.CurrentTimestamp,
    exp.CurrentDate,
    exp.Stddev,
    exp.StddevPop,
    exp.StddevSamp,
    exp.Variance,
    exp.VariancePop,
    exp.Case,
    exp.Pad,
    exp.StrPosition,
    exp.SimilarTo,
    exp.Extract,
    exp.Struct,
)
# Operators sqlglot models as functions (AND, OR, NOT, comparisons): both engines spell them alike.
_OPERATORS: tuple[type[exp.Expr], ...] = (exp.Connector, exp.Binary, exp.Unary, exp.Predicate)
# Constructs that parse as DuckDB but have no faithful Flink form.
_NO_FLINK_FORM: dict[type[exp.Expression], str] = {
    exp.Lambda: "a lambda",
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
    notes: tuple[str, ...] = ()  # where the job behaves differently from flowsql run


def translate_query(
    pipeline: Pipeline,
    decl: QueryDecl,
    plan: Plan,
    time_attributes: dict[str, set[str]],
    extra_columns: tuple[tuple[str, exp.Expression], ...] = (),
) -> TranslatedQuery:
    """The query of `decl` in Flink SQL; `time_attributes` maps a stream (lower case) to the
    columns Flink can window on; `extra_columns` are appended to the SELECT list (partitions)."""
    query = decl.query.copy()
    _kda_operators(pipeline, decl, query)
    reference_notes = inline_reference_joins(pipeline, decl, query)
    flatten_structs(query)
    _rewrite_functions(pipeline, decl, query)
    _match_column_case(query, _input_columns(plan, decl))
    query = rewrite_top_n(pipeline, decl, query)
    _rewrite_over(pipeline, decl, query, _input_attributes(plan, decl, time_attributes))
    _check_supported(pipeline, decl, query, plan)
    kinds = []
    for table in list(query.find_all(exp.Table)):
        call = window_call(table)
        if call is not None:
            kinds.append(_rewrite_window(pipeline, decl, table, call, query, time_attributes))
    for select in list(query.find_all(exp.Select)):
        _expand_group_by(select, bool(kinds))
    if "SESSION" in kinds:
        _shift_session_end(query)
    notes = reference_notes + _drop_order_by(decl, query)
    if any(isinstance(a.this, exp.Order) for a in query.find_all(exp.ArrayAgg)):
        notes.append(
            f"query into `{decl.target}`: a sorted list becomes ARRAY_SORT(ARRAY_AGG(...)); ARRAY_SORT "
            "came to Flink after 1.19, so this job needs a later Flink"
        )
    if extra_columns:
        query = _with_columns(query, extra_columns)
    return TranslatedQuery(decl, query.sql(DIALECT, identify=True, pretty=True), tuple(notes))


def _kda_operators(pipeline: Pipeline, decl: QueryDecl, query: exp.Query) -> None:
    """KDA pumps that flowsql runs with an operator of its own: refused where Flink SQL has no
    form for them, else rewritten (a stream join as an interval join)."""
    from flowsql.kda.rcf import ForestSpec
    from flowsql.kda.stagger import StaggerSpec
    from flowsql.kda.stream_join import JoinSpec

    spec = decl.factory if isinstance(decl, FrontEndQuery) else None
    reasons = {
        StaggerSpec: (
            "a STAGGER window (opened per key at its first row) has no Flink SQL form",
            "use a TUMBLE or SESSION window per key, or keep this pipeline on flowsql run",
        ),
        ForestSpec: (
            "RANDOM_CUT_FOREST has no Flink SQL form (Flink has no anomaly-score function)",
            "keep this pipeline on flowsql run, or score anomalies in a Flink ML or UDF job",
        ),
    }
    for kind, (reason, hint) in reasons.items():
        if isinstance(spec, kind):
            raise unsupported(pipeline, decl, None, reason, hint=hint)
    if isinstance(spec, JoinSpec):
        join_reason = interval_join_reason(spec)
        if join_reason is not None:
            raise unsupported(
                pipeline,
                decl,
                None,
                join_reason,
                hint="keep this pipeline on flowsql run, or write a Flink interval join by hand",
            )
        rewrite_interval_join(query, spec)


def _input_attributes(plan: Plan, decl: QueryDecl, time_attributes: dict[str, set[str]]) -> set[str]:
    operator = next((op for op in plan.operators if op.decl is decl), None)
    return time_attributes.get(operator.input.lower(), set()) if operator is not None else set()


def _rewrite_over(pipeline: Pipeline, decl: QueryDecl, query: exp.Query, attributes: set[str]) -> None:
    """OVER aggregates (KDA's sliding windows) as Flink OVER aggregations: named windows are
    written inline, and each window must be an aggregate over rows ordered by a time attribute,
    from a ROWS or RANGE bound PRECEDING up to the CURRENT ROW, one window per query."""
    for select in list(query.find_all(exp.Select)):
        named = {w.this.name.lower(): w for w in select.args.get("windows") or []}
        for window in select.find_all(exp.Window):
            alias = window.args.get("alias")
            if alias is not None and alias.name.lower() in named:
                spec = named[alias.name.lower()]
                for part in ("partition_by", "order", "spec"):
                    window.set(
                        part,
                        spec.args.get(part).copy()
                        if isinstance(spec.args.get(part), exp.Expression)
                        else [e.copy() for e in spec.args.get(part) or []],
                    )
                window.set("alias", None)
        select.set("windows", None)
        windows = [w for w in select.find_all(exp.Window) if not w.meta.get(TOP_N_MARK)]
        for window in windows:
            _check_over(pipeline, decl, window, attributes)
        shapes = {_over_shape(w) for w in windows}
        if len(shapes) > 1:
            raise unsupported(
                pipeline,
                decl,
                windows[-1],
                f"this query computes OVER aggregates over {len(shapes)} "
                "different windows; Flink computes all OVER aggregates of one query over one window",
                hint="split it into one query per window, or keep this pipeline on flowsql run",
            )


def _over_shape(window: exp.Window) -> str:
    """The window an OVER aggregate runs over, without the aggregate."""
    bare = exp.Window(
        this=exp.Star(),
        partition_by=window.args.get("partition_by"),
        order=window.args.get("order"),
        spec=window.args.get("spec"),
    )
    return bare.sql(DIALECT)


def _check_over(pipeline: Pipeline, decl: QueryDecl, window: exp.Window, attributes: set[str]) -> None:
    order = window.args.get("order")
    keys = order.expressions if order is not None else []
    spec = window.args.get("spec")
    if not isinstance(window.this, exp.AggFunc):
        reason = "an OVER (...) window function other than an aggregate has no Flink SQL form here"
    elif (
        len(keys) != 1
        or not isinstance(keys[0].this, exp.Column)
        or keys[0].args.get("desc")
        or keys[0].this.name.lower() not in attributes
    ):
        reason = "an OVER (...) aggregate must be ordered by one time attribute (the WATERMARK column or arrival_time)"
    elif (
        spec is None
        or str(spec.args.get("start_side") or "").upper() != "PRECEDING"
        or str(spec.args.get("end") or "").upper() != "CURRENT ROW"
    ):
        reason = "an OVER (...) aggregate's frame must run from a bound PRECEDING to the CURRENT ROW in Flink"
    else:
        return
    raise unsupported(pipeline, decl, window, reason)


def _input_columns(plan: Plan, decl: QueryDecl) -> dict[str, str]:
    """Lower-case name → exact name of every column the query's inputs have."""
    operator = next((op for op in plan.operators if op.decl is decl), None)
    names = {c: c for c in WINDOW_COLUMNS}
    for stream in operator.all_inputs if operator is not None else []:
        found = plan.streams.get(stream.lower())
        for name in found.schema.names if found is not None else []:
            names.setdefault(name.lower(), name)
    return names


def _match_column_case(query: exp.Query, columns: dict[str, str]) -> None:
    """DuckDB matches names whatever their case, Flink exactly: each column is written as its
    input spells it."""
    for column in query.find_all(exp.Column):
        exact = columns.get(column.name.lower())
        if exact is not None and exact != column.name:
            column.set("this", exp.to_identifier(exact, quoted=True))


def _rewrite_functions(pipeline: Pipeline, decl: QueryDecl, query: exp.Query) -> None:
    """DuckDB functions that Flink spells as other constructs."""
    rewrite_named_calls(query)
    for node in list(query.find_all(exp.Anonymous)):
        name = str(node.this).lower()
        if (
            name == "regexp_full_match"
            and len(node.expressions) == 2
            and isinstance(node.expressions[1], exp.Literal)
            and node.expressions[1].is_string
        ):
            # SIMILAR TO and KDA's regex matches: Flink's REGEXP finds, so anchor the whole text.
            pattern = exp.Literal.string(f"^(?:{node.expressions[1].this})$")
            node.replace(exp.RegexpLike(this=node.expressions[0], expression=pattern))
    for match in list(query.find_all(exp.RegexpFullMatch)):
        if isinstance(match.expression, exp.Literal) and match.expression.is_string:
            pattern = exp.Literal.string(f"^(?:{match.expression.this})$")
            match.replace(exp.RegexpLike(this=match.this, expression=pattern))
    for step in list(query.find_all(exp.UnixToTime)):
        scale = step.args.get("scale")
        floored = _step_of_timestamp(step.this) if scale is not None and str(scale.this) == "6" else None
        if floored is not None:
            step.replace(floored)


def _step_of_timestamp(argument: exp.Expression) -> exp.Expression | None:
    """KDA's STEP(ts BY interval), written `make_timestamp((epoch_us(ts) // n) * n)`, as
    FLOOR(ts TO unit) when the step is one whole unit."""
    product = argument.unnest() if isinstance(argument, exp.Paren) else argument
    if not isinstance(product, exp.Mul) or not isinstance(product.expression, exp.Literal):
        return None
    division = product.this.unnest() if isinstance(product.this, exp.Paren) else product.this
    if (
        not isinstance(division, exp.IntDiv)
        or not isinstance(division.this, exp.Anonymous)
        or str(division.this.this).lower() != "epoch_us"
    ):
        return None
    units = {1_000_000: "SECOND", 60_000_000: "MINUTE", 3_600_000_000: "HOUR", 86_400_000_000: "DAY"}
    unit = units.get(int(product.expression.this))
    if unit is None or str(division.expression.this) != str(product.expression.this):
        return None
    return exp.TimestampTrunc(this=division.this.expressions[0], unit=exp.var(unit))


def _drop_order_by(decl: QueryDecl, query: exp.Query) -> list[str]:
    """flowsql orders the rows of each batch it emits; a Flink stream sorts only on a time
    attribute, and delivers a window's rows when the window closes, windows in time order."""
    order = query.args.get("order")
    if order is None:
        return []
    query.set("order", None)
    note = (
        f"query into `{decl.target}`: ORDER BY {order.sql(DIALECT)[9:]} is left out; Flink emits each "
        "window's rows as it closes, windows in time order, rows within one in no set order"
    )
    return [note]


def _check_supported(pipeline: Pipeline, decl: QueryDecl, query: exp.Query, plan: Plan) -> None:
    timestamp_columns = _timestamp_columns(plan, decl)
    for node in query.walk():
        if _written_for_flink(node):
            continue
        if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order):
            key = sorted_list_key(node)
            if key is None or key.this != listed_value(node):
                raise unsupported(
                    pipeline,
                    decl,
                    node,
                    "list(... ORDER BY ...) has a Flink form only when ordered "
                    "by the listed value itself (ARRAY_SORT of ARRAY_AGG, which takes no ORDER BY)",
                )
        if isinstance(node, exp.Anonymous):
            if _window_call_parent(node):
                continue
            raise unsupported(pipeline, decl, node, f"the function {node.this!s}() has no Flink SQL equivalent")
        for kind, what in _NO_FLINK_FORM.items():
            if isinstance(node, kind):
                raise unsupported(pipeline, decl, node, f"{what} has no translation to Flink SQL here")
        if isinstance(node, exp.Func) and not isinstance(node, (*SUPPORTED_FUNCTIONS, *_OPERATORS)):
            raise unsupported(
                pipeline, decl, node, f"the function {node.sql_name().lower()}() has no Flink SQL translation"
            )
        if (
            isinstance(node, exp.UnixToTime)
            and isinstance(node.this, exp.Column)
            and node.this.name.lower() in timestamp_columns
        ):
            # DuckDB's epoch_ms(timestamp) gives milliseconds; Flink has no exact counterpart.
            raise unsupported(pipeline, decl, node, "epoch_ms() of a timestamp has no exact Flink SQL equivalent")
        if isinstance(node, (exp.TimestampTrunc, exp.DateTrunc)):
            unit = node.args.get("unit")
            if unit is None or unit.name.upper() not in TRUNCATE_UNITS:
                raise unsupported(
                    pipeline,
                    decl,
                    node,
                    f"date_trunc to {unit.name if unit else '?'!r} has no Flink FLOOR(... TO unit) form",
                )


def _written_for_flink(node: exp.Expr) -> bool:
    """A construct the rewrites above wrote in its Flink form: the Window Top-N's ROW_NUMBER,
    an interval join, and a struct field's regexp group (inside a full match, where both
    engines find the same text)."""
    if isinstance(node, exp.RowNumber):
        return isinstance(node.parent, exp.Window) and bool(node.parent.meta.get(TOP_N_MARK))
    if isinstance(node, exp.Join):
        return bool(node.meta.get(JOIN_MARK))
    return isinstance(node, exp.RegexpExtract) and bool(node.meta.get(FIELD_MARK))


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


def _rewrite_window(
    pipeline: Pipeline,
    decl: QueryDecl,
    table: exp.Table,
    call: exp.Anonymous,
    query: exp.Query,
    time_attributes: dict[str, set[str]],
) -> str:
    kind = _WINDOW_ALIASES.get(str(call.this).upper(), str(call.this).upper())
    stream, column, *intervals = call.expressions
    attributes = time_attributes.get(stream.name.lower(), set())
    if column.name.lower() not in attributes:
        raise unsupported(
            pipeline,
            decl,
            column,
            f"'{column.name}' of '{stream.name}' is no Flink time attribute",
            hint="Flink windows on a source's WATERMARK column or on arrival_time; windows over "
            "a windowed view's window_end are not translated",
        )
    partition: list[exp.Expr] = []
    if kind == "SESSION":
        partition = _session_keys(pipeline, decl, query)
        intervals = [_session_gap(pipeline, decl, intervals[0])]
    if kind == "HOP":
        intervals = [intervals[0], intervals[1]]  # flowsql and Flink both take slide, then size
    argument = TableArgument(this=exp.to_identifier(stream.name), partition=partition)
    tvf = exp.Anonymous(this=kind, expressions=[argument, Descriptor(this=exp.to_identifier(column.name)), *intervals])
    alias = table.args.get("alias")
    table.replace(exp.Table(this=TableFunction(this=tvf), alias=alias))
    return kind


def _session_gap(pipeline: Pipeline, decl: QueryDecl, gap: exp.Expression) -> exp.Expression:
    """flowsql starts a new session when rows lie a whole gap apart; Flink merges sessions that
    touch. A gap 1 ms shorter (times are milliseconds) splits where flowsql does."""
    unit = gap.args.get("unit") if isinstance(gap, exp.Interval) else None
    try:
        seconds = parse_duration(f"{gap.this.name} {unit.name}") if unit is not None else None
    except ValueError:
        seconds = None
    if seconds is None or seconds < 0.002:
        raise unsupported(pipeline, decl, gap, "a SESSION gap must be an interval literal of at least 2 ms here")
    # Flink's parser takes no MILLISECOND interval unit: a fraction of a SECOND says it.
    return exp.Interval(this=exp.Literal.string(f"{(round(seconds * 1000) - 1) / 1000:.3f}"), unit=exp.var("SECOND"))


def _shift_session_end(query: exp.Query) -> None:
    """With the shorter gap, Flink's window_end is 1 ms before flowsql's: the SELECT list adds it back."""
    select = query if isinstance(query, exp.Select) else query.find(exp.Select)
    if select is None:
        return
    for column in [c for e in select.expressions for c in e.find_all(exp.Column)]:
        if column.name.lower() == "window_end":
            shifted: exp.Expr = exp.Add(
                this=column.copy(), expression=exp.Interval(this=exp.Literal.string("0.001"), unit=exp.var("SECOND"))
            )
            if column.parent is select:
                shifted = exp.alias_(shifted, "window_end")
            column.replace(shifted)


def _session_keys(pipeline: Pipeline, decl: QueryDecl, query: exp.Query) -> list[exp.Expr]:
    """flowsql keeps one session per group key; Flink says so with PARTITION BY, which takes columns."""
    select = query if isinstance(query, exp.Select) else query.find(exp.Select)
    if select is None:
        return []
    keys: list[exp.Expr] = []
    for key in _group_expressions(select):
        if any(c.name.lower() in WINDOW_COLUMNS for c in key.find_all(exp.Column)):
            continue
        if not isinstance(key, exp.Column):
            raise unsupported(
                pipeline,
                decl,
                key,
                "a SESSION window's keys must be plain columns in Flink (SESSION ... PARTITION BY takes column names)",
            )
        keys.append(exp.column(key.name))
    return keys


def _group_expressions(select: exp.Select) -> list[exp.Expr]:
    group = select.args.get("group")
    if group is None:
        return []
    keys: list[exp.Expr] = []
    if group.args.get("all"):
        keys += [e.unalias().copy() for e in select.expressions if not _has_aggregate(e)]
    outputs = {e.alias.lower(): e.unalias() for e in select.expressions if isinstance(e, exp.Alias)}
    for item in group.expressions:
        if isinstance(item, exp.Literal) and item.is_int:
            keys.append(select.expressions[int(item.this) - 1].unalias().copy())
        elif (
            isinstance(item, exp.Column)
            and not item.table
            and item.name.lower() in outputs
            and item.name.lower() not in WINDOW_COLUMNS
        ):
            # Flink's GROUP BY sees input columns, not the SELECT list's aliases.
            keys.append(outputs[item.name.lower()].copy())
        else:
            keys.append(item.copy())
    return keys


def _has_aggregate(node: exp.Expression) -> bool:
    return any(not agg.find_ancestor(exp.Window) for agg in node.find_all(exp.AggFunc))


def _expand_group_by(select: exp.Select, windowed: bool) -> None:
    group = select.args.get("group")
    if group is None:
        return
    keys = _group_expressions(select)
    if windowed and _has_window_tvf(select):
        # A Flink window aggregate groups by both bounds, whichever of them the query selects.
        named = {k.name.lower() for k in keys if isinstance(k, exp.Column)}
        keys += [exp.column(c) for c in ("window_start", "window_end") if c not in named]
    if keys:
        select.set("group", exp.Group(expressions=keys))
    else:
        select.set("group", None)


def _has_window_tvf(select: exp.Select) -> bool:
    source = select.args.get("from_") or select.args.get("from")
    return source is not None and isinstance(source.this, exp.Table) and isinstance(source.this.this, TableFunction)


def _with_columns(query: exp.Query, columns: tuple[tuple[str, exp.Expression], ...]) -> exp.Query:
    extra = [exp.alias_(expression.copy(), name) for name, expression in columns]
    if isinstance(query, exp.Select) and not query.args.get("group") and not query.args.get("distinct"):
        return query.select(*extra, copy=False)
    return exp.select(exp.Star(), *extra).from_(
        exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("q")))
    )


__all__ = ["DIALECT", "TranslatedQuery", "UnsupportedError", "translate_query"]
