"""A built-in, deterministic clickstream (or, with kind 'cdc-orders', a Debezium-style change feed
of an orders table, see cdc_orders.py): the same seed gives the same events, batch by batch.

Events are made in fixed blocks seeded by (seed, block number), vectorised with numpy, so the
stream is identical whatever the micro-batch size and costs no per-event Python work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from flowsql.decode import arrow_schema
from flowsql.errors import ConfigError
from flowsql.options import choice, duration
from flowsql.pipeline.model import SourceDecl
from flowsql.records import ARRIVAL_TIME, SourceBatch
from flowsql.sources import cdc_orders, register
from flowsql.sources.base import Source, SourceOptions

BLOCK = 65_536
PAGES = [
    "/",
    "/home",
    "/search",
    "/cart",
    "/checkout",
    "/product/1",
    "/product/2",
    "/product/3",
    "/product/4",
    "/product/5",
    "/category/books",
    "/category/music",
    "/category/games",
    "/account",
    "/help",
    "/about",
]
EVENT_TYPES = ["view", "view", "view", "view", "click", "click", "add_to_cart", "purchase"]
COUNTRIES = ["US", "DE", "FR", "GB", "JP", "BR", "IN", "CA", "ES", "IT"]
CLICKSTREAM_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("user_id", pa.string()),
        ("page", pa.string()),
        ("event_type", pa.string()),
        ("country", pa.string()),
        ("price", pa.float64()),
        ("ts", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class GeneratorOptions(SourceOptions):
    kind: str = choice("clickstream", "cdc-orders")
    count: int = 0  # 0: without end
    rate: float = 1000.0  # events per second of event time (and of wall time when realtime)
    seed: int = 42
    users: int = 10_000
    start_time: str = "2024-01-01T00:00:00"
    disorder: float = duration(2.0)  # events arrive up to this much behind their event time
    realtime: bool = False
    batch_size: int = BLOCK
    # cdc-orders only (bounds documented in cdc_orders.py)
    customers: int = 500
    delete_rate: float = 0.2
    duplicate_rate: float = 0.02
    reorder_window: int = 16


def clickstream_block(seed: int, block: int, start_us: int, rate: float, users: int, disorder_us: int) -> pa.Table:
    """Events block*BLOCK .. (block+1)*BLOCK-1 of the stream, identical on every call."""
    rng = np.random.default_rng([seed, block])
    index = np.arange(block * BLOCK, (block + 1) * BLOCK, dtype=np.int64)
    # Arrival runs `disorder` behind the start so that no event time falls before start_time.
    arrival_us = start_us + disorder_us + (index * (1_000_000 / rate)).astype(np.int64)
    jitter = rng.integers(0, disorder_us + 1, BLOCK) if disorder_us > 0 else 0
    user = (rng.random(BLOCK) ** 2 * users).astype(np.int64)
    page = np.minimum((rng.exponential(4.0, BLOCK)).astype(np.int64), len(PAGES) - 1)
    kind = rng.integers(0, len(EVENT_TYPES), BLOCK)
    country = rng.integers(0, len(COUNTRIES), BLOCK)
    price = np.round(rng.gamma(2.0, 15.0, BLOCK), 2)
    is_sale = kind >= 6
    user_ids = pc.binary_join_element_wise("u", pa.array(user).cast(pa.string()), "")
    return pa.table(
        {
            "event_id": pa.array(index),
            "user_id": user_ids,
            "page": pa.array(PAGES, pa.string()).take(pa.array(page)),
            "event_type": pa.array(EVENT_TYPES, pa.string()).take(pa.array(kind)),
            "country": pa.array(COUNTRIES, pa.string()).take(pa.array(country)),
            "price": pa.array(np.where(is_sale, price, 0.0)),
            "ts": pa.array(arrival_us - jitter, pa.timestamp("us")),
            ARRIVAL_TIME: pa.array(arrival_us, pa.timestamp("us")),
        }
    )


@register("generator")
class GeneratorSource(Source):
    options_class = GeneratorOptions
    options: GeneratorOptions

    def __init__(self, decl: SourceDecl, options: GeneratorOptions) -> None:
        super().__init__(decl, options)
        if options.rate <= 0:
            raise ConfigError(f"source '{decl.name}': rate must be above 0", decl.location)
        if options.kind == "cdc-orders":
            self._check_cdc_options(decl, options)
            self.schema = arrow_schema(decl.columns) if decl.columns else cdc_orders.DEFAULT_SCHEMA
            unknown = cdc_orders.unknown_columns(self.schema)
            if unknown:
                raise ConfigError(
                    f"source '{decl.name}': the cdc-orders generator has no column '{unknown[0]}'",
                    decl.location,
                    hint="it writes Debezium change events (format = 'debezium-json') of orders with "
                    + ", ".join(cdc_orders.ORDER_COLUMNS),
                )
            unknown = []
        else:
            self.schema = arrow_schema(decl.columns) if decl.columns else CLICKSTREAM_SCHEMA
            unknown = [n for n in self.schema.names if n not in CLICKSTREAM_SCHEMA.names and n != ARRIVAL_TIME]
        if unknown:
            raise ConfigError(
                f"source '{decl.name}': the clickstream generator has no column '{unknown[0]}'",
                decl.location,
                hint="its columns are " + ", ".join(CLICKSTREAM_SCHEMA.names),
            )
        try:
            start = datetime.fromisoformat(options.start_time)
        except ValueError:
            raise ConfigError(f"source '{decl.name}': start_time must be an ISO timestamp", decl.location) from None
        self.start_us = int(start.replace(tzinfo=UTC).timestamp() * 1_000_000)
        self.next_event = 0
        self._output_schema = self.schema
        if ARRIVAL_TIME not in self.schema.names:
            self._output_schema = self.schema.append(pa.field(ARRIVAL_TIME, pa.timestamp("us")))

    @staticmethod
    def _check_cdc_options(decl: SourceDecl, options: GeneratorOptions) -> None:
        for name, ok in (
            ("reorder_window", options.reorder_window >= 1),
            ("customers", options.customers >= 1),
            ("duplicate_rate", 0 <= options.duplicate_rate <= 1),
            ("delete_rate", 0 <= options.delete_rate <= 1),
        ):
            if not ok:
                # The option is read back by its name, to quote the bad value.
                raise ConfigError(
                    f"source '{decl.name}': bad value {getattr(options, name)!r} for option '{name}'",
                    decl.location,
                    hint="reorder_window and customers are at least 1; rates lie in 0..1",
                )

    @property
    def bounded(self) -> bool:
        return self.options.count > 0

    @property
    def live(self) -> bool:
        return self.options.realtime

    def seek(self, position: dict[str, Any]) -> None:
        self.next_event = int(position["next_event"])

    def read(self, stop: threading.Event) -> Iterator[SourceBatch]:
        opts = self.options
        start_us = self.start_us
        if opts.realtime:
            # Arrival time is the wall clock: take back the `disorder` head start of the blocks.
            start_us = (
                int(time.time() * 1_000_000)
                - int(self.next_event * 1_000_000 / opts.rate)
                - int(opts.disorder * 1_000_000)
            )
        began = time.monotonic() - self.next_event / opts.rate
        # Paced to the wall clock, a batch holds at most 100 ms of events, so that windows
        # close within a fraction of a second of their time, whatever the rate.
        batch_size = min(opts.batch_size, max(1, int(opts.rate / 10))) if opts.realtime else opts.batch_size
        if opts.kind == "cdc-orders":  # whole reorder chunks per batch keep the feed batch-size independent
            batch_size = -(-batch_size // opts.reorder_window) * opts.reorder_window
        while not stop.is_set():
            first = self.next_event
            last = first + batch_size
            if opts.count:
                last = min(last, opts.count)
            if last <= first:
                return
            if opts.realtime:
                due = began + last / opts.rate
                if stop.wait(max(0.0, due - time.monotonic())):
                    return
            table = self.events(first, last, start_us)
            self.next_event = last
            yield SourceBatch(self.name, table, [], {"next_event": last}, table.nbytes)

    def events(self, first: int, last: int, start_us: int) -> pa.Table:
        """Events first..last-1 of the stream (for cdc-orders, changes in delivery order;
        `first` and `last` fall on whole reorder chunks)."""
        opts = self.options
        if opts.kind == "cdc-orders":
            return self._changes(first, last, start_us)
        disorder_us = int(opts.disorder * 1_000_000)
        blocks = [
            clickstream_block(opts.seed, b, start_us, opts.rate, opts.users, disorder_us)
            for b in range(first // BLOCK, (last - 1) // BLOCK + 1)
        ]
        table = pa.concat_tables(blocks).slice(first - (first // BLOCK) * BLOCK, last - first)
        return table.select(self._output_schema.names).cast(self._output_schema)

    def _changes(self, first: int, last: int, start_us: int) -> pa.Table:
        opts = self.options
        events = cdc_orders.change_events(opts.seed, first, last, start_us, opts.rate, opts.customers, opts.delete_rate)
        delivered = cdc_orders.delivery_order(opts.seed, first, last, opts.reorder_window, opts.duplicate_rate)
        chunk_end = (delivered // opts.reorder_window + 1) * opts.reorder_window - 1
        arrival_us = start_us + (chunk_end * (1_000_000 / opts.rate)).astype(np.int64) + 1000
        return cdc_orders.debezium_table(events, delivered - first, arrival_us, self._output_schema)
