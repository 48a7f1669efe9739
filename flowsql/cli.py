"""The `flowsql` command: run, validate and explain pipeline files.

Exit codes: 0 ok, 1 runtime failure, 2 usage, configuration or SQL error.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from flowsql import __version__
from flowsql.checkpoint import CheckpointStore, open_store
from flowsql.checkpoint.coordinator import describe_state
from flowsql.errors import FlowsqlError
from flowsql.pipeline import load_pipeline
from flowsql.runner import PipelineRun, RunSummary
from flowsql.settings import pipeline_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args))
    except FlowsqlError as exc:
        print(f"flowsql: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("flowsql: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # anything unforeseen still ends with a message and exit code 1
        if os.environ.get("FLOWSQL_DEBUG"):
            raise
        print(f"flowsql: failed: {type(exc).__name__}: {exc} (FLOWSQL_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowsql", description="Streaming SQL pipelines on DuckDB.")
    parser.add_argument("--version", action="version", version=f"flowsql {__version__}")
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="run a pipeline file")
    run.add_argument("file", type=Path)
    run.add_argument("--quiet", action="store_true", help="print no summary")
    run.add_argument("--summary-json", type=Path, help="write the run summary as JSON to this file")
    run.add_argument("--state-dir", type=Path,
                     help="where checkpoints live (default: beside the pipeline file, named after it)")
    run.add_argument("--reset", action="store_true", help="discard the checkpoint (says what it discards) and start over")
    run.add_argument("--no-checkpoint", action="store_true", help="run without checkpoints (nothing is resumed)")
    run.set_defaults(handler=_run)

    validate = commands.add_parser("validate", help="parse and check a pipeline file without reading data")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=_validate)

    explain = commands.add_parser("explain", help="show sources, windows, watermarks, sinks and the SQL that runs")
    explain.add_argument("file", type=Path)
    explain.set_defaults(handler=_explain)

    ddl = commands.add_parser("ddl", help="print Athena CREATE EXTERNAL TABLE statements for the file and s3 sinks")
    ddl.add_argument("file", type=Path)
    ddl.add_argument("--sink", help="only this sink")
    ddl.set_defaults(handler=_ddl)
    return parser


def _run(args: argparse.Namespace) -> int:
    stop = threading.Event()
    signals = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals["count"] += 1
        if signals["count"] > 1:
            # The next start recovers from the last checkpoint, so leaving now loses nothing.
            print("flowsql: second signal, exiting now", file=sys.stderr)
            os._exit(1)
        print("flowsql: stopping: finishing the micro-batch, flushing sinks, checkpointing", file=sys.stderr)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        pipeline = load_pipeline(args.file)
        settings = pipeline_settings(pipeline)
        store = None
        if settings.checkpointing and not args.no_checkpoint:
            store = open_store(settings.checkpoint or None, args.file, args.state_dir)
            if args.reset:
                _reset(store)
        run = PipelineRun(pipeline, store)
        try:
            summary = run.run(stop)
        finally:
            if store is not None:
                store.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary.to_json(), indent=2) + "\n")
    if not args.quiet:
        print(_summary_text(summary, run), file=sys.stderr)
    return 0


def _reset(store: CheckpointStore) -> None:
    state = store.load()
    if state is None:
        print(f"flowsql: --reset: no checkpoint in {store.describe()}", file=sys.stderr)
    else:
        print(f"flowsql: --reset discards {describe_state(state)} ({store.describe()})", file=sys.stderr)
    store.reset()


def _summary_text(summary: RunSummary, run: PipelineRun) -> str:
    rate = summary.events / summary.elapsed if summary.elapsed else 0.0
    lines = []
    if summary.resumed_epoch is not None and run.checkpoints is not None:
        lines.append(f"flowsql: resumed from checkpoint epoch {summary.resumed_epoch} in "
                     f"{run.checkpoints.store.describe()} (--reset starts over)")
    lines += [
        f"flowsql: {summary.pipeline}: {summary.events:,} events in {summary.elapsed:.2f} s "
        f"({rate:,.0f} events/s), {summary.errors:,} errors, {summary.late:,} late"
    ]
    for name, stats in summary.sinks.items():
        sink = run.sinks[name]
        where = getattr(getattr(sink, "destination", None), "describe", lambda: "stdout")()
        lines.append(f"  sink {name}: {stats['rows']:,} rows in {stats['objects']:,} objects "
                     f"({stats['bytes']:,} bytes) -> {where}; {stats['errors']:,} error records")
    if summary.stopped_early and summary.open_window_rows:
        lines.append(f"  stopped before the end: {summary.open_window_rows:,} rows were in windows still open")
    return "\n".join(lines)


def _validate(args: argparse.Namespace) -> int:
    pipeline = load_pipeline(args.file)
    run = PipelineRun(pipeline)
    print(f"{args.file}: ok ({len(run.sources)} sources, {len(run.plan.operators)} queries, {len(run.sinks)} sinks)")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from flowsql.explain import explain_text

    pipeline = load_pipeline(args.file)
    print(explain_text(PipelineRun(pipeline)))
    return 0


def _ddl(args: argparse.Namespace) -> int:
    from flowsql.catalog.athena import pipeline_ddl

    statements, notes = pipeline_ddl(PipelineRun(load_pipeline(args.file)), args.sink)
    for note in notes:
        print(f"flowsql: {note}", file=sys.stderr)
    print("\n\n".join(statements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
