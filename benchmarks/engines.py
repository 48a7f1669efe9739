"""Scenario 1 on other stream engines installed here, beside flowsql: `python -m benchmarks.engines`.

Optional and not part of CI. Each engine runs the same pipeline: flowsql runs it, and
`flowsql compile --target flink` turns it into the Flink SQL job that PyFlink's local
mini-cluster runs (a Python with PyFlink: --pyflink-python, or .cache/pyflink-venv, which the
slow Flink test makes). Flink's figure is given with and without its start-up, measured on a
job over ten events. An engine that is not installed is named and skipped.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.__main__ import flowsql_run, make_input
from benchmarks.__main__ import pipeline_text as benchmark_pipeline
from benchmarks.figures import rate
from benchmarks.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "compile" / "flink_driver.py"


def iso_copy(data: Path) -> Path:
    """The input with ISO-8601 timestamps ('T' between date and time), which Flink's JSON
    format reads; flowsql reads either."""
    path = data.with_name(data.stem + "-iso.ndjson")
    if not path.exists():
        pattern = re.compile(rb'("ts":"\d{4}-\d\d-\d\d) ')
        tmp = path.with_suffix(".tmp")
        with data.open("rb") as source, tmp.open("wb") as out:
            for line in source:
                out.write(pattern.sub(rb"\1T", line))
        tmp.rename(path)
    return path


def run_flowsql(data: Path, scratch: Path) -> float:
    return flowsql_run(data, scratch / "flowsql-out", SCENARIOS["tumble"].ours, sink_format="json")


def run_flink(python: Path, data: Path, scratch: Path, name: str, parallelism: int) -> float:
    pipeline = scratch / f"{name}.sql"
    pipeline.write_text(benchmark_pipeline(data, scratch / f"{name}-out", SCENARIOS["tumble"].ours, sink_format="json"))
    job = scratch / f"{name}-job"
    subprocess.run(
        [sys.executable, "-m", "flowsql", "compile", "--target", "flink", str(pipeline), "-o", str(job)],
        check=True,
        capture_output=True,
    )
    started = time.perf_counter()
    subprocess.run(
        [str(python), str(DRIVER), str(job / "job.sql"), str(parallelism)], check=True, capture_output=True, cwd=scratch
    )
    return time.perf_counter() - started


def pyflink_python(given: Path | None) -> Path | None:
    candidates = [given] if given else [ROOT / ".cache" / "pyflink-venv" / "bin" / "python"]
    for python in candidates:
        if (
            python
            and python.exists()
            and subprocess.run([str(python), "-c", "import pyflink"], check=False, capture_output=True).returncode == 0
        ):
            return python
    return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engines")
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--pyflink-python", type=Path)
    parser.add_argument("--parallelism", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "flowsql-bench")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    data = iso_copy(make_input(args.data_dir, args.events))
    print(f"scenario 1 ({SCENARIOS['tumble'].title}), {args.events:,} events, file -> JSON lines")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        ours = run_flowsql(data, scratch)
        print(f"flowsql            {rate(args.events, ours).show('{:>12,.0f} events/s')}  ({ours:.1f} s)")
        python = pyflink_python(args.pyflink_python)
        if python is None:
            print("pyflink            not installed (pip install apache-flink into a venv; --pyflink-python)")
            return
        tiny = args.data_dir / "clicks-10.ndjson"
        with data.open() as lines:
            tiny.write_text("".join(itertools.islice(lines, 10)))
        startup = run_flink(python, tiny, scratch, "flink-startup", args.parallelism)
        total = run_flink(python, data, scratch, "flink", args.parallelism)
        # The start-up run is timed apart, so on a small input the difference can be about zero or below.
        after_startup = rate(args.events, total - startup)
        print(
            f"pyflink (p={args.parallelism})     {rate(args.events, total).show('{:>12,.0f} events/s')}  "
            f"({total:.1f} s; {after_startup.show('{:,.0f} events/s')} without its {startup:.1f} s start-up)"
        )


if __name__ == "__main__":
    main()
