"""SESSION windows as a stream, against DuckDB's batch answer: random keys (NULL among them),
gaps, disorder inside the watermark, random micro-batch cuts and a checkpoint taken and
restored into a new engine at a random cut. Also: the state holds only open sessions."""

from __future__ import annotations

import itertools
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from flowsql.engine import Engine, plan_pipeline
from flowsql.pipeline import parse_text
from tests.conftest import run_cli

BASE = datetime(2024, 3, 1, 12, 0, 0)
DELAY_S = 4
# Shrinking these inputs takes minutes and says little more than the failing example itself.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
SCHEMA = pa.schema(
    [("user_id", pa.string()), ("amount", pa.int64()), ("ts", pa.timestamp("us")), ("arrival_time", pa.timestamp("us"))]
)
AGGREGATES = "count(*) AS n, sum(amount) AS total, list_sort(list(amount)) AS amounts, median(amount) AS mid"
# Aggregates that decompose: sessions then keep partial aggregates instead of rows.
PARTIALS = "count(*) AS n, sum(amount) AS total, min(amount) AS low, max(amount) AS high, avg(amount) AS mean"
# Sessions per user-id length hold one partial per user each; FILTER and a row filter fold in.
BY_LENGTH = {
    "key": "length(user_id)",
    "where": "WHERE amount <> 13",
    "aggregates": "count(*) AS n, sum(amount) FILTER (WHERE amount > 50) AS big, max(user_id) AS top",
}


def pipeline_text(
    time_column: str, gap_s: int, aggregates: str = AGGREGATES, key: str = "user_id", where: str = ""
) -> str:
    watermark = f", WATERMARK FOR ts AS ts - INTERVAL '{DELAY_S} seconds'" if time_column == "ts" else ""
    return f"""
CREATE SOURCE events (user_id VARCHAR, amount BIGINT, ts TIMESTAMP{watermark}) WITH (connector = 'stdin');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT window_start, window_end, {key} AS k, {aggregates}
FROM SESSION(events, {time_column}, INTERVAL '{gap_s} seconds') {where} GROUP BY ALL;
"""


class Run:
    """An engine over one pipeline, whose outputs and rejected rows are kept."""

    def __init__(self, text: str, lateness_s: int = 0) -> None:
        self.plan = plan_pipeline(parse_text(text), {"events": SCHEMA})
        self.outputs: list[pa.Table] = []
        self.rejected: list[tuple[str, str, pa.Table]] = []
        self.lateness = {"events": lateness_s * 1_000_000}
        self.engine = self._new_engine()

    def _new_engine(self) -> Engine:
        return Engine(
            self.plan,
            lambda sink, table: self.outputs.append(table),
            lambda op, rejected: self.rejected.append(rejected),
            self.lateness,
        )

    def push(self, rows: list[dict]) -> None:
        self.engine.push("events", pa.Table.from_pylist(rows, SCHEMA))

    def restart(self) -> None:
        """What a restart does: the state through JSON and Parquet into a new engine."""
        data, tables = self.engine.snapshot()
        data = json.loads(json.dumps(data))
        stored = {}
        for name, table in tables.items():
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink)
            stored[name] = pq.read_table(pa.BufferReader(sink.getvalue()))
        self.engine = self._new_engine()
        self.engine.restore(data, stored)

    def result(self) -> list[tuple]:
        return sorted(tuple(map(repr, r.values())) for t in self.outputs for r in t.to_pylist())


