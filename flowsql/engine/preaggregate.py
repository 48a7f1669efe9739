"""Pre-aggregation: a TUMBLE, HOP or SESSION query whose aggregates decompose keeps partial
aggregates per pane (or open session) and key instead of raw rows.

As each micro-batch arrives, its rows are folded into partial aggregates per pane (the
greatest common divisor of the window's size and slide, so a pane lies wholly inside every
window it touches) and per the columns the query reads outside its aggregates. When a window
closes, the user's query runs over the panes, with each aggregate replaced by the merge of its
partials: count and sum add up, min and max take the extreme, avg divides a summed sum by a
summed count; a FILTER (WHERE ...) applies as rows are folded. A DISTINCT aggregate keeps its
argument's columns as keys and runs as written.
A hop window's rows are thus aggregated once, not once per window they fall in, and state
holds one row per pane and key. Anything else (ordered or holistic aggregates, window functions,
subqueries) keeps raw rows: the query then runs on them as written.
A session's partials are kept per session instead of per pane: when a micro-batch joins or
bridges sessions, their partials merge with the same functions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import duckdb
import pyarrow as pa
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

from flowsql.engine.windows import WindowSpec, assignment_sql
from flowsql.pipeline.functions import UserFunction
from flowsql.scratch_sql import scratch_connection

_DIALECT = DuckDB()
PANE_COLUMN = "__pane"
# A session's bounds (µs) in its partials' rows; its key values are __k0, __k1, ...
SESSION_BOUNDS = ("__ws", "__last")
_WINDOW_COLUMNS = ("window_start", "window_end")
_MERGEABLE = (exp.Count, exp.Sum, exp.Min, exp.Max, exp.Avg)


@dataclass(frozen=True)
class PreAggregation:
    """How one window query keeps partials: the pane width, the SQL that folds raw rows into
    partials, and the user's query rewritten to merge them (both with the input placeholder)."""

    pane_us: int
    partial_template: str
    final_template: str
    keys: tuple[str, ...] = ()  # the input columns the partials are kept per (beside pane or session)
    merges: tuple[str, ...] = ()  # per partial column, the SQL that merges it into one of the same name
    reads: tuple[str, ...] = ()  # every input column the partials are folded from

    def state_window(self, spec: WindowSpec) -> WindowSpec:
        """The query's window, assigned by pane start instead of row time."""
        return replace(spec, time_column=PANE_COLUMN)


