"""The `flowsql` command: run, validate and explain pipeline files; generate demo events.

Exit codes: 0 ok, 1 runtime failure, 2 usage, configuration or SQL error.
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import pyarrow as pa

from flowsql import __version__
from flowsql.checkpoint import CheckpointStore, open_store
from flowsql.checkpoint.coordinator import describe_state
from flowsql.delivery.sink import ObjectSink
from flowsql.errors import FlowsqlError, UsageError
from flowsql.lean_start import skip_pandas_probe
from flowsql.logs import configure_logging
from flowsql.pipeline import Pipeline, load_pipeline
from flowsql.runner import PipelineRun, RunSummary
from flowsql.secrets import ScrubbingFilter, pipeline_secrets, scrub, scrub_data
from flowsql.settings import pipeline_settings
from flowsql.validate import check_pipeline

_SECRETS: set[str] = set()  # the secrets of the pipeline being run, scrubbed from all output


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the process is the command, not a program that imported main()
        skip_pandas_probe()
    parser = _parser()
    args = parser.parse_args(argv)
    # argparse sets `command` only when a subcommand was given, and `log_format` only on the
    # subcommands that take it: these probe argparse's namespace, not a class of ours.
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    debug = args.debug or os.environ.get("FLOWSQL_DEBUG", "") not in ("", "0")
    # Each command starts from its own log format (text unless it says otherwise), whatever an
    # earlier command in the same process chose.
    configure_logging(getattr(args, "log_format", "text"))
    try:
        return int(args.handler(args))
    except FlowsqlError as exc:
        if debug:
            traceback.print_exc()
        _report_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print("flowsql: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - anything unforeseen still ends with a message and exit code 1
        if debug:
            traceback.print_exc()
        _report_error(runtime_message(exc) + ("" if debug else " (--debug shows the traceback)"))
        return 1


def runtime_message(error: BaseException) -> str:
    """What went wrong while running, in words: the first line of DuckDB's or the system's message."""
    import duckdb

    if isinstance(error, duckdb.Error):
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        return f"a query failed on the data while running: {first}"
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"failed: {error.strerror or error}{where}"
    if isinstance(error, RecursionError):
        return "failed: an expression nests too deeply to run"
    return f"failed: {type(error).__name__}: {error}"


def _report_error(message: str) -> None:
    message = scrub(message, _SECRETS)
    logging.getLogger("flowsql").error(message, extra={"event": "error"})  # text or JSON lines, redacted


class _ArgumentParser(argparse.ArgumentParser):
    """argparse that names the closest option or command when one is misspelt."""

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            close = difflib.get_close_matches(choice.group(1), options, n=1)
            if close:
                message += f" (did you mean {close[0]}?)"
        match = re.search(r"unrecognized arguments: (\S+)", message)
        if match and match.group(1).startswith("-"):
            known = [o for action in self._every_action() for o in action.option_strings]
            close = difflib.get_close_matches(match.group(1).split("=")[0], known, n=1)
            if close:
                message += f" (did you mean {close[0]}?)"
        super().error(message)

    def _every_action(self) -> list[argparse.Action]:
        actions = list(self._actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    actions += sub._actions
        return actions


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is no port: use 1 to 65535")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(prog="flowsql", description="Streaming SQL pipelines on DuckDB.")
    parser.add_argument("--version", action="version", version=f"flowsql {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of any failure (also FLOWSQL_DEBUG=1)")
    commands = parser.add_subparsers(dest="command", parser_class=_ArgumentParser)

    run = commands.add_parser("run", help="run a pipeline file")
    run.add_argument("file", type=Path)
    run.add_argument("--quiet", action="store_true", help="print no summary")
    run.add_argument("--summary-json", type=Path, help="write the run summary as JSON to this file")
    run.add_argument(
        "--state-dir", type=Path, help="where checkpoints live (default: beside the pipeline file, named after it)"
    )
    run.add_argument(
        "--reset", action="store_true", help="discard the checkpoint (says what it discards) and start over"
    )
    run.add_argument("--no-checkpoint", action="store_true", help="run without checkpoints (nothing is resumed)")
    _add_status_options(run)
    run.add_argument(
        "--until-caught-up",
        action="store_true",
        help="stop once every source has nothing more to read (flushing windows and sinks)",
    )
    run.set_defaults(handler=_run)

    generate = commands.add_parser("generate", help="write generated events as NDJSON to stdout")
    generate.add_argument("kind", choices=["clickstream", "cdc-orders"])
    generate.add_argument("--count", type=int, default=0, help="events to write (default: without end)")
    generate.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="events per second, timestamped on the wall clock (default: as fast as possible)",
    )
    generate.add_argument("--seed", type=int, default=42, help="the same seed gives the same events")
    generate.add_argument(
        "--start-time", default="2024-01-01T00:00:00", help="event time of the first event when --rate is not set"
    )
    generate.add_argument(
        "--kinesis",
        metavar="STREAM",
        help="put the events into this Kinesis stream (name or ARN) instead of writing them to stdout",
    )
    generate.add_argument(
        "--partition-key-field",
        help="with --kinesis: the field that keys each record "
        "(default: user_id for clickstream, random for cdc-orders)",
    )
    generate.add_argument("--region", default="")
    generate.add_argument("--endpoint-url", default="")
    generate.add_argument("--quiet", action="store_true", help="show no progress")
    generate.add_argument("--log-format", choices=["text", "json"], default="text")
    generate.set_defaults(handler=_generate)

    validate = commands.add_parser("validate", help="parse and check a pipeline file without reading data")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=_validate)

    explain = commands.add_parser("explain", help="show sources, windows, watermarks, sinks and the SQL that runs")
    explain.add_argument("file", type=Path)
    explain.set_defaults(handler=_explain)

    compile_ = commands.add_parser("compile", help="write the pipeline as a job for another engine (Flink SQL)")
    compile_.add_argument("file", type=Path)
    compile_.add_argument("--target", required=True, choices=["flink"], help="the engine to compile for")
    compile_.add_argument("-o", "--output", type=Path, help="folder for the job (default: print the script)")
    compile_.set_defaults(handler=_compile)

    produce = commands.add_parser("produce", help="put NDJSON records into a Kinesis stream")
    produce.add_argument("stream", help="stream name or ARN")
    produce.add_argument("input", nargs="?", default="-", help="NDJSON file, or - for standard input")
    produce.add_argument(
        "--partition-key-field", help="take each record's partition key from this JSON field (default: a random key)"
    )
    produce.add_argument("--region", default="")
    produce.add_argument("--endpoint-url", default="")
    produce.add_argument("--max-attempts", type=int, default=10, help="PutRecords attempts per record")
    produce.set_defaults(handler=_produce)

    ddl = commands.add_parser("ddl", help="print Athena CREATE EXTERNAL TABLE statements for the file and s3 sinks")
    ddl.add_argument("file", type=Path)
    ddl.add_argument("--sink", help="only this sink")
    ddl.set_defaults(handler=_ddl)

    compact = commands.add_parser(
        "compact", help="merge small files and expire old snapshots of the pipeline's Iceberg tables"
    )
    compact.add_argument("file", type=Path)
    compact.add_argument("--sink", help="only this sink")
    compact.add_argument("--target-file-size", default="128 MB", help="files under this size are merged")
    compact.add_argument(
        "--expire-older-than",
        default="5 days",
        help="expire snapshots older than this ('0 s': all but the newest; 'never': none)",
    )
    compact.add_argument("--retain-last", type=int, default=1, help="always keep this many newest snapshots")
    compact.set_defaults(handler=_compact)
    return parser


def _add_status_options(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="log lines on stderr as plain text or one JSON object each",
    )
    run.add_argument(
        "--status-interval",
        type=float,
        default=10.0,
        help="seconds between status log lines when stderr is not a terminal (0: none)",
    )
    run.add_argument("--status-shards", action="store_true", help="show each shard in the status panel")
    run.add_argument("--metrics-port", type=_port, help="serve Prometheus metrics on this port at /metrics")
    run.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)")


def _run(args: argparse.Namespace) -> int:
    from flowsql.status.watch import Watchers

    logger = configure_logging(args.log_format, logging.WARNING if args.quiet else logging.INFO)
    for handler in logger.handlers:
        handler.addFilter(ScrubbingFilter(_SECRETS))
    stop = threading.Event()
    signals = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals["count"] += 1
        if signals["count"] > 1:
            # The next start recovers from the last checkpoint, so leaving now loses nothing.
            logger.warning("second signal, exiting now", extra={"event": "exit_now"})
            os._exit(1)
        logger.warning(
            "stopping: finishing the micro-batch, flushing sinks, checkpointing",
            extra={"event": "stopping", "signal": signal.Signals(signum).name},
        )
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        pipeline = _checked(args.file)
        settings = pipeline_settings(pipeline)
        store = None
        if settings.checkpointing and not args.no_checkpoint:
            store = _open_store(settings.checkpoint or None, args)
            if args.reset:
                _reset(store)
            _check_checkpoint(store)
        run = PipelineRun(pipeline, store)
        if args.reset:
            _remove_earlier_output(run)
        watchers = None
        try:
            watchers = Watchers(
                run, args.quiet, args.status_interval, args.metrics_port, args.metrics_host, args.status_shards
            )
            try:
                watchers.start()
            except OSError as exc:
                raise UsageError(
                    f"cannot serve metrics on {args.metrics_host}:{args.metrics_port}: "
                    f"{exc.strerror or exc}; choose another --metrics-port"
                ) from None
            summary = run.run(stop, until_caught_up=args.until_caught_up)
        finally:
            if watchers is not None:
                watchers.stop()
            if store is not None:
                store.close()
    finally:
        for sig, previous_handler in previous.items():
            signal.signal(sig, previous_handler)
    report = scrub_data({**summary.to_json(), **_operations_json(run)}, _SECRETS)
    if args.summary_json:
        try:
            args.summary_json.write_text(json.dumps(report, indent=2) + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write --summary-json {args.summary_json}: {exc.strerror}") from None
    if summary.resumed_epoch is not None and run.checkpoints is not None:
        logger.info(
            "resumed from checkpoint epoch %d in %s (--reset starts over)",
            summary.resumed_epoch,
            run.checkpoints.store.describe(),
            extra={"event": "resumed", "epoch": summary.resumed_epoch},
        )
    if not args.quiet:
        if args.log_format == "json":
            logging.getLogger("flowsql").info("summary", extra={"event": "summary", "summary": report})
        else:
            print(scrub(_summary_text(summary, run), _SECRETS), file=sys.stderr)
    return 0


def _checked(path: Path) -> Pipeline:
    """The pipeline after every check a run needs; its secrets are scrubbed from all output."""
    pipeline = check_pipeline(path).pipeline
    _SECRETS.update(pipeline_secrets(pipeline))
    return pipeline


def _open_store(spec: str | None, args: argparse.Namespace) -> CheckpointStore:
    try:
        store = open_store(spec, args.file, args.state_dir)
        store.staging_dir().mkdir(parents=True, exist_ok=True)  # an unusable folder fails now, not at the first commit
    except OSError as exc:
        where = args.state_dir or exc.filename or spec
        raise UsageError(f"cannot use the state directory {where}: {exc.strerror or exc}") from None
    return store


def _check_checkpoint(store: CheckpointStore) -> None:
    """A checkpoint that cannot be read is the user's to resolve: say how, before anything runs."""
    try:
        store.load()
    except FlowsqlError:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError, pa.ArrowException) as exc:
        raise UsageError(
            f"the checkpoint in {store.describe()} cannot be read ({type(exc).__name__}: {exc}); "
            "run with --reset to discard it and start over, or point --state-dir elsewhere"
        ) from None