def batch_sessions(
    rows: list[dict], time_column: str, gap_s: int, aggregates: str = AGGREGATES, key: str = "user_id", where: str = ""
) -> list[tuple]:
    """Gaps and islands over the whole input in one DuckDB query: a row at least `gap` after
    the previous row of its user opens a session."""
    con = duckdb.connect()
    con.register("events_all", pa.Table.from_pylist(rows, SCHEMA))
    t, gap = time_column, f"INTERVAL {gap_s} SECOND"
    query = f"""
    WITH keyed AS (SELECT *, {key} AS __key FROM events_all {where}),
    marked AS (
        SELECT *, coalesce({t} - lag({t}) OVER (PARTITION BY __key ORDER BY {t}) >= {gap}, true)::INT AS opens
        FROM keyed),
    numbered AS (
        SELECT *, sum(opens) OVER (PARTITION BY __key ORDER BY {t}, opens DESC ROWS UNBOUNDED PRECEDING) AS session
        FROM marked),
    bounded AS (
        SELECT *, min({t}) OVER (PARTITION BY __key, session) AS window_start,
               max({t}) OVER (PARTITION BY __key, session) + {gap} AS window_end
        FROM numbered)
    SELECT window_start, window_end, __key, {aggregates} FROM bounded GROUP BY window_start, window_end, __key"""
    result = con.sql(query).to_arrow_table()
    return sorted(tuple(map(repr, r.values())) for r in result.to_pylist())


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[dict], list[int], int, int, int]:
    count = draw(st.integers(1, 150))
    users = draw(st.integers(1, 8))
    span_ms = draw(st.sampled_from([5_000, 30_000, 120_000]))
    rows = []
    for _ in range(count):
        user = draw(st.integers(0, users))
        rows.append(
            {
                "user_id": None if user == users else f"u{user}",
                "amount": draw(st.integers(0, 100)),
                "ts": BASE + timedelta(milliseconds=draw(st.integers(0, span_ms))),
            }
        )
    # Disorder bounded by the watermark delay: arrival order sorts by ts + U[0, delay).
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    rows.sort(key=lambda r: r["ts"] + timedelta(seconds=rng.uniform(0, DELAY_S - 0.001)))
    step_ms = draw(st.sampled_from([0, 7, 400]))  # arrival times rise with arrival order
    for index, row in enumerate(rows):
        row["arrival_time"] = BASE + timedelta(milliseconds=index * step_ms)
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, count - 1)), max_size=15))))
    restart_at = draw(st.integers(0, len(cuts)))
    gap_s = draw(st.sampled_from([1, 3, 10]))
    lateness_s = draw(st.sampled_from([0, 0, 2]))
    return rows, cuts, restart_at, gap_s, lateness_s


def run_stream(
    rows: list[dict],
    cuts: list[int],
    restart_at: int,
    time_column: str,
    gap_s: int,
    lateness_s: int,
    aggregates: str = AGGREGATES,
    key: str = "user_id",
    where: str = "",
) -> Run:
    run = Run(pipeline_text(time_column, gap_s, aggregates, key, where), lateness_s)
    bounds = [0, *cuts, len(rows)]
    for index, (start, end) in enumerate(itertools.pairwise(bounds)):
        if index == restart_at:
            run.restart()
        run.push(rows[start:end])
    run.engine.finish()
    return run


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(streams())
def test_event_time_sessions_match_batch(stream: tuple[list[dict], list[int], int, int, int]) -> None:
    rows, cuts, restart_at, gap_s, lateness_s = stream
    run = run_stream(rows, cuts, restart_at, "ts", gap_s, lateness_s)
    assert run.rejected == [], "disorder within the watermark must never be late"
    assert run.result() == batch_sessions(rows, "ts", gap_s)
    assert run.engine.buffered_rows() == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(streams())
def test_arrival_time_sessions_match_batch(stream: tuple[list[dict], list[int], int, int, int]) -> None:
    rows, cuts, restart_at, gap_s, _ = stream
    run = run_stream(rows, cuts, restart_at, "arrival_time", gap_s, 0)
    assert run.rejected == []
    assert run.result() == batch_sessions(rows, "arrival_time", gap_s)


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(streams())
def test_sessions_of_partial_aggregates_match_batch(stream: tuple[list[dict], list[int], int, int, int]) -> None:
    rows, cuts, restart_at, gap_s, lateness_s = stream
    run = run_stream(rows, cuts, restart_at, "ts", gap_s, lateness_s, PARTIALS)
    assert all(op.preaggregate is not None for op in run.plan.operators)
    assert run.rejected == []
    assert run.result() == batch_sessions(rows, "ts", gap_s, PARTIALS)
    assert run.engine.buffered_rows() == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(streams())
def test_partials_per_session_and_column_match_batch(stream: tuple[list[dict], list[int], int, int, int]) -> None:
    rows, cuts, restart_at, gap_s, lateness_s = stream
    run = run_stream(rows, cuts, restart_at, "ts", gap_s, lateness_s, **BY_LENGTH)
    assert all(op.preaggregate is not None for op in run.plan.operators)
    assert run.rejected == []
    assert run.result() == batch_sessions(rows, "ts", gap_s, **BY_LENGTH)


def at(seconds: float, user: str | None = "u1", amount: int = 1) -> dict:
    return {"user_id": user, "amount": amount, "ts": BASE + timedelta(seconds=seconds), "arrival_time": BASE}


