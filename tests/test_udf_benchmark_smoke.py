"""The UDF benchmark runs end to end on a tiny input (its numbers are not checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_udf_benchmark_on_a_tiny_input(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.udf_vs_builtin",
            "--events",
            "3000",
            "--runs",
            "1",
            "--data-dir",
            str(tmp_path),
            "--json",
            str(tmp_path / "r.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len([line for line in lines if "ratio to built-in" in line]) == 6
    results = json.loads((tmp_path / "r.json").read_text())
    for shape in ("passthrough", "window"):
        assert set(results[shape]) == {"built-in", "python row by row", "python vectorised"}