def _operations_json(run: PipelineRun) -> dict[str, object]:
    """What the status panel shows, at the end of the run, plus every metric series."""
    from flowsql.status.view import build_view

    view = build_view(run.metrics.snapshot(), None, 0.0).to_json()
    return {
        "watermarks": view["watermarks"],
        "delivery": view["sinks"],
        "source_status": view["sources"],
        "checkpoint": view["checkpoint"],
        "metrics": run.metrics.to_json(),
    }


def _remove_earlier_output(run: PipelineRun) -> None:
    """A reset run starts over: what its object sinks wrote before is replaced, not added to."""
    log = logging.getLogger("flowsql")
    for name, sink in run.sinks.items():
        if isinstance(sink, ObjectSink):
            removed = sink.remove_earlier_output()
            if removed:
                log.warning(
                    "--reset: removed %d objects sink '%s' wrote before (%s)",
                    removed,
                    name,
                    sink.destination.describe(),
                    extra={"event": "reset_output", "sink": name, "removed": removed},
                )


def _reset(store: CheckpointStore) -> None:
    log = logging.getLogger("flowsql")
    fields = {"event": "reset", "store": store.describe()}
    try:
        state = store.load()
    except (OSError, ValueError, KeyError, TypeError, IndexError, pa.ArrowException) as exc:
        log.warning(
            "--reset discards an unreadable checkpoint (%s) in %s", type(exc).__name__, store.describe(), extra=fields
        )
        store.reset()
        return
    if state is None:
        log.warning("--reset: no checkpoint in %s", store.describe(), extra=fields)
    else:
        log.warning(
            "--reset discards %s (%s)", describe_state(state), store.describe(), extra={**fields, "epoch": state.epoch}
        )
    store.reset()


