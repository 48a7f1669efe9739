"""Top-K per window (`QUALIFY ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY ...) <= N`
over a TUMBLE or HOP aggregate) as Flink's Window Top-N: the aggregate in a subquery, the
row number over it, and the filter around that, which Flink runs as one append-only step."""

from __future__ import annotations

from sqlglot import exp

from flowsql.compile.unsupported import unsupported
from flowsql.engine.planner import window_call
from flowsql.pipeline.model import Pipeline, QueryDecl

TOP_N_MARK = "flink_top_n"  # meta key of the ROW_NUMBER window this rewrite writes
_ROW_NUMBER = "row__number"


def rewrite_top_n(pipeline: Pipeline, decl: QueryDecl, query: exp.Query) -> exp.Query:
    """`query` with its QUALIFY written as a Window Top-N, or as it was when it has none."""
    qualify = query.args.get("qualify") if isinstance(query, exp.Select) else None
    if qualify is None:
        return query
    assert isinstance(query, exp.Select)
    limit, window = _limit_and_window(qualify.this)
    if limit is None or window is None or not _windowed_aggregate(query):
        raise unsupported(
            pipeline,
            decl,
            qualify,
            "QUALIFY has a Flink form only as a top-K per window: "
            "ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY ...) <= N over a TUMBLE or HOP "
            "aggregate",
            hint="keep this pipeline on flowsql run",
        )
    names = [e.alias_or_name for e in query.expressions]
    if not all(names) or len({n.lower() for n in names}) != len(names):
        raise unsupported(pipeline, decl, query, "a top-K query's SELECT items need distinct names in Flink")
    inner = query.copy()
    inner.set("qualify", None)
    inner.set("order", None)
    partition = [exp.column("window_start"), exp.column("window_end")]
    for index, key in enumerate(window.args.get("partition_by") or []):
        if not (isinstance(key, exp.Column) and key.name.lower() in ("window_start", "window_end")):
            partition.append(_ranked_column(inner, key, f"p__{index}", names))
    order = [
        exp.Ordered(this=_ranked_column(inner, key.this, f"k__{index}", names), desc=key.args.get("desc"))
        for index, key in enumerate(window.args["order"].expressions)
    ]
    for bound in ("window_start", "window_end"):
        if bound not in {n.lower() for n in names}:
            inner.select(exp.column(bound), copy=False)
    row_number = exp.Window(this=exp.RowNumber(), partition_by=partition, order=exp.Order(expressions=order))
    row_number.meta[TOP_N_MARK] = True
    ranked = exp.select(exp.Star(), exp.alias_(row_number, _ROW_NUMBER)).from_(inner.subquery("q"))
    outer = exp.select(*(exp.column(n, quoted=True) for n in names)).from_(ranked.subquery("q"))
    outer = outer.where(exp.LTE(this=exp.column(_ROW_NUMBER), expression=exp.Literal.number(limit)))
    if query.args.get("order") is not None:
        outer.set("order", query.args["order"])  # left out later, with a note saying so
    return outer


def _ranked_column(inner: exp.Select, key: exp.Expression, name: str, names: list[str]) -> exp.Column:
    """The column the ranking reads `key` from: a SELECT item of that name (GROUP BY names the
    item, not the input column), else a new item of the subquery."""
    if isinstance(key, exp.Column) and not key.table:
        found = next((n for n in names if n.lower() == key.name.lower()), None)
        if found is not None:
            return exp.column(found, quoted=True)
    inner.select(exp.alias_(key.copy(), name), copy=False)
    return exp.column(name)


def _limit_and_window(condition: exp.Expression) -> tuple[int | None, exp.Window | None]:
    """N and the ROW_NUMBER window of `ROW_NUMBER() OVER (...) <= N` (or `< N + 1`)."""
    if (
        not isinstance(condition, (exp.LTE, exp.LT))
        or not isinstance(condition.expression, exp.Literal)
        or not condition.expression.is_int
    ):
        return None, None
    window = condition.this
    if (
        not isinstance(window, exp.Window)
        or not isinstance(window.this, exp.RowNumber)
        or window.args.get("order") is None
        or window.args.get("spec") is not None
    ):
        return None, None
    partition = window.args.get("partition_by") or []
    if not any(isinstance(k, exp.Column) and k.name.lower() == "window_start" for k in partition):
        return None, None
    limit = int(condition.expression.this) - (1 if isinstance(condition, exp.LT) else 0)
    return (limit, window) if limit >= 1 else (None, None)


def _windowed_aggregate(select: exp.Select) -> bool:
    """A GROUP BY over one TUMBLE or HOP call, whose window_start fixes window_end."""
    source = select.args.get("from_")
    call = window_call(source.this) if source is not None and isinstance(source.this, exp.Table) else None
    return (
        select.args.get("group") is not None
        and call is not None
        and str(call.this).upper() in ("TUMBLE", "HOP")
        and not select.args.get("joins")
    )