def plan_preaggregation(
    query: exp.Expr,
    placeholder: str,
    spec: WindowSpec,
    input_schema: pa.Schema,
    has_row_filter: bool,
    output_schema: pa.Schema,
    functions: tuple[UserFunction, ...] = (),
) -> PreAggregation | None:
    """The pre-aggregation of a planned window query (its input already replaced by
    `placeholder`), or None when its aggregates do not all decompose."""
    if spec.kind not in ("tumble", "hop", "session") or not isinstance(query, exp.Select):
        return None
    if not _plain_select(query, placeholder, has_row_filter):
        return None
    input_names = {name.lower(): name for name in input_schema.names}
    aggregates = list(query.find_all(exp.AggFunc))
    if not aggregates or any(not _mergeable(a) for a in aggregates):
        return None
    if spec.kind != "hop" and any(_is_distinct(a) for a in aggregates):
        # Each row of a tumbling or session window is aggregated once anyway; partials keyed by a DISTINCT
        # column (user ids, say) hardly shrink, so folding them would only add a pass.
        return None
    if any(str(f.this).lower() in _duckdb_aggregates() for f in query.find_all(exp.Anonymous)):
        return None  # an aggregate only DuckDB knows: its partials are unknown
    reads = [_with_filter(a) for a in aggregates]
    if any(c.name.lower() in _WINDOW_COLUMNS for node in reads for c in node.find_all(exp.Column)):
        return None
    final = query.copy()
    final.set("where", None)
    partials: list[str] = []
    keys: dict[str, str] = {}
    for index, aggregate in enumerate(list(final.find_all(exp.AggFunc))):
        if _is_distinct(aggregate):
            _add_keys(aggregate, input_names, keys)
            continue
        row_filter = _filter_of(aggregate)
        merge = _fold(aggregate, row_filter, f"__p{index}", partials)
        _with_filter(aggregate).replace(merge)
    for column in final.find_all(exp.Column):
        name = column.name.lower()
        if name in input_names and name not in _WINDOW_COLUMNS and not column.find_ancestor(exp.AggFunc):
            keys[name] = input_names[name]
    for aggregate in final.find_all(exp.AggFunc):  # the DISTINCT ones, kept as written
        _add_keys(aggregate, input_names, keys)
    key_sql = "".join(f', "{_escape(name)}"' for name in keys.values())
    alias = _alias(query, placeholder)
    if spec.kind == "session":
        pane_us = 0
        unit = ", ".join([*(f"__k{i}" for i in range(len(spec.keys))), *SESSION_BOUNDS])
    else:
        pane_us = math.gcd(spec.size_us, spec.slide_us)
        time_us = f'epoch_us(CAST("{_escape(spec.time_column)}" AS TIMESTAMP))'
        unit = f'make_timestamp(({time_us} // {pane_us}) * {pane_us}) AS "{PANE_COLUMN}"'
    partial_template = (
        f'SELECT {unit}{key_sql}, {", ".join(partials)} FROM {placeholder} AS "{_escape(alias)}" GROUP BY ALL'
    )
    merges = tuple(_merge_of(partial) for partial in partials)
    read = {c.name.lower() for node in reads for c in node.find_all(exp.Column)} & input_names.keys()
    read_names = tuple(dict.fromkeys([*keys.values(), *(input_names[name] for name in sorted(read))]))
    plan = PreAggregation(pane_us, partial_template, final.sql(_DIALECT), tuple(keys.values()), merges, read_names)
    return plan if _same_output(plan, spec, input_schema, placeholder, output_schema, functions) else None


def _merge_of(partial: str) -> str:
    """The SQL merging one partial column (`function(...) AS name`) into one of its name and type."""
    function, name = partial.split("(", 1)[0], partial.rsplit(" AS ", 1)[1]
    merged = {"count": f"CAST(sum({name}) AS BIGINT)", "sum": f"sum({name})"}.get(function, f"{function}({name})")
    return f"{merged} AS {name}"


@functools.cache
def _duckdb_aggregates() -> frozenset[str]:
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'aggregate'"
        ).fetchall()
    return frozenset(name.lower() for (name,) in rows)


def _plain_select(query: exp.Select, placeholder: str, has_row_filter: bool) -> bool:
    """One SELECT over the input alone, with no construct that needs the raw rows."""
    if query.args.get("with") or query.args.get("joins") or query.args.get("distinct") or query.args.get("qualify"):
        return False
    if query.args.get("where") is not None and not has_row_filter:
        return False  # a WHERE that is not a row filter (it reads window bounds or a subquery)
    if query.args.get("group") is None or query.find(exp.Window) is not None:
        return False
    if any(s is not query for s in query.find_all(exp.Select)):
        return False
    sources = [t for t in query.find_all(exp.Table)]
    return len(sources) == 1 and sources[0].name == placeholder


def _mergeable(aggregate: exp.AggFunc) -> bool:
    if not isinstance(aggregate, _MERGEABLE) or aggregate.args.get("expressions"):
        return False
    if isinstance(aggregate.parent, exp.WithinGroup) or aggregate.find_ancestor(exp.AggFunc):
        return False
    if any(True for _ in aggregate.this.find_all(exp.AggFunc)) if aggregate.this is not None else False:
        return False
    row_filter = _filter_of(aggregate)
    if row_filter is not None:
        # FILTER (WHERE ...) folds with its aggregate; a DISTINCT one would need the raw rows.
        return not _is_distinct(aggregate) and row_filter.find(exp.Subquery, exp.AggFunc) is None
    return True


