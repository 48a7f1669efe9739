"""Raw clickstream into an Iceberg table: `python -m benchmarks.iceberg [--events N] [--runs R]`.

flowsql reads the NDJSON file and appends every event to an Iceberg table (embedded catalog,
partitioned by event type, 128 MB / 60 s buffer, so one commit); beside it pyarrow reads the same
file and writes the same Parquet partitioned by event type in one shot, with no table. Both are
printed in the same run, as events/s (median of the runs); rerun them, do not quote old numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.__main__ import COLUMNS, make_input, pyarrow_partitioned, report, timed_runs
from flowsql.pipeline import parse_text
from flowsql.runner import PipelineRun


def iceberg_pipeline(data: Path, warehouse: Path) -> str:
    return (
        f"CREATE SOURCE clicks ({COLUMNS}) WITH (connector = 'file', path = '{data}');\n"
        f"CREATE SINK lake WITH (connector = 'iceberg', table = 'bench.clicks', warehouse = '{warehouse}', "
        "partition_by = 'event_type', buffer_size = '128 MB', buffer_interval = '60 s');\n"
        "INSERT INTO lake SELECT * EXCLUDE (arrival_time) FROM clicks;"
    )


def flowsql_to_iceberg(data: Path, warehouse: Path, events: int) -> float:
    run = PipelineRun(parse_text(iceberg_pipeline(data, warehouse), "iceberg_benchmark.sql"))
    started = time.perf_counter()
    summary = run.run()
    elapsed = time.perf_counter() - started
    assert summary.errors == 0 and summary.sinks["lake"]["rows"] == events
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.iceberg")
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "flowsql-bench")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    data = make_input(args.data_dir, args.events)
    print(
        f"{args.events:,} events, {data.stat().st_size / 1e6:,.0f} MB of NDJSON, median of {args.runs} runs, "
        f"{os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        ours = timed_runs(args.runs, lambda out: flowsql_to_iceberg(data, out, args.events), scratch)
        base = timed_runs(args.runs, lambda out: pyarrow_partitioned(data, out), scratch)
    result = report("iceberg", args.events, ours, base, "pyarrow parquet")
    if args.json:
        args.json.write_text(json.dumps({"events": args.events, "iceberg": result}, indent=2))


if __name__ == "__main__":
    main()
