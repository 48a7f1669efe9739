"""Run the benchmarks: `python -m benchmarks [--events N] [--runs R] [--scenario S ...]`.

Each scenario prints flowsql's events/s beside a one-shot baseline on the same input
(DuckDB's batch query, or pyarrow writing the same dataset), with the ratio, the baseline's
spread and flowsql's peak RSS; the figure is the median of several runs, and every aggregate's
output is checked row for row against the batch answer first. `--events 20000000` runs the
long inputs. Numbers are for this machine, now: rerun them, do not quote old ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.json as pajson

from benchmarks import startup
from benchmarks.answers import check_equal
from benchmarks.figures import Figure, not_measured, percentile, rate, ratio
from benchmarks.scenarios import SCENARIOS, Scenario
from flowsql.pipeline import parse_text
from flowsql.runner import PipelineRun
from flowsql.sources.generator import BLOCK, clickstream_block

COLUMNS = (
    "event_id BIGINT, user_id VARCHAR, page VARCHAR, event_type VARCHAR, country VARCHAR, price DOUBLE, ts TIMESTAMP"
)
ROOT = Path(__file__).resolve().parent.parent
DUCKDB_COLUMNS = (
    "{event_id: 'BIGINT', user_id: 'VARCHAR', page: 'VARCHAR', event_type: 'VARCHAR', "
    "country: 'VARCHAR', price: 'DOUBLE', ts: 'TIMESTAMP'}"
)


def make_input(folder: Path, events: int, rate: float = 2000.0, users: int = 10_000) -> Path:
    """A reproducible clickstream as NDJSON, made once per size, rate and user population."""
    shape = "" if (rate, users) == (2000.0, 10_000) else f"-{rate:g}eps-{users}users"
    path = folder / f"clicks-{events}{shape}.ndjson"
    if path.exists():
        return path
    start_us = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    con = duckdb.connect()
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for block in range(events // BLOCK + 1):
            table = clickstream_block(7, block, start_us, rate, users, 2_000_000)
            table = table.slice(0, max(0, min(BLOCK, events - block * BLOCK))).drop_columns(["arrival_time"])
            if table.num_rows == 0:
                break
            con.register("t", table)
            lines = con.sql("SELECT CAST(to_json(t) AS VARCHAR) FROM t").to_arrow_table().column(0)
            out.write(("\n".join(lines.to_pylist()) + "\n").encode())
    tmp.rename(path)
    return path


def pipeline_text(data: Path, out: Path, query: str, sink_options: str = "", sink_format: str = "parquet") -> str:
    """The benchmark pipeline: the clickstream file, one query, one file sink."""
    return (
        f"CREATE SOURCE clicks ({COLUMNS}, WATERMARK FOR ts AS ts - INTERVAL '5 seconds') "
        f"WITH (connector = 'file', path = '{data}');\n"
        f"CREATE SINK out WITH (connector = 'file', path = '{out}', format = '{sink_format}', "
        f"buffer_size = '128 MB', buffer_interval = '60 s'{sink_options});\n"
        f"INSERT INTO out {query};"
    )


def flowsql_run(data: Path, out: Path, query: str, sink_options: str = "", sink_format: str = "parquet") -> float:
    run = PipelineRun(parse_text(pipeline_text(data, out, query, sink_options, sink_format), "benchmark.sql"))
    started = time.perf_counter()
    summary = run.run()
    elapsed = time.perf_counter() - started
    assert summary.errors == 0
    return elapsed


def duckdb_batch(data: Path, out: Path, query: str) -> float:
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW clicks AS SELECT * FROM read_json('{data}', format = 'newline_delimited', "
        f"columns = {DUCKDB_COLUMNS})"
    )
    out.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({query}) TO '{out / 'result.parquet'}' (FORMAT parquet, COMPRESSION snappy)")
    return time.perf_counter() - started


def pyarrow_partitioned(data: Path, out: Path) -> float:
    started = time.perf_counter()
    table = pajson.read_json(data)
    ds.write_dataset(
        table,
        out,
        format="parquet",
        partitioning=["event_type"],
        partitioning_flavor="hive",
        existing_data_behavior="overwrite_or_ignore",
    )
    return time.perf_counter() - started


def flowsql_child(data: Path, out: Path, query: str, scratch: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a run in a process of its own, so its memory is its own."""
    pipeline = scratch / "benchmark.sql"
    pipeline.write_text(pipeline_text(data, out, query))
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.child", str(pipeline)], check=False, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"flowsql run failed: {result.stderr.strip()}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return float(figures["seconds"]), float(figures["peak_mib"])


