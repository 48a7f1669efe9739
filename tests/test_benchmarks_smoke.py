"""The benchmark runner works end to end on a tiny input (its numbers are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_benchmark_runner_on_a_tiny_input(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--events", "3000", "--runs", "1", "--scenario", "tumble",
         "--scenario", "hop", "--scenario", "raw", "--data-dir", str(tmp_path), "--json", str(tmp_path / "r.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "ratio" in result.stdout
    results = json.loads((tmp_path / "r.json").read_text())
    assert set(results) == {"events", "tumble", "hop", "raw"}
    assert all(results[k]["flowsql_events_per_second"] > 0 for k in ("tumble", "hop", "raw"))


def test_side_by_side_runner_names_an_engine_that_is_not_installed(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.engines", "--events", "2000", "--data-dir", str(tmp_path),
         "--pyflink-python", str(tmp_path / "no-such-python")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].startswith("flowsql") and "events/s" in lines[1]
    assert lines[2].startswith("pyflink") and "not installed" in lines[2]
    assert '"ts":"2024-01-01T' in (tmp_path / "clicks-2000-iso.ndjson").read_text()
