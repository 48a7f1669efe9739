"""The expression rules a pump's translation applies, each on its own query."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from flowsql.kda.division import integer_division
from flowsql.kda.translate import (
    _carry_time_through_subqueries,
    _first_last_as_aggregates,
    _rename_system_columns,
)
from flowsql.pipeline.model import Column


def _select(sql: str) -> exp.Select:
    query = sqlglot.parse_one(sql, read="duckdb")
    assert isinstance(query, exp.Select)
    return query


def test_first_and_last_value_become_aggregates_ordered_by_rowtime() -> None:
    query = _select("SELECT FIRST_VALUE(p), LAST_VALUE(p), FIRST_VALUE(p) OVER (ORDER BY t) FROM s")
    _first_last_as_aggregates(query, "arrival_time")
    assert query.sql("duckdb") == (
        'SELECT FIRST(p ORDER BY "arrival_time"), LAST(p ORDER BY "arrival_time"), '
        "FIRST_VALUE(p) OVER (ORDER BY t) FROM s"
    )


def test_integer_division_only_where_both_sides_are_integers() -> None:
    query = _select("SELECT a / 2, a / x, COUNT(*) / 3, CAST(x AS INT) / (a - 1), TSDIFF(t, u) / 1000, 7 / 2.0 FROM s")
    integer_division(query, [Column("a", "INTEGER"), Column("x", "DOUBLE")])
    assert query.sql("duckdb") == (
        "SELECT a // 2, a / x, COUNT(*) // 3, CAST(x AS INT) // (a - 1), TSDIFF(t, u) // 1000, 7 / 2.0 FROM s"
    )


def test_integer_division_of_integer_cases_and_coalesces() -> None:
    query = _select(
        "SELECT SUM(CASE WHEN k = 'x' THEN 1 ELSE 0 END) / COUNT(*), "
        "CASE WHEN k = 'x' THEN 1 END / 2, COALESCE(a, 0) / 2, CASE WHEN k = 'x' THEN 1.5 ELSE 0 END / 2 FROM s"
    )
    integer_division(query, [Column("a", "BIGINT")])
    assert query.sql("duckdb") == (
        "SELECT SUM(CASE WHEN k = 'x' THEN 1 ELSE 0 END) // COUNT(*), "
        "CASE WHEN k = 'x' THEN 1 END // 2, COALESCE(a, 0) // 2, "
        "CASE WHEN k = 'x' THEN 1.5 ELSE 0 END / 2 FROM s"
    )


def test_rowtime_is_carried_through_each_subquery_but_not_into_a_grouped_or_starred_one() -> None:
    query = _select("SELECT v FROM (SELECT v FROM (SELECT x AS v FROM s) AS a) AS b")
    _carry_time_through_subqueries(query, next(query.find_all(exp.Table)), "arrival_time")
    assert query.sql("duckdb") == (
        "SELECT v FROM (SELECT v, arrival_time FROM (SELECT x AS v, arrival_time FROM s) AS a) AS b"
    )
    grouped = _select("SELECT v FROM (SELECT k, COUNT(*) AS v FROM s GROUP BY k) AS a")
    starred = _select("SELECT v FROM (SELECT * FROM s) AS a")
    for query in (grouped, starred):
        before = query.sql("duckdb")
        _carry_time_through_subqueries(query, next(query.find_all(exp.Table)), "arrival_time")
        assert query.sql("duckdb") == before


def test_rowtime_and_arrival_time_name_the_time_column() -> None:
    query = _select("SELECT ROWTIME, s.ROWTIME, APPROXIMATE_ARRIVAL_TIME FROM s")
    _rename_system_columns(query, "arrival_time", is_source=True)
    assert query.sql("duckdb") == "SELECT arrival_time, s.arrival_time, arrival_time FROM s"
    query = _select("SELECT ROWTIME, APPROXIMATE_ARRIVAL_TIME FROM v")
    _rename_system_columns(query, "window_end", is_source=False)
    assert query.sql("duckdb") == "SELECT window_end, APPROXIMATE_ARRIVAL_TIME FROM v"