def test_a_row_between_two_open_sessions_joins_them() -> None:
    run = Run(pipeline_text("ts", 3))
    run.push([at(0, amount=1), at(5, amount=2)])  # two sessions of u1, 5 s apart
    run.push([at(2.5, amount=3)])  # within the watermark's delay: bridges them
    run.engine.finish()
    assert [(r["window_start"], r["window_end"], r["amounts"]) for t in run.outputs for r in t.to_pylist()] == [
        (BASE, BASE + timedelta(seconds=8), [1, 2, 3])
    ]


def test_a_row_behind_an_emitted_session_is_late() -> None:
    run = Run(pipeline_text("ts", 3))
    run.push([at(0), at(20)])  # watermark 16 s: the session [0 s, 3 s) is emitted
    run.push([at(1, amount=7)])
    assert [r["amounts"] for t in run.outputs for r in t.to_pylist()] == [[1]]
    assert [(code, rows.column("amount").to_pylist()) for code, _, rows in run.rejected] == [("late", [7])]


def test_state_holds_only_the_keys_still_active() -> None:
    """Users come and go: 40,000 rows over 2,000 users, each active for a minute. The rows held
    (the engine's open-window count, also the checkpoint's row count) stay those of users
    active within the last gap plus the watermark's delay."""
    run = Run(pipeline_text("ts", 10))
    most_held = 0
    for minute in range(100):
        start = minute * 60
        batch = [at(start + second, user=f"u{minute * 20 + user}") for second in range(0, 60, 3) for user in range(20)]
        run.push(batch)
        held = run.engine.buffered_rows()
        most_held = max(most_held, held)
        _, tables = run.engine.snapshot()
        assert sum(t.num_rows for t in tables.values()) == held
    # At most this minute's 400 rows and the previous minute's last 14 s (gap + delay) of rows.
    assert 0 < most_held <= 400 + 5 * 20
    run.engine.finish()
    assert run.engine.buffered_rows() == 0
    assert sum(r["n"] for t in run.outputs for r in t.to_pylist()) == 100 * 400


def stored_rows(engine: Engine) -> int:
    """Rows DuckDB keeps in the engine's tables, deleted ones not yet freed included."""
    tables = [name for (name,) in engine.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    return sum(
        engine.con.execute(
            f"SELECT coalesce(sum(count), 0) FROM pragma_storage_info('{name}') "
            "WHERE column_id = 0 AND segment_type <> 'VALIDITY'"
        ).fetchall()[0][0]
        for name in tables
    )


@pytest.mark.slow
def test_emitted_rows_do_not_stay_in_duckdb() -> None:
    """500,000 rows of users active for a minute each: the rows DuckDB stores for the state
    (open rows and sessions, and deleted rows whose room is not yet freed) stay bounded."""
    run = Run(pipeline_text("ts", 10))
    most_stored = 0
    for minute in range(250):
        users = range(minute * 100, minute * 100 + 100)
        run.push([at(minute * 60 + second, user=f"u{user}") for second in range(0, 60, 3) for user in users])
        most_stored = max(most_stored, stored_rows(run.engine))
    assert run.engine.buffered_rows() <= 2_500
    # Left alone, DuckDB would hold over 350,000 of the 500,000 rows that went through.
    assert most_stored < 250_000, most_stored
    run.engine.finish()
    assert sum(r["n"] for t in run.outputs for r in t.to_pylist()) == 250 * 2_000


def test_a_row_the_partials_fail_on_is_rejected_alone() -> None:
    run = Run(pipeline_text("ts", 3, "count(*) AS n, sum(CAST(substr(user_id, 2) AS INT)) AS s"))
    assert all(op.preaggregate is not None for op in run.plan.operators)
    run.push([at(0, user="u7"), at(1, user="ux"), at(2, user="u7")])
    run.push([at(2.5, user="u7")])
    run.engine.finish()
    assert [(r["k"], r["n"], r["s"]) for t in run.outputs for r in t.to_pylist()] == [("u7", 3, 21)]
    assert [(code, rows.column("user_id").to_pylist()) for code, _, rows in run.rejected] == [("query-failed", ["ux"])]


def test_explain_says_which_session_state_a_query_keeps(tmp_path: Path) -> None:
    shown = {}
    for name, aggregates in (("partials", PARTIALS), ("rows", AGGREGATES)):
        path = tmp_path / f"{name}.sql"
        path.write_text(pipeline_text("ts", 3, aggregates))
        result = run_cli("explain", str(path), cwd=tmp_path)
        assert result.code == 0, result.stderr
        shown[name] = result.stdout
    assert "state: partial aggregates per open session and key" in shown["partials"]
    assert "count(*) AS __p0" in shown["partials"] and "(merge a closing session)" in shown["partials"]
    assert "state: each key's open sessions (bounds, and rows)" in shown["rows"]