def _summary_text(summary: RunSummary, run: PipelineRun) -> str:
    rate = summary.events / summary.elapsed if summary.elapsed else 0.0
    lines = [
        (
            f"flowsql: {summary.pipeline}: {summary.events:,} events in {summary.elapsed:.2f} s "
            f"({rate:,.0f} events/s), {summary.errors:,} errors, {summary.late:,} late"
        )
    ]
    for name, stats in summary.sinks.items():
        sink = run.sinks[name]
        where = sink.describe()
        retries = int(run.metrics.total("flowsql_sink_retries_total", sink=name))
        throttles = int(run.metrics.total("flowsql_sink_throttles_total", sink=name))
        trouble = f", {retries:,} retries, {throttles:,} throttles" if retries or throttles else ""
        if stats.get("invocations"):
            trouble += f", {stats['dropped']:,} dropped by the transformation handler"
        lines.append(
            f"  sink {name}: {stats['rows']:,} rows in {stats['objects']:,} objects "
            f"({stats['bytes']:,} bytes) -> {where}; {stats['errors']:,} error records{trouble}"
        )
    for name, source_stats in summary.sources.items():
        if source_stats.lag_millis:
            lags = ", ".join(f"{shard} {millis:,} ms" for shard, millis in source_stats.lag_millis.items())
            lines.append(f"  source {name}: behind latest: {lags}")
    if summary.stopped_early and summary.open_window_rows:
        lines.append(f"  stopped before the end: {summary.open_window_rows:,} rows were in windows still open")
    return "\n".join(lines)


