"""The Kinesis read benchmark runs end to end on a tiny stream (its numbers are not checked)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_kinesis_read_benchmark_on_a_tiny_stream() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.kinesis_read", "--records", "600", "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ratio flowsql/bare:" in result.stdout
    assert "records: 600 in 2 shards" in result.stdout
