"""The oracle property: a window query run as a stream, over random micro-batches with disorder
inside the watermark, gives exactly DuckDB's one-shot batch answer over the same rows."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from itertools import pairwise

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowsql.engine import Engine, plan_pipeline
from flowsql.pipeline import parse_text

BASE = datetime(2024, 3, 1, 12, 0, 0)
DELAY_S = 4
AGGREGATES = """count(*) AS n, count(DISTINCT user_id) AS users, sum(amount) AS total, min(amount) AS low,
       max(amount) AS high, median(amount) AS mid,
       arg_max(user_id, amount * 100 + CAST(substr(user_id, 2) AS BIGINT)) AS top_user,
       list_sort(list(amount)) AS amounts, count(*) FILTER (WHERE amount > 50) AS big"""

SOURCE = f"""
CREATE SOURCE events (user_id VARCHAR, page VARCHAR, amount BIGINT, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '{DELAY_S} seconds') WITH (connector = 'stdin');
CREATE SINK out WITH (connector = 'stdout');
"""

WINDOWS = {
    "tumble": "TUMBLE(events, ts, INTERVAL '10 seconds')",
    "hop": "HOP(events, ts, INTERVAL '5 seconds', INTERVAL '15 seconds')",
    "hop_uneven": "HOP(events, ts, INTERVAL '4 seconds', INTERVAL '10 seconds')",
    "session": "SESSION(events, ts, INTERVAL '3 seconds')",
}


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict], list[int]]:
    count = draw(st.integers(1, 120))
    rows = []
    for _ in range(count):
        rows.append(
            {
                "user_id": f"u{draw(st.integers(0, 6))}",
                "page": draw(st.sampled_from(["/a", "/b", "/c"])),
                "amount": draw(st.integers(0, 100)),
                "ts": BASE + timedelta(milliseconds=draw(st.integers(0, 90_000))),
            }
        )
    seed = draw(st.integers(0, 2**32 - 1))
    # Disorder bounded by the watermark delay: arrival order sorts by ts + U[0, delay).
    rng = random.Random(seed)
    rows.sort(key=lambda r: r["ts"] + timedelta(seconds=rng.uniform(0, DELAY_S - 0.001)))
    cuts = sorted(draw(st.lists(st.integers(1, max(1, count - 1)), max_size=12)))
    return rows, cuts


def run_streaming(query: str, rows: list[dict], cuts: list[int]) -> list[tuple]:
    pipeline = parse_text(SOURCE + f"INSERT INTO out {query};")
    schema = pa.schema(
        [
            ("user_id", pa.string()),
            ("page", pa.string()),
            ("amount", pa.int64()),
            ("ts", pa.timestamp("us")),
            ("arrival_time", pa.timestamp("us")),
        ]
    )
    plan = plan_pipeline(pipeline, {"events": schema})
    outputs: list[pa.Table] = []
    rejected: list = []
    engine = Engine(plan, lambda sink, table: outputs.append(table), lambda op, r: rejected.append(r))
    bounds = [0, *cuts, len(rows)]
    for start, end in pairwise(bounds):
        batch = [dict(r, arrival_time=BASE) for r in rows[start:end]]
        engine.push("events", pa.Table.from_pylist(batch, schema))
    engine.finish()
    assert rejected == [], "disorder within the watermark must never be late"
    return sorted(tuple(map(repr, r.values())) for t in outputs for r in t.to_pylist())


def run_batch(query: str, rows: list[dict]) -> list[tuple]:
    con = duckdb.connect()
    con.register("events_all", pa.Table.from_pylist(rows))
    result = con.sql(query).to_arrow_table()
    return sorted(tuple(map(repr, r.values())) for r in result.to_pylist())


def tumble_batch(rows: list[dict]) -> str:
    return f"""SELECT window_start, window_end, page, {AGGREGATES} FROM (
        SELECT *, time_bucket(INTERVAL 10 SECOND, ts, TIMESTAMP '1970-01-01') AS window_start,
               time_bucket(INTERVAL 10 SECOND, ts, TIMESTAMP '1970-01-01') + INTERVAL 10 SECOND AS window_end
        FROM events_all) GROUP BY window_start, window_end, page"""


def hop_batch(slide: int, size: int) -> str:
    # Every window [k*slide, k*slide + size) that holds the row, from a generated list of starts.
    return f"""SELECT window_start, window_end, page, {AGGREGATES} FROM (
        SELECT e.*, w.ws AS window_start, w.ws + INTERVAL {size} SECOND AS window_end
        FROM events_all e JOIN (
            SELECT unnest(generate_series(TIMESTAMP '2024-03-01 11:59:00', TIMESTAMP '2024-03-01 12:03:00',
                                          INTERVAL {slide} SECOND)) AS ws) w
        ON e.ts >= w.ws AND e.ts < w.ws + INTERVAL {size} SECOND) GROUP BY ALL"""


def sessions_in_python(rows: list[dict], gap_s: int) -> list[dict]:
    """Session windows per page, computed row by row as the definition says."""
    out = []
    by_key: dict[str, list[dict]] = {}
    for row in rows:
        by_key.setdefault(row["page"], []).append(row)
    for key_rows in by_key.values():
        key_rows.sort(key=lambda r: r["ts"])
        session: list[dict] = []
        for row in key_rows:
            if session and row["ts"] - session[-1]["ts"] >= timedelta(seconds=gap_s):
                out += _close(session, gap_s)
                session = []
            session.append(row)
        out += _close(session, gap_s)
    return out


def _close(session: list[dict], gap_s: int) -> list[dict]:
    start, end = session[0]["ts"], session[-1]["ts"] + timedelta(seconds=gap_s)
    return [dict(r, window_start=start, window_end=end) for r in session]


QUERY = "SELECT window_start, window_end, page, " + AGGREGATES + " FROM {window} GROUP BY ALL"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_tumble_matches_batch(stream: tuple[list[dict], list[int]]) -> None:
    rows, cuts = stream
    assert run_streaming(QUERY.format(window=WINDOWS["tumble"]), rows, cuts) == run_batch(tumble_batch(rows), rows)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_hop_matches_batch(stream: tuple[list[dict], list[int]]) -> None:
    rows, cuts = stream
    assert run_streaming(QUERY.format(window=WINDOWS["hop"]), rows, cuts) == run_batch(hop_batch(5, 15), rows)
    assert run_streaming(QUERY.format(window=WINDOWS["hop_uneven"]), rows, cuts) == run_batch(hop_batch(4, 10), rows)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_session_matches_batch(stream: tuple[list[dict], list[int]]) -> None:
    rows, cuts = stream
    con_rows = sessions_in_python(rows, 3)
    batch = f"SELECT window_start, window_end, page, {AGGREGATES} FROM events_all GROUP BY ALL"
    assert run_streaming(QUERY.format(window=WINDOWS["session"]), rows, cuts) == run_batch(batch, con_rows)


def test_late_rows_are_rejected_not_counted() -> None:
    rows = [
        {"user_id": "u1", "page": "/a", "amount": 1, "ts": BASE},
        {"user_id": "u1", "page": "/a", "amount": 2, "ts": BASE + timedelta(seconds=30)},
        {"user_id": "u2", "page": "/a", "amount": 3, "ts": BASE + timedelta(seconds=1)},  # 29 s behind
    ]
    pipeline = parse_text(SOURCE + f"INSERT INTO out {QUERY.format(window=WINDOWS['tumble'])};")
    schema = pa.schema(
        [
            ("user_id", pa.string()),
            ("page", pa.string()),
            ("amount", pa.int64()),
            ("ts", pa.timestamp("us")),
            ("arrival_time", pa.timestamp("us")),
        ]
    )
    outputs: list[pa.Table] = []
    rejected: list = []
    engine = Engine(
        plan_pipeline(pipeline, {"events": schema}), lambda s, t: outputs.append(t), lambda op, r: rejected.append(r)
    )
    for row in rows:
        engine.push("events", pa.Table.from_pylist([dict(row, arrival_time=BASE)], schema))
    engine.finish()
    result = {r["window_start"]: r["n"] for t in outputs for r in t.to_pylist()}
    assert result == {BASE: 1, BASE + timedelta(seconds=30): 1}
    assert [(code, rows.column("amount").to_pylist()) for code, _, rows in rejected] == [("late", [3])]