def _generate(args: argparse.Namespace) -> int:
    from flowsql.generate import GenerateOptions, Progress, generate, write_ndjson

    configure_logging(args.log_format)
    options = GenerateOptions(
        kind=args.kind, count=args.count, rate=args.rate, seed=args.seed, start_time=args.start_time
    )
    progress = None if args.quiet else Progress(args.count, interval=2.0)
    written = 0

    def note(count: int) -> None:
        nonlocal written
        written = count
        if progress is not None:
            progress(count)

    if args.kinesis:
        return _generate_to_kinesis(args, generate(options), note, progress)
    try:
        write_ndjson(generate(options), sys.stdout.buffer, note)
    except BrokenPipeError:
        # The reader went away (`| head`); stop quietly like other Unix tools.
        sys.stderr.close()
        return 0
    if progress is not None:
        progress.finish(written)
    return 0


def _generate_to_kinesis(
    args: argparse.Namespace, tables: Iterable[pa.Table], note: Callable[[int], None], progress: Any
) -> int:
    import duckdb

    from flowsql.delivery.encoders import encode_json_lines
    from flowsql.produce import produce

    key_field = args.partition_key_field or ("user_id" if args.kind == "clickstream" else None)
    con = duckdb.connect()

    def records() -> Iterator[bytes]:
        count = 0
        for table in tables:
            yield from encode_json_lines(con, table).splitlines()
            count += table.num_rows
            note(count)

    report = produce(
        args.kinesis, records(), partition_key_field=key_field, region=args.region, endpoint_url=args.endpoint_url
    )
    if progress is not None:
        progress.finish(report.put)
    for problem in [*report.skipped, *report.failed]:
        print(f"flowsql: record {problem.number} not put: {problem.reason}", file=sys.stderr)
    print(
        f"flowsql: {report.put:,} events put into {args.kinesis} ({report.calls:,} PutRecords calls, "
        f"{report.retried_entries:,} entries retried)",
        file=sys.stderr,
    )
    return 0 if report.ok else 1


