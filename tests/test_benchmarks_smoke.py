"""The benchmark runner works end to end on a tiny input (its numbers are not checked here), and
its check against the batch answer finds a difference when there is one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb

from benchmarks.answers import check_equal, differences
from tests.conftest import ROOT

AGGREGATES = ("tumble", "hop", "users", "session", "long-hop")


def test_benchmark_runner_on_a_tiny_input(tmp_path: Path) -> None:
    scenarios = [arg for name in (*AGGREGATES, "raw") for arg in ("--scenario", name)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--events",
            "3000",
            "--runs",
            "1",
            *scenarios,
            "--data-dir",
            str(tmp_path),
            "--json",
            str(tmp_path / "r.json"),
        ],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert "ratio" in result.stdout
    results = json.loads((tmp_path / "r.json").read_text())
    assert set(results) == {"events", *AGGREGATES, "raw"}
    assert all(results[k]["flowsql_events_per_second"] > 0 for k in (*AGGREGATES, "raw"))
    # Every aggregate was checked row for row against a batch answer that has rows.
    assert all(results[k]["rows"] > 0 and results[k]["peak_rss_mib"] > 0 for k in AGGREGATES)
    low, high = results["tumble"]["baseline_spread"]
    assert low <= results["tumble"]["baseline_events_per_second"] <= high


def test_startup_figures(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--events",
            "1000",
            "--runs",
            "1",
            "--scenario",
            "startup",
            "--data-dir",
            str(tmp_path),
            "--json",
            str(tmp_path / "r.json"),
        ],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    startup = json.loads((tmp_path / "r.json").read_text())["startup"]
    assert set(startup) == {"python", "floor", "validate", "run"}
    for figures in startup.values():
        assert 0 < figures["import_seconds"] < figures["wall_seconds"] + 1
        assert figures["cpu_seconds"] > 0
    assert startup["validate"]["import_seconds"] > startup["python"]["import_seconds"]


def test_a_wrong_row_is_found(tmp_path: Path) -> None:
    con = duckdb.connect()
    batch, ours = tmp_path / "batch.parquet", tmp_path / "out"
    ours.mkdir()
    con.execute(f"COPY (SELECT range AS k, range / 10 AS v FROM range(100)) TO '{batch}' (FORMAT parquet)")
    # The same sums added in another order: equal to four decimals.
    con.execute(
        f"COPY (SELECT range AS k, range / 10 + 1e-12 AS v FROM range(100)) TO '{ours / 'a.parquet'}' (FORMAT parquet)"
    )
    assert check_equal("same", ours, batch) == 100
    con.execute(f"COPY (SELECT 7 AS k, 0.75::DOUBLE AS v) TO '{ours / 'b.parquet'}' (FORMAT parquet)")
    assert differences([str(ours / "a.parquet"), str(ours / "b.parquet")], batch) == (1, 0, 100)
    (ours / "a.parquet").unlink()
    assert differences([str(ours / "b.parquet")], batch) == (1, 100, 100)


def test_side_by_side_runner_names_an_engine_that_is_not_installed(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.engines",
            "--events",
            "2000",
            "--data-dir",
            str(tmp_path),
            "--pyflink-python",
            str(tmp_path / "no-such-python"),
        ],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("flowsql") and "events/s" in lines[1]
    assert lines[2].startswith("pyflink") and "not installed" in lines[2]
    assert '"ts":"2024-01-01T' in (tmp_path / "clicks-2000-iso.ndjson").read_text()
