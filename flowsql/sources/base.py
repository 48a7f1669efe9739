"""What every source is: a reader of one stream that yields decoded batches with positions."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from flowsql.decode import NdjsonDecoder, RecordDecoder
from flowsql.decode_csv import CsvDecoder, CsvFormat
from flowsql.errors import ConfigError
from flowsql.options import choice, duration
from flowsql.pipeline.model import Column, SourceDecl
from flowsql.records import ARRIVAL_TIME, SourceBatch
from flowsql.sources.event_time import PartitionClocks, TimeBounds


@dataclass(frozen=True)
class SourceOptions:
    """Options every source takes; connectors subclass this with their own."""

    connector: str = ""
    format: str = choice("json", "ndjson", "csv")
    # Delimited records (format = 'csv'): docs/pipelines.md, "CSV and other delimited text".
    delimiter: str = ","
    record_delimiter: str = "\n"
    quote: str = '"'
    escape: str = ""
    header: bool = False
    null_string: str = ""
    allowed_lateness: float = duration(0.0)
    # Event time per partition (docs/pipelines.md, "Watermarks per partition").
    idle_timeout: float = duration(30.0)  # a partition silent this long stops holding time back
    max_drift: float = duration(600.0)  # a partition this far ahead of the slowest is paused
    max_future: float = duration(86400.0)  # an event time this far ahead of its arrival is an error


class Source(ABC):
    """Reads one stream. `read` runs in a thread of its own and yields batches until the
    stream ends (bounded sources) or `stop` is set."""

    options_class: ClassVar[type[SourceOptions]] = SourceOptions
    schema: pa.Schema  # the decoded rows' columns, without arrival_time
    stop_when_caught_up: bool = False  # `run --until-caught-up`: end `read` once nothing is left

    def __init__(self, decl: SourceDecl, options: SourceOptions) -> None:
        self.decl = decl
        self.name = decl.name
        self.options = options

    @property
    @abstractmethod
    def bounded(self) -> bool:
        """True when the stream has an end (a file read once, a counted generator)."""

    @property
    def live(self) -> bool:
        """True when arrival time follows the wall clock, so it moves on while nothing arrives."""
        return not self.bounded

    def explain_lines(self) -> list[str]:
        """What `flowsql explain` says of this source beyond its columns (a handler it calls)."""
        return []

    @abstractmethod
    def read(self, stop: threading.Event) -> Iterator[SourceBatch]:
        """Yield decoded batches until the end of the stream or until `stop` is set."""

    def record_decoder(self, judge_times: bool = True, columns: tuple[Column, ...] | None = None) -> RecordDecoder:
        """The decoder of this source's record format; with `judge_times`, it sends records whose
        event time cannot be true to the error output (judged against the chunk's arrival).
        `columns` are the ones read from records, when the source fills some itself."""
        options = self.options
        bounds = self.time_bounds() if judge_times else None
        read = self.decl.columns if columns is None else columns
        if options.format != "csv":
            return NdjsonDecoder(self.decl.name, read, bounds)
        return CsvDecoder(self.decl.name, read, csv_format(self.decl, options), bounds)

    def time_bounds(self) -> TimeBounds | None:
        """The event times this source's records can have (None without a WATERMARK)."""
        if self.decl.watermark is None:
            return None
        return TimeBounds(self.decl.watermark.column.lower(), int(self.options.max_future * 1_000_000))

    def partition_clocks(self) -> PartitionClocks:
        """A fresh per-partition tracker of this source's time columns."""
        columns = [ARRIVAL_TIME] + ([self.decl.watermark.column] if self.decl.watermark is not None else [])
        return PartitionClocks(columns, self.options.idle_timeout or None, self.options.max_drift or None)

    def lag(self) -> dict[str, int]:
        """How far behind the newest record each part of the stream is, in milliseconds."""
        return {}

    def seek(self, position: dict[str, Any]) -> None:
        """Resume after `position`, a value this source put in a batch it yielded before."""
        raise ValueError(f"source '{self.name}' cannot resume from a position")


_ESCAPES = {"\\t": "\t", "\\n": "\n", "\\r": "\r", "\\\\": "\\"}


def _unescaped(text: str) -> str:
    """'\\t' as written in a pipeline file is a tab (SQL strings have no escapes of their own)."""
    for written, meant in _ESCAPES.items():
        text = text.replace(written, meant)
    return text


def csv_format_of(options: SourceOptions) -> CsvFormat:
    """The CSV options as written, escapes read (`'\\t'` is a tab)."""
    return CsvFormat(
        _unescaped(options.delimiter),
        _unescaped(options.record_delimiter),
        _unescaped(options.quote),
        _unescaped(options.escape),
        options.header,
        _unescaped(options.null_string),
    )


def csv_format(decl: SourceDecl, options: SourceOptions) -> CsvFormat:
    """The CSV options, checked: one-character delimiter, quote and escape, and a record delimiter."""
    form = csv_format_of(options)
    for key, value in (("delimiter", form.delimiter), ("quote", form.quote), ("escape", form.escape)):
        if len(value) > 1 or (key == "delimiter" and not value) or (value and not value.isascii()):
            raise ConfigError(
                f"source '{decl.name}': bad value {value!r} for option '{key}': one ASCII character "
                f"({'required' if key == 'delimiter' else 'or empty'}), such as ',' '|' or '\\t'",
                decl.location,
            )
    if not form.record_delimiter:
        raise ConfigError(f"source '{decl.name}': the option 'record_delimiter' may not be empty", decl.location)
    if form.delimiter in (form.quote, form.escape) or form.delimiter in form.record_delimiter:
        raise ConfigError(
            f"source '{decl.name}': delimiter {form.delimiter!r} is also used as a quote, escape or record delimiter",
            decl.location,
        )
    return form
