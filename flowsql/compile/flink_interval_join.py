"""KDA's stream-to-stream join as a Flink interval join: a row pairs with the other side's rows
within that side's window before it, so the left row's time lies between the right row's minus
the left window and plus the right window. An outer join's unmatched rows are the same rows."""

from __future__ import annotations

from sqlglot import exp

from flowsql.kda.stream_join import _ROWTIME_MARK, JoinSpec

JOIN_MARK = "flink_interval_join"  # meta key of a join this module bounded in time


def interval_join_reason(spec: JoinSpec) -> str | None:
    """Why `spec` has no interval-join form here, or None when it has one."""
    if any(_interval(us or 0) is None for us in spec.windows_us):
        return "a stream join window of a fraction of a second over 100 s has no Flink interval literal here"
    return None


def rewrite_interval_join(query: exp.Query, spec: JoinSpec) -> None:
    """Bound the join of `query` in time, and write a bare ROWTIME as the later of the pair's;
    an outer join's unmatched row comes out when its window ends, and that is its ROWTIME."""
    join = query.find(exp.Join)
    assert join is not None and isinstance(query, exp.Select)
    left, right = (exp.column(spec.rowtime, table=alias, quoted=True) for alias in spec.aliases)
    # A side without a window offers only rows of the same time: a window of 0.
    left_window, right_window = (_interval(us or 0) for us in spec.windows_us)
    assert left_window is not None and right_window is not None  # interval_join_reason said so
    within = exp.Between(
        this=left.copy(),
        low=exp.Sub(this=right.copy(), expression=left_window),
        high=exp.Add(this=right.copy(), expression=right_window),
    )
    join.set("on", exp.And(this=exp.Paren(this=join.args["on"]), expression=within))
    join.meta[JOIN_MARK] = True
    later = exp.Coalesce(
        this=exp.Greatest(this=left.copy(), expressions=[right.copy()]),
        expressions=[
            exp.Add(this=left.copy(), expression=left_window.copy()),
            exp.Add(this=right.copy(), expression=right_window.copy()),
        ],
    )
    for column in list(query.find_all(exp.Column)):
        if column.name == _ROWTIME_MARK:
            column.replace(later.copy())


def _interval(microseconds: int) -> exp.Interval | None:
    """The window as an INTERVAL in a whole unit, or in seconds to the millisecond below 100 s
    (SECOND holds two digits before the point); None when it is neither."""
    if microseconds == 0:
        return exp.Interval(this=exp.Literal.string("0"), unit=exp.var("SECOND"))
    for unit, length in (
        ("DAY", 86_400_000_000),
        ("HOUR", 3_600_000_000),
        ("MINUTE", 60_000_000),
        ("SECOND", 1_000_000),
    ):
        if microseconds >= length and microseconds % length == 0:
            return exp.Interval(this=exp.Literal.string(str(microseconds // length)), unit=exp.var(unit))
    if microseconds % 1000 or microseconds >= 100_000_000:
        return None
    millis = microseconds // 1000
    return exp.Interval(this=exp.Literal.string(f"{millis // 1000}.{millis % 1000:03d}"), unit=exp.var("SECOND"))