def _produce(args: argparse.Namespace) -> int:
    import time

    from flowsql.errors import UsageError
    from flowsql.produce import ProduceReport, produce, read_lines

    if args.max_attempts < 1:
        raise UsageError("--max-attempts must be at least 1")
    started = time.monotonic()

    def put(lines: Iterable[bytes]) -> ProduceReport:
        return produce(
            args.stream,
            read_lines(lines),
            partition_key_field=args.partition_key_field,
            region=args.region,
            endpoint_url=args.endpoint_url,
            max_attempts=args.max_attempts,
        )

    if args.input == "-":
        report = put(sys.stdin.buffer)
    else:
        try:
            with open(args.input, "rb") as source:
                report = put(source)
        except OSError as exc:
            raise UsageError(f"cannot open {args.input}: {exc.strerror}") from None
    for problem in report.skipped:
        print(f"flowsql: record {problem.number} skipped: {problem.reason}", file=sys.stderr)
    for problem in report.failed:
        print(f"flowsql: record {problem.number} failed: {problem.reason}", file=sys.stderr)
    elapsed = time.monotonic() - started
    print(
        f"flowsql: {report.put:,} records put into {args.stream} in {elapsed:.2f} s "
        f"({report.calls:,} PutRecords calls, {report.retried_entries:,} entries retried), "
        f"{len(report.skipped):,} skipped, {len(report.failed):,} failed",
        file=sys.stderr,
    )
    return 0 if report.ok else 1


def _validate(args: argparse.Namespace) -> int:
    pipeline = _checked(args.file)
    run = PipelineRun(pipeline)
    print(f"{args.file}: ok ({len(run.sources)} sources, {len(run.plan.operators)} queries, {len(run.sinks)} sinks)")
    return 0


def _explain(args: argparse.Namespace) -> int:
    from flowsql.explain import explain_text

    pipeline = _checked(args.file)
    print(scrub(explain_text(PipelineRun(pipeline)), _SECRETS))
    return 0


def _compile(args: argparse.Namespace) -> int:
    from flowsql.compile import compile_flink

    job = compile_flink(load_pipeline(args.file))
    for note in job.notes:
        print(f"flowsql: note: {note}", file=sys.stderr)
    if args.output is None:
        print(job.script, end="")
        return 0
    written = job.write(args.output)
    print(f"flowsql: wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    for jar in job.jars:
        print(f"flowsql: needs {jar.coordinates} ({jar.why})", file=sys.stderr)
    return 0


def _ddl(args: argparse.Namespace) -> int:
    from flowsql.catalog.athena import pipeline_ddl

    statements, notes = pipeline_ddl(PipelineRun(load_pipeline(args.file)), args.sink)
    for note in notes:
        print(f"flowsql: {note}", file=sys.stderr)
    print("\n\n".join(statements))
    return 0


def _compact(args: argparse.Namespace) -> int:
    from flowsql.delivery.iceberg_compact_command import compact_pipeline

    for line in compact_pipeline(
        PipelineRun(load_pipeline(args.file)),
        args.sink,
        args.target_file_size,
        args.expire_older_than,
        args.retain_last,
    ):
        print(f"flowsql: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
