"""pipelines/python_functions.sql runs as is, and its output is what DuckDB computes from the same
generated clicks with the functions' logic written in SQL."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.conftest import ROOT, run_cli
from tests.pipeline.test_examples import generated_clicks


def test_python_functions_example(tmp_path: Path) -> None:
    result = run_cli(
        "run", str(ROOT / "pipelines" / "python_functions.sql"), "--state-dir", str(tmp_path / "state"), cwd=tmp_path
    )
    assert result.code == 0, result.stderr
    assert "200,000 events" in result.stderr and "0 errors" in result.stderr
    con = duckdb.connect()
    con.register("clicks", generated_clicks(200_000, seed=7))
    expected_sections = con.execute("""
        SELECT strftime(time_bucket(INTERVAL 1 MINUTE, ts), '%Y-%m-%d %H:%M:%S'),
               coalesce(nullif(split_part(trim(page, '/'), '/', 1), ''), 'home') AS section,
               count(*), count(DISTINCT user_id)
        FROM clicks GROUP BY ALL ORDER BY ALL""").fetchall()
    rows = [
        json.loads(line)
        for path in sorted((tmp_path / "lake" / "sections").rglob("*.json"))
        for line in path.read_text().splitlines()
    ]
    assert sorted((r["window_start"], r["section"], r["views"], r["visitors"]) for r in rows) == expected_sections
    expected_bands = con.execute("""
        SELECT strftime(time_bucket(INTERVAL 1 MINUTE, ts), '%Y-%m-%d %H:%M:%S'),
               CAST(floor(price / 50) * 50 AS BIGINT),
               count(*), round(sum(price), 2)
        FROM clicks WHERE event_type = 'purchase' GROUP BY ALL ORDER BY ALL""").fetchall()
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(p["window_start"], p["band"], p["purchases"]) for p in printed] == [e[:3] for e in expected_bands]
    assert all(abs(p["revenue"] - e[3]) < 1e-6 for p, e in zip(printed, expected_bands, strict=True))