def timed_runs(runs: int, work: Callable[[Path], float], scratch: Path) -> list[float]:
    """The seconds of each of `runs` runs of `work`, each writing to a fresh folder."""
    times = []
    for index in range(runs):
        out = scratch / f"out-{index}"
        times.append(work(out))
        shutil.rmtree(out, ignore_errors=True)
    return times


def aggregate_scenario(
    scenario: Scenario, data: Path, runs: int, scratch: Path
) -> tuple[list[float], list[float], float, int]:
    """flowsql and DuckDB batch in turn, `runs` times each; every flowsql output is checked
    against the batch answer. Returns both sets of times, the largest peak RSS and the rows."""
    ours, batch, peaks, rows = [], [], [], 0
    for index in range(runs):
        batch_out, out = scratch / f"{scenario.name}-batch-{index}", scratch / f"{scenario.name}-{index}"
        batch.append(duckdb_batch(data, batch_out, scenario.batch))
        seconds, peak = flowsql_child(data, out, scenario.ours, scratch)
        ours.append(seconds)
        peaks.append(peak)
        rows = check_equal(scenario.name, out, batch_out / "result.parquet")
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(batch_out, ignore_errors=True)
    return ours, batch, max(peaks), rows


def report(
    name: str, events: int, ours: list[float], baseline: list[float], baseline_name: str, peak_mib: float | None = None
) -> dict[str, object]:
    ours_rate, base_rate = rate(events, statistics.median(ours)), rate(events, statistics.median(baseline))
    low, high = rate(events, max(baseline)), rate(events, min(baseline))
    versus = ratio(ours_rate, base_rate)
    spread = f" ({low.show('{:,.0f}')}-{high.show('{:,.0f}')})" if len(baseline) > 1 else ""
    memory = f"   peak RSS {peak_mib:,.0f} MiB" if peak_mib is not None else ""
    print(
        f"{name:<10} flowsql {ours_rate.show('{:>12,.0f} events/s')}   {baseline_name} "
        f"{base_rate.show('{:>12,.0f} events/s')}{spread}   ratio {versus.show('{:.2f}')}{memory}"
    )
    result: dict[str, object] = {
        "flowsql_events_per_second": ours_rate.to_json(),
        "baseline_events_per_second": base_rate.to_json(),
        "baseline_spread": [low.to_json(), high.to_json()],
        "ratio": versus.to_json(),
    }
    if peak_mib is not None:
        result["peak_rss_mib"] = peak_mib
    return result


def peak_rss(events: int) -> float:
    """Peak RSS (MiB) of `flowsql run` over generated events with a tumbling aggregate."""
    text = (
        f"CREATE SOURCE clicks ({COLUMNS}, WATERMARK FOR ts AS ts - INTERVAL '5 seconds') "
        f"WITH (connector = 'generator', count = {events}, rate = 2000);\n"
        "CREATE SINK out WITH (connector = 'file', path = '{out}', buffer_interval = '60 s');\n"
        f"INSERT INTO out {SCENARIOS['tumble'].ours};"
    )
    with tempfile.TemporaryDirectory() as scratch:
        pipeline = Path(scratch) / "rss.sql"
        pipeline.write_text(text.replace("{out}", str(Path(scratch) / "out")))
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report its
        # parent's peak (this process holds the benchmark data).
        code = (
            "import re, sys; from flowsql.cli import main; rc = main(['run', sys.argv[1], '--quiet', "
            "'--no-checkpoint']); status = open('/proc/self/status').read(); "
            "print(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)); sys.exit(rc)"
        )
        result = subprocess.run([sys.executable, "-c", code, str(pipeline)], capture_output=True, text=True, check=True)
        return int(result.stdout.strip().splitlines()[-1]) / 1024


