"""The example pipelines run as a user runs them, and their output is checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from flowsql.sources.generator import clickstream_block
from tests.conftest import ROOT, run_cli


def generated_clicks(count: int, seed: int, rate: float = 1000.0) -> pa.Table:
    start_us = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    blocks = [clickstream_block(seed, b, start_us, rate, 10_000, 2_000_000) for b in range(count // 65_536 + 1)]
    return pa.concat_tables(blocks).slice(0, count)


def test_clickstream_demo(tmp_path: Path) -> None:
    result = run_cli(
        "run", str(ROOT / "pipelines" / "clickstream_demo.sql"), "--state-dir", str(tmp_path), cwd=tmp_path
    )
    assert result.code == 0, result.stderr
    assert "200,000 events" in result.stderr and "0 errors" in result.stderr

    con = duckdb.connect()
    con.register("clicks", generated_clicks(200_000, seed=7))
    expected = con.sql("""
        SELECT time_bucket(INTERVAL 1 MINUTE, ts) AS window_start, page, count(*) AS views,
               count(DISTINCT user_id) AS visitors, sum(price) FILTER (WHERE event_type = 'purchase') AS revenue
        FROM clicks GROUP BY ALL ORDER BY ALL""").fetchall()
    lake = tmp_path / "lake"
    written = con.sql(f"""
        SELECT window_start, page, views, visitors, revenue
        FROM read_parquet('{lake}/page_minutes/**/*.parquet', hive_partitioning = true) ORDER BY ALL""").fetchall()
    assert [r[:4] for r in written] == [r[:4] for r in expected]
    assert all(abs((a[4] or 0) - (b[4] or 0)) < 1e-6 for a, b in zip(written, expected, strict=True))

    # Hive folders by event type; the partition column lives in the folder name only.
    folders = sorted(p.name for p in (lake / "sales").iterdir())
    assert folders == ["event_type=add_to_cart", "event_type=purchase"]
    sales = con.sql(f"""
        SELECT event_type, count(*), sum(price) FROM read_parquet('{lake}/sales/**/*.parquet', hive_partitioning = true)
        GROUP BY ALL ORDER BY ALL""").fetchall()
    expected_sales = con.sql("""SELECT event_type, count(*), sum(price) FROM clicks
        WHERE event_type IN ('add_to_cart', 'purchase') GROUP BY ALL ORDER BY ALL""").fetchall()
    assert [r[:2] for r in sales] == [r[:2] for r in expected_sales]

    # The console sink printed one JSON line per minute (stdout is not a terminal here).
    totals = [json.loads(line) for line in result.stdout.splitlines()]
    per_minute = con.sql(
        "SELECT time_bucket(INTERVAL 1 MINUTE, ts)::VARCHAR, count(*) FROM clicks GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert [(t["window_start"], t["events"]) for t in totals] == per_minute


def test_every_example_pipeline_validates() -> None:
    for pipeline in sorted((ROOT / "pipelines").rglob("*.sql")):
        result = run_cli("validate", str(pipeline))
        assert result.code == 0, f"{pipeline}: {result.stderr}"


def test_explain_shows_windows_watermarks_and_sql() -> None:
    result = run_cli("explain", str(ROOT / "pipelines" / "clickstream_demo.sql"))
    assert result.code == 0, result.stderr
    assert "watermark: ts - 5 s" in result.stdout
    assert "window: TUMBLE on ts, size 60 s" in result.stdout
    assert "duckdb sql: SELECT" in result.stdout
    assert "clicks -> sink page_minutes" in result.stdout
