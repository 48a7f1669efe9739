"""`flowsql generate`: the built-in generators' events as NDJSON, for demos and load tests.

Events come in vectorised blocks (the generator source's own), are encoded to JSON lines by
DuckDB and written whole, so output speed does not depend on per-event Python work. Writers
are separate from the event stream, so another output (a Kinesis stream) is one more writer.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

import duckdb
import pyarrow as pa

from flowsql.delivery.encoders import encode_json_lines
from flowsql.errors import Location, UsageError
from flowsql.options import Option, bind_options
from flowsql.pipeline.model import SourceDecl
from flowsql.records import ARRIVAL_TIME
from flowsql.sources.generator import BLOCK, GeneratorOptions, GeneratorSource, clickstream_block

log = logging.getLogger("flowsql")


@dataclass(frozen=True)
class GenerateOptions:
    kind: str = "clickstream"
    count: int = 0  # 0: without end
    rate: float = 0.0  # events per wall-clock second; 0: as fast as the output takes them
    seed: int = 42
    users: int = 10_000
    start_time: str = "2024-01-01T00:00:00"
    disorder: float = 2.0
    batch_size: int = 10_000


RangeMaker = Callable[[GenerateOptions, int, int, int, float], pa.Table]


def _clickstream(options: GenerateOptions, first: int, last: int, start_us: int, rate: float) -> pa.Table:
    disorder_us = int(options.disorder * 1_000_000)
    blocks = [
        _block(options.seed, number, start_us, rate, options.users, disorder_us)
        for number in range(first // BLOCK, (last - 1) // BLOCK + 1)
    ]
    return pa.concat_tables(blocks).slice(first - (first // BLOCK) * BLOCK, last - first)


@functools.lru_cache(maxsize=2)  # consecutive batches mostly fall in the same block
def _block(seed: int, number: int, start_us: int, rate: float, users: int, disorder_us: int) -> pa.Table:
    return clickstream_block(seed, number, start_us, rate, users, disorder_us)


def _cdc_orders(options: GenerateOptions, first: int, last: int, start_us: int, rate: float) -> pa.Table:
    # The generator source's own change feed (Debezium JSON once encoded), the same whatever
    # the batch boundaries, as long as they fall on whole reorder chunks.
    return _cdc_source(options.seed, rate).events(first, last, start_us)


@functools.lru_cache(maxsize=4)
def _cdc_source(seed: int, rate: float) -> GeneratorSource:
    options = (
        Option("connector", "generator"),
        Option("kind", "cdc-orders"),
        Option("seed", seed),
        Option("rate", rate),
    )
    decl = SourceDecl("orders", (), None, options, Location("<generate>", 1, 1))
    return GeneratorSource(decl, bind_options(GeneratorOptions, list(options), "flowsql generate cdc-orders"))


KINDS: dict[str, RangeMaker] = {"clickstream": _clickstream, "cdc-orders": _cdc_orders}


def generate(options: GenerateOptions) -> Iterator[pa.Table]:
    """Tables of events, in order, paced to `rate` per second when it is set. The same seed gives
    the same events (with rate set, timestamps follow the wall clock and differ run to run)."""
    if options.kind not in KINDS:
        raise UsageError(f"generate: unknown kind '{options.kind}', choose one of {', '.join(KINDS)}")
    if options.rate < 0 or options.count < 0 or options.batch_size <= 0:
        raise UsageError("generate: --rate and --count must be 0 or more")
    make = KINDS[options.kind]
    if options.rate:
        # Arrival runs `disorder` after the start, so starting that far back keeps event times up to now.
        start_us = int(time.time() * 1_000_000) - int(options.disorder * 1_000_000)
        spacing = options.rate
        batch = max(1, min(options.batch_size, int(options.rate / 10) or 1))  # ten writes a second
    else:
        start = datetime.fromisoformat(options.start_time).replace(tzinfo=UTC)
        start_us = int(start.timestamp() * 1_000_000)
        spacing = 1000.0  # event time one millisecond apart, as the generator source's default
        batch = options.batch_size
    if options.kind == "cdc-orders":
        chunk = GeneratorOptions.reorder_window
        batch = -(-batch // chunk) * chunk  # whole reorder chunks
    began = time.monotonic()
    first = 0
    while not options.count or first < options.count:
        last = first + batch if not options.count else min(first + batch, options.count)
        if options.rate:
            wait = began + last / options.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        table = make(options, first, last, start_us, spacing)
        yield table.drop_columns([ARRIVAL_TIME]) if ARRIVAL_TIME in table.column_names else table
        first = last


def write_ndjson(tables: Iterator[pa.Table], out: BinaryIO, progress: Callable[[int], None] | None = None) -> int:
    """Write each table as JSON lines; returns the number of events written."""
    con = duckdb.connect()
    written = 0
    for table in tables:
        out.write(encode_json_lines(con, table))
        out.flush()
        written += table.num_rows
        if progress is not None:
            progress(written)
    return written


class Progress:
    """Events written so far on stderr, every `interval` seconds: one line rewritten in place on
    a terminal, a log line otherwise."""

    def __init__(self, total: int, interval: float, terminal: bool | None = None) -> None:
        self.total = total
        self.interval = interval
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.began = time.monotonic()
        self.shown_at = self.began
        self.shown_count = 0

    def __call__(self, written: int) -> None:
        now = time.monotonic()
        if now - self.shown_at < self.interval:
            return
        self.shown_at = now
        self._show(written, now, final=False)

    def finish(self, written: int) -> None:
        if self.shown_at == self.began:  # short runs show no progress at all
            return
        if written != self.shown_count:
            self._show(written, time.monotonic(), final=True)
        elif self.terminal:
            sys.stderr.write("\n")

    def _show(self, written: int, now: float, final: bool) -> None:
        self.shown_count = written
        rate = written / max(now - self.began, 1e-9)
        of = f" of {self.total:,}" if self.total else ""
        text = f"generated {written:,}{of} events ({rate:,.0f} events/s)"
        if self.terminal:
            sys.stderr.write(f"\r{text}" + ("\n" if final else ""))
            sys.stderr.flush()
        else:
            log.info(text, extra={"event": "generate_progress", "events": written, "events_per_second": rate})
