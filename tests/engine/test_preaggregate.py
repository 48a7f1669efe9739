"""Pre-aggregated windows give exactly the answer of the query run on raw rows, and only
queries whose aggregates decompose are pre-aggregated."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from flowsql.engine import plan_pipeline
from flowsql.pipeline import parse_text
from tests.engine.test_oracle import SOURCE, WINDOWS, run_batch, run_streaming, streams

DECOMPOSABLE = """count(*) AS n, count(DISTINCT user_id) AS users, sum(amount) AS total, min(amount) AS low,
       max(amount) AS high, avg(amount) AS mean, count(user_id) AS named, sum(amount * 2) + 1 AS twice,
       count(*) FILTER (WHERE amount > 50) AS big, avg(amount) FILTER (WHERE page = '/a') AS mean_a"""
# A tumbling window's partials keyed by a DISTINCT column hardly shrink: those keep raw rows.
TUMBLE_DECOMPOSABLE = DECOMPOSABLE.replace("count(DISTINCT user_id) AS users, ", "")
SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("page", pa.string()),
        ("amount", pa.int64()),
        ("ts", pa.timestamp("us")),
        ("arrival_time", pa.timestamp("us")),
    ]
)


def plan_of(query: str):  # type: ignore[no-untyped-def]
    return plan_pipeline(parse_text(SOURCE + f"INSERT INTO out {query};"), {"events": SCHEMA}).operators[0]


def batch_query(window_sql: str, aggregates: str = DECOMPOSABLE) -> str:
    return f"SELECT window_start, window_end, page, {aggregates} FROM ({window_sql}) GROUP BY ALL"


def tumble_rows() -> str:
    return """SELECT *, time_bucket(INTERVAL 10 SECOND, ts, TIMESTAMP '1970-01-01') AS window_start,
        time_bucket(INTERVAL 10 SECOND, ts, TIMESTAMP '1970-01-01') + INTERVAL 10 SECOND AS window_end
        FROM events_all"""


def hop_rows(slide: int, size: int) -> str:
    return f"""SELECT e.*, w.ws AS window_start, w.ws + INTERVAL {size} SECOND AS window_end
        FROM events_all e JOIN (
            SELECT unnest(generate_series(TIMESTAMP '2024-03-01 11:59:00', TIMESTAMP '2024-03-01 12:03:00',
                                          INTERVAL {slide} SECOND)) AS ws) w
        ON e.ts >= w.ws AND e.ts < w.ws + INTERVAL {size} SECOND"""


QUERY = "SELECT window_start, window_end, page, " + DECOMPOSABLE + " FROM {window} GROUP BY ALL"


def test_decomposable_queries_are_preaggregated_by_pane() -> None:
    plan = plan_of(QUERY.format(window=WINDOWS["hop_uneven"]))
    assert plan.preaggregate is not None
    assert plan.preaggregate.pane_us == 2_000_000  # gcd of the 4 s slide and the 10 s size
    assert '"page"' in plan.preaggregate.partial_template and '"user_id"' in plan.preaggregate.partial_template


def test_decomposable_session_queries_keep_partials_per_session() -> None:
    query = "SELECT window_start, window_end, lower(page) AS p, count(*) AS n FROM {window} GROUP BY ALL"
    pre = plan_of(query.format(window=WINDOWS["session"])).preaggregate
    assert pre is not None
    assert pre.keys == ("page",) and pre.merges == ("CAST(sum(__p0) AS BIGINT) AS __p0",)
    assert pre.partial_template.startswith('SELECT __k0, __ws, __last, "page", count(*) AS __p0 FROM')


@pytest.mark.parametrize(
    "query",
    [
        "SELECT window_start, page, median(amount) AS m FROM {window} GROUP BY ALL",
        "SELECT window_start, page, count(*) AS n, count(DISTINCT user_id) AS u FROM {window} GROUP BY ALL",
        "SELECT window_start, page, count(DISTINCT user_id) FILTER (WHERE amount > 5) AS big "
        "FROM {window} GROUP BY ALL",
        "SELECT window_start, page, count(*) FILTER (WHERE ts < window_end - INTERVAL 1 SECOND) AS n "
        "FROM {window} GROUP BY ALL",
        "SELECT window_start, page, list(amount ORDER BY ts) AS a FROM {window} GROUP BY ALL",
        "SELECT window_start, page, histogram(user_id) AS h FROM {window} GROUP BY ALL",
        "SELECT window_start, page, sum(amount) AS s FROM {window} "
        "WHERE ts < window_end - INTERVAL 1 SECOND GROUP BY ALL",
        "SELECT window_start, page, sum(amount) - lag(sum(amount)) OVER (ORDER BY page) AS d "
        "FROM {window} GROUP BY window_start, page",
        "SELECT window_start, window_end, page, count(DISTINCT user_id) AS n FROM {window} GROUP BY ALL".replace(
            "{window}", WINDOWS["session"]
        ),
    ],
)
def test_other_queries_keep_raw_rows(query: str) -> None:
    assert plan_of(query.replace("{window}", WINDOWS["tumble"])).preaggregate is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_preaggregated_tumble_matches_batch(stream: tuple[list[dict], list[int]]) -> None:
    rows, cuts = stream
    query = QUERY.replace(DECOMPOSABLE, TUMBLE_DECOMPOSABLE).format(window=WINDOWS["tumble"])
    assert plan_of(query).preaggregate is not None
    assert run_streaming(query, rows, cuts) == run_batch(batch_query(tumble_rows(), TUMBLE_DECOMPOSABLE), rows)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_preaggregated_hop_matches_batch(stream: tuple[list[dict], list[int]]) -> None:
    rows, cuts = stream
    assert run_streaming(QUERY.format(window=WINDOWS["hop"]), rows, cuts) == run_batch(
        batch_query(hop_rows(5, 15)), rows
    )
    assert run_streaming(QUERY.format(window=WINDOWS["hop_uneven"]), rows, cuts) == run_batch(
        batch_query(hop_rows(4, 10)), rows
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_having_order_and_row_filter_apply_as_written(stream: tuple[list[dict], list[int]]) -> None:
    rows, cuts = stream
    query = (
        "SELECT window_start, window_end, page, " + DECOMPOSABLE + " FROM {window} WHERE amount % 3 <> 0 "
        "GROUP BY ALL HAVING count(*) > 1 AND avg(amount) > 20"
    )
    assert plan_of(query.format(window=WINDOWS["hop"])).preaggregate is not None
    expected = run_batch(
        f"SELECT window_start, window_end, page, {DECOMPOSABLE} FROM ({hop_rows(5, 15)}) "
        "WHERE amount % 3 <> 0 GROUP BY ALL HAVING count(*) > 1 AND avg(amount) > 20",
        rows,
    )
    assert run_streaming(query.format(window=WINDOWS["hop"]), rows, cuts) == expected