def _filter_of(aggregate: exp.AggFunc) -> exp.Expression | None:
    parent = aggregate.parent
    return parent.expression if isinstance(parent, exp.Filter) and parent.this is aggregate else None


def _with_filter(aggregate: exp.AggFunc) -> exp.Expr:
    """The aggregate with its FILTER (WHERE ...) clause, when it has one."""
    parent = aggregate.parent
    return parent if isinstance(parent, exp.Filter) and parent.this is aggregate else aggregate


def _is_distinct(aggregate: exp.AggFunc) -> bool:
    return isinstance(aggregate.this, exp.Distinct)


def _add_keys(aggregate: exp.AggFunc, input_names: dict[str, str], keys: dict[str, str]) -> None:
    for column in aggregate.find_all(exp.Column):
        name = column.name.lower()
        if name in input_names:
            keys[name] = input_names[name]


def _fold(aggregate: exp.AggFunc, row_filter: exp.Expression | None, name: str, partials: list[str]) -> exp.Expression:
    """Add the partials of one aggregate; return the expression that merges them."""
    argument = aggregate.this
    argument_sql = "*" if argument is None or isinstance(argument, exp.Star) else argument.sql(_DIALECT)
    only = f" FILTER ({row_filter.sql(_DIALECT)})" if row_filter is not None else ""
    if isinstance(aggregate, exp.Count):
        partials.append(f"count({argument_sql}){only} AS {name}")
        merge = f"CAST(sum({name}) AS BIGINT)"
    elif isinstance(aggregate, exp.Avg):
        partials.append(f"sum({argument_sql}){only} AS {name}s")
        partials.append(f"count({argument_sql}){only} AS {name}c")
        merge = f"(sum({name}s) / nullif(sum({name}c), 0))"
    else:
        function = aggregate.sql_name().lower()
        partials.append(f"{function}({argument_sql}){only} AS {name}")
        merge = f"{function}({name})"
    return exp.maybe_parse(merge, dialect=_DIALECT)


def _alias(query: exp.Select, placeholder: str) -> str:
    table = next(t for t in query.find_all(exp.Table) if t.name == placeholder)
    return table.alias or placeholder


def _escape(name: str) -> str:
    return name.replace('"', '""')


def _same_output(
    plan: PreAggregation,
    spec: WindowSpec,
    input_schema: pa.Schema,
    placeholder: str,
    output_schema: pa.Schema,
    functions: tuple[UserFunction, ...],
) -> bool:
    """The rewritten query must give the very columns and types of the query as written; when
    DuckDB types a merge differently (decimal averages, say), raw rows are kept instead."""
    rows = "__flowsql_empty"
    if spec.kind == "session":
        keys = "".join(f", {key} AS __k{i}" for i, key in enumerate(spec.keys))
        rows = f"(SELECT *{keys}, 0::BIGINT AS __ws, 0::BIGINT AS __last FROM __flowsql_empty)"
    try:
        with scratch_connection(functions, __flowsql_empty=input_schema.empty_table()) as con:
            partials = con.sql(plan.partial_template.replace(placeholder, rows)).to_arrow_table()
        if spec.kind == "session":
            assigned = f"({session_partials_sql('__flowsql_partials', spec.gap_us)})"
        else:
            assigned = f"({assignment_sql(plan.state_window(spec), '__flowsql_partials', None, None)})"
        with scratch_connection(functions, __flowsql_partials=partials) as con:
            schema = con.sql(plan.final_template.replace(placeholder, assigned)).to_arrow_table().schema
    except duckdb.Error:
        return False
    return schema == output_schema


def session_partials_sql(relation: str, gap_us: int) -> str:
    """A session's partials with its window bounds, as the merging query reads them."""
    return (
        f"SELECT *, make_timestamp(__ws) AS window_start, make_timestamp(__last + {gap_us}) AS window_end "
        f"FROM {relation}"
    )