def latency(rate: int, seconds: int) -> tuple[Figure, Figure, int]:
    """p50/p99 seconds from a window's watermark passing its end to its object being in the lake,
    at a steady `rate` of events/s paced to the wall clock, with a zero buffer interval."""
    delay = 1.0
    text = (
        f"CREATE SOURCE clicks ({COLUMNS}, WATERMARK FOR ts AS ts - INTERVAL '{delay:g} seconds') "
        f"WITH (connector = 'generator', count = {rate * seconds}, rate = {rate}, realtime = true, "
        "disorder = '200 ms');\n"
        "CREATE SINK out WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');\n"
        "INSERT INTO out SELECT window_end, count(*) AS events FROM TUMBLE(clicks, ts, INTERVAL '1 second') "
        "GROUP BY ALL;"
    )
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out"
        pipeline = Path(scratch) / "latency.sql"
        pipeline.write_text(text.replace("{out}", str(out)))
        subprocess.run(
            [sys.executable, "-m", "flowsql", "run", str(pipeline), "--quiet", "--no-checkpoint"], check=True
        )
        samples = []
        for path in out.rglob("*.json"):
            if "errors" in path.parts:
                continue
            landed = path.stat().st_mtime
            for line in path.read_text().splitlines():
                window_end = datetime.fromisoformat(json.loads(line)["window_end"]).replace(tzinfo=UTC)
                samples.append(landed - (window_end.timestamp() + delay))
    samples.sort()
    # The last windows close at the end of input, not by the watermark: leave them out.
    samples = samples[: max(1, len(samples) - 2)]
    return percentile(samples, 0.5, "latency"), percentile(samples, 0.99, "latency"), len(samples)


AGGREGATES = ("tumble", "hop", "users", "session", "long-hop")
ALL = (*AGGREGATES, "raw", "latency", "memory", "startup")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--events", type=int, default=2_000_000, help="events per input (2 M; 20 M for the long runs)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenario", action="append", choices=ALL)
    parser.add_argument("--latency-rate", type=int, default=50_000)
    parser.add_argument("--latency-seconds", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "flowsql-bench")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    scenarios = args.scenario or list(ALL)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.events:,} events per input, median of {args.runs} runs, {os.cpu_count()} cores; "
        "baseline's spread in brackets"
    )
    results: dict[str, object] = {"events": args.events}
    inputs_shown: set[Path] = set()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        for name in AGGREGATES:
            if name in scenarios:
                scenario = SCENARIOS[name]
                data = make_input(args.data_dir, args.events, scenario.rate, scenario.users)
                if data not in inputs_shown:
                    inputs_shown.add(data)
                    print(
                        f"{'':<10} input: {data.stat().st_size / 1e6:,.0f} MB of NDJSON, {scenario.rate:g} "
                        f"events/s of event time, {scenario.users:,} users"
                    )
                ours, base, peak, rows = aggregate_scenario(scenario, data, args.runs, scratch)
                figures = report(name, args.events, ours, base, "duckdb batch", peak)
                results[name] = {**figures, "rows": rows}
        if "raw" in scenarios:
            data = make_input(args.data_dir, args.events)
            query = "SELECT * EXCLUDE (arrival_time) FROM clicks"
            options = ", prefix = 'event_type=!{partitionKeyFromQuery:event_type}/'"
            ours = timed_runs(args.runs, lambda out: flowsql_run(data, out, query, options), scratch)
            base = timed_runs(args.runs, lambda out: pyarrow_partitioned(data, out), scratch)
            results["raw"] = report("raw", args.events, ours, base, "pyarrow    ")
    if "latency" in scenarios:
        p50, p99, windows = latency(args.latency_rate, args.latency_seconds)
        p50_ms, p99_ms = (Figure(f.value * 1000, f.reason) if f.measured else f for f in (p50, p99))
        print(
            f"latency    {args.latency_rate:,} events/s, buffer interval 0: p50 {p50_ms.show('{:,.0f} ms')}, "
            f"p99 {p99_ms.show('{:,.0f} ms')} over {windows} windows"
        )
        results["latency"] = {"rate": args.latency_rate, "p50_seconds": p50.to_json(), "p99_seconds": p99.to_json()}
    if "memory" in scenarios:
        small, large = peak_rss(args.events), peak_rss(args.events * 10)
        growth = ratio(Figure(large), Figure(small) if small > 0 else not_measured("no peak RSS was read"))
        print(
            f"memory     peak RSS {small:,.0f} MiB at {args.events:,} events, {large:,.0f} MiB at "
            f"{args.events * 10:,} events: ratio {growth.show('{:.2f}')}"
        )
        results["memory"] = {"small_mib": small, "large_mib": large, "ratio": growth.to_json()}
    if "startup" in scenarios:
        results["startup"] = startup.run(args.runs, args.data_dir)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
