"""Events/s of queries calling Python functions (CREATE FUNCTION) beside the same queries with
the built-in functions that compute the same values, on the benchmark clickstream:

    python -m benchmarks.udf_vs_builtin [--events 1000000] [--runs 3]

A passthrough (every row out, one function per row) and a 1-minute tumbling window (the function
inside sum()) are each run with the built-in function, a row-by-row Python function, and a
vectorised one over Arrow arrays. The ratio is the Python function's rate over the built-in's.
Numbers are for this machine, now: rerun them, do not quote old ones.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.__main__ import make_input, pipeline_text, timed_runs
from benchmarks.figures import rate, ratio
from flowsql.pipeline import parse_text
from flowsql.runner import PipelineRun

FUNCTIONS_FILE = Path(__file__).resolve().parent / "udf_functions.py"
FUNCTIONS = (
    f"CREATE FUNCTION page_label AS '{FUNCTIONS_FILE}:page_label';\n"
    f"CREATE FUNCTION tax AS '{FUNCTIONS_FILE}:tax';\n"
    f"CREATE FUNCTION page_labels(VARCHAR) RETURNS VARCHAR AS '{FUNCTIONS_FILE}:page_labels';\n"
    f"CREATE FUNCTION taxes(DOUBLE) RETURNS DOUBLE AS '{FUNCTIONS_FILE}:taxes';\n"
)
PASSTHROUGH = "SELECT event_id, {label} AS label, {tax} AS gross, ts FROM clicks"
WINDOW = (
    "SELECT window_start, window_end, page, count(*) AS views, sum({tax}) AS gross "
    "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL"
)
CALLS = {  # how each variant spells the two computations
    "built-in": ("upper(page)", "round(price * 1.2, 2)"),
    "python row by row": ("page_label(page)", "tax(price)"),
    "python vectorised": ("page_labels(page)", "taxes(price)"),
}


def run_query(data: Path, out: Path, query: str) -> float:
    text = FUNCTIONS + pipeline_text(data, out, query)
    run = PipelineRun(parse_text(text, "udf_benchmark.sql"))
    started = time.perf_counter()
    summary = run.run()
    elapsed = time.perf_counter() - started
    assert summary.errors == 0, "the benchmark's functions failed on rows"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.udf_vs_builtin")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "flowsql-bench")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    data = make_input(args.data_dir, args.events)
    print(f"{args.events:,} events, median of {args.runs} runs, {os.cpu_count()} cores")
    results: dict[str, object] = {"events": args.events}
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        for shape, template in (("passthrough", PASSTHROUGH), ("window", WINDOW)):
            rates = {}
            for variant, (label, tax) in CALLS.items():
                query = template.format(label=label, tax=tax)
                seconds = statistics.median(
                    timed_runs(args.runs, lambda out, q=query: run_query(data, out, q), scratch)
                )
                rates[variant] = rate(args.events, seconds)
            built_in = rates["built-in"]
            for variant, figure in rates.items():
                versus = ratio(figure, built_in)
                print(
                    f"{shape:<12} {variant:<18} {figure.show('{:>12,.0f} events/s')}   "
                    f"ratio to built-in {versus.show('{:.2f}')}"
                )
            results[shape] = {variant: figure.to_json() for variant, figure in rates.items()}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
