"""Rows a query fails on (a cast it rejects, an integer division by zero, error()) are set apart
and rejected with DuckDB's reason; the rest give exactly DuckDB's batch answer without them."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowsql.engine import Engine, plan_pipeline
from flowsql.engine.isolation import QUERY_FAILED, QueryError
from flowsql.pipeline import parse_text

BASE = datetime(2024, 3, 1, 12, 0, 0)
SOURCE = """
CREATE SOURCE events (id BIGINT, name VARCHAR, x BIGINT, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds') WITH (connector = 'stdin');
CREATE SINK out WITH (connector = 'stdout');
"""
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("name", pa.string()),
        ("x", pa.int64()),
        ("ts", pa.timestamp("us")),
        ("arrival_time", pa.timestamp("us")),
    ]
)
TUMBLE = "TUMBLE(events, ts, INTERVAL '10 seconds')"
CAST_ERROR = "Conversion Error: Could not convert string 'oops' to INT32"
DIVISION_ERROR = "Invalid Input Error: Division by zero in expression (100 // x)"


def make_rows(specs: list[tuple[str, int]]) -> list[dict]:
    """One row per (name, x), a second apart."""
    return [
        {"id": i, "name": name, "x": x, "ts": BASE + timedelta(seconds=i), "arrival_time": BASE}
        for i, (name, x) in enumerate(specs)
    ]


def run_stream(query: str, rows: list[dict], cuts: list[int] | None = None) -> tuple[list[tuple], list[tuple]]:
    """The query run as a stream over micro-batches cut at `cuts`: (output rows, rejected as
    (code, reason, id))."""
    plan = plan_pipeline(parse_text(SOURCE + f"INSERT INTO out {query};"), {"events": SCHEMA})
    outputs: list[pa.Table] = []
    rejected: list[tuple] = []

    def on_reject(op: object, item: tuple[str, str, pa.Table]) -> None:
        code, reason, table = item
        rejected.extend((code, reason, row["id"]) for row in table.to_pylist())

    engine = Engine(plan, lambda sink, table: outputs.append(table), on_reject)
    bounds = [0, *(cuts or []), len(rows)]
    for start, end in pairwise(bounds):
        engine.push("events", pa.Table.from_pylist(rows[start:end], SCHEMA))
    engine.finish()
    return sorted(tuple(map(repr, r.values())) for t in outputs for r in t.to_pylist()), sorted(rejected)


def batch_answer(query: str, rows: list[dict]) -> list[tuple]:
    """DuckDB's one-shot answer over `rows`, with the window written as a GROUP BY bucket."""
    con = duckdb.connect()
    con.register("events_all", pa.Table.from_pylist(rows, SCHEMA))
    sql = query.replace("FROM events", "FROM events_all").replace(
        TUMBLE,
        "(SELECT *, time_bucket(INTERVAL '10 seconds', ts) AS window_start, "
        "time_bucket(INTERVAL '10 seconds', ts) + INTERVAL '10 seconds' AS window_end FROM events_all)",
    )
    return sorted(tuple(map(repr, r.values())) for r in con.sql(sql).to_arrow_table().to_pylist())


GOOD_AND_BAD = [
    ("1", 5),
    ("2", 4),
    ("oops", 3),
    ("4", 0),
    ("5", 2),
    ("6", 1),
    ("7", 5),
    ("8", 4),
    ("9", 3),
    ("10", 2),
    ("11", 1),
    ("12", 5),
    ("13", 4),
    ("14", 0),
    ("15", 1),
]
ROWS = make_rows(GOOD_AND_BAD)

CASES = {
    "cast": ("SELECT id, CAST(name AS INTEGER) AS number FROM events", {2: CAST_ERROR}),
    "integer division": ("SELECT id, 100 // x AS share FROM events", {3: DIVISION_ERROR, 13: DIVISION_ERROR}),
    "error()": (
        "SELECT id, CASE WHEN name = '9' THEN error('nine is not allowed') ELSE name END AS name FROM events",
        {8: "Invalid Input Error: nine is not allowed"},
    ),
    # Raw rows kept: the query fails when the window closes.
    "window, at emission": (
        f"SELECT window_start, list(CAST(name AS INTEGER) ORDER BY id) AS numbers, "
        f"max(100 // x) AS top FROM {TUMBLE} GROUP BY ALL",
        {2: CAST_ERROR, 3: DIVISION_ERROR, 13: DIVISION_ERROR},
    ),
    # Partial aggregates: the query fails as rows are folded.
    "window, pre-aggregated": (
        f"SELECT window_start, sum(CAST(name AS INTEGER)) AS total, count(*) AS n FROM {TUMBLE} GROUP BY ALL",
        {2: CAST_ERROR},
    ),
    "window, row filter": (
        f"SELECT window_start, count(*) AS n FROM {TUMBLE} WHERE 100 // x > 20 GROUP BY ALL",
        {3: DIVISION_ERROR, 13: DIVISION_ERROR},
    ),
    "window, error()": (
        f"SELECT window_start, median(CASE WHEN x = 0 THEN error('x is ' || x) ELSE x END) AS mid "
        f"FROM {TUMBLE} GROUP BY ALL",
        {3: "Invalid Input Error: x is 0", 13: "Invalid Input Error: x is 0"},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("cuts", [[], [3, 7, 12]], ids=["one batch", "four batches"])
def test_rows_the_query_fails_on_are_rejected_and_the_rest_answer_as_without_them(case: str, cuts: list[int]) -> None:
    query, bad = CASES[case]
    output, rejected = run_stream(query, ROWS, cuts)
    assert output == batch_answer(query, [r for r in ROWS if r["id"] not in bad])
    assert [(code, row_id) for code, _, row_id in rejected] == [(QUERY_FAILED, i) for i in sorted(bad)]
    for _, reason, row_id in rejected:
        assert reason.startswith(bad[row_id]), reason
        assert "__flowsql" not in reason and "LINE 1" not in reason


def test_a_failure_no_single_row_causes_ends_the_run() -> None:
    """Each row alone fits an INTEGER; their sum does not: no row is to blame."""
    rows = make_rows([("a", 2_000_000_000), ("b", 2_000_000_000)])
    for query in (
        "SELECT CAST(sum(x) OVER () AS INTEGER) AS s FROM events",
        f"SELECT window_start, CAST(sum(x) AS INTEGER) AS s FROM {TUMBLE} GROUP BY ALL",
        f"SELECT window_start, CAST(sum(x) FILTER (WHERE x > 0) AS INTEGER) AS s FROM {TUMBLE} GROUP BY ALL",
    ):
        with pytest.raises(QueryError, match="not because of particular rows: .*Conversion Error") as failure:
            run_stream(query, rows)
        assert "__flowsql" not in str(failure.value)


def test_a_window_keeps_no_rejected_row_in_its_state() -> None:
    """A bad row in two hop windows is rejected when the first closes, and is gone from the second."""
    query = (
        "SELECT window_start, list(CAST(name AS INTEGER) ORDER BY id) AS numbers "
        "FROM HOP(events, ts, INTERVAL '5 seconds', INTERVAL '10 seconds') GROUP BY ALL"
    )
    rows = make_rows([("1", 1), ("2", 1), ("oops", 1), ("4", 1), ("5", 1), ("6", 1), ("7", 1), ("8", 1)])
    output, rejected = run_stream(query, rows, [1, 2, 3, 4, 5, 6, 7])
    assert [row_id for _, _, row_id in rejected] == [2]
    numbers = [eval(r[1]) for r in output]
    assert all(3 not in n for n in numbers) and sorted(sum(numbers, [])) == sorted([1, 2, 4, 5, 6, 7, 8] * 2)


@st.composite
def bad_streams(draw: st.DrawFn) -> tuple[list[dict], set[int], list[int]]:
    count = draw(st.integers(1, 80))
    specs, bad = [], set()
    for index in range(count):
        kind = draw(st.sampled_from(["good", "good", "good", "bad cast", "zero"]))
        number = draw(st.integers(-50, 50))
        specs.append(("oops" if kind == "bad cast" else str(number), 0 if kind == "zero" else draw(st.integers(1, 9))))
        if kind != "good":
            bad.add(index)
    rows = make_rows(specs)
    for row in rows:  # disorder within the watermark delay keeps every row on time
        row["ts"] += timedelta(milliseconds=draw(st.integers(0, 1900)))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, count - 1)), max_size=10))))
    return rows, bad, [c for c in cuts if c < count]


PROPERTY_QUERIES = [
    f"SELECT window_start, window_end, list(CAST(name AS INTEGER) ORDER BY id) AS numbers, sum(100 // x) AS shares "
    f"FROM {TUMBLE} GROUP BY ALL",
    f"SELECT window_start, count(*) AS n, sum(CAST(name AS INTEGER) + 100 // x) AS total FROM {TUMBLE} GROUP BY ALL",
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=bad_streams(), query=st.sampled_from(PROPERTY_QUERIES))
def test_random_bad_rows_through_tumbling_windows(stream: tuple[list[dict], set[int], list[int]], query: str) -> None:
    rows, bad, cuts = stream
    output, rejected = run_stream(query, rows, cuts)
    assert output == batch_answer(query, [r for r in rows if r["id"] not in bad])
    assert sorted(row_id for _, _, row_id in rejected) == sorted(bad)
    assert {code for code, _, _ in rejected} <= {QUERY_FAILED}
