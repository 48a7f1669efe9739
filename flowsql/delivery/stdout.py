"""The stdout sink: a readable table on a terminal, JSON lines otherwise (for pipes)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, TextIO

import duckdb
import pyarrow as pa

from flowsql.delivery.buffer import Buffering, BufferOptions, DeliveryBuffer
from flowsql.delivery.encoders import encode_json_lines
from flowsql.delivery.sink import SinkStats
from flowsql.delivery.transform_options import TransformOptions
from flowsql.delivery.transforming import TransformingDelivery
from flowsql.options import choice
from flowsql.pipeline.model import SinkDecl
from flowsql.records import BadRecord

_MAX_TABLE_ROWS = 50


@dataclass(frozen=True)
class StdoutSinkOptions(TransformOptions, BufferOptions):
    # A terminal shows each micro-batch's rows as they come.
    DEFAULT_BUFFERING: ClassVar[Buffering] = Buffering(1000**2, 0.0)

    connector: str = ""
    format: str = choice("auto", "table", "json")


class StdoutSink(TransformingDelivery):
    def __init__(
        self, decl: SinkDecl, options: StdoutSinkOptions, schema: pa.Schema, stream: TextIO | None = None
    ) -> None:
        self.name = decl.name
        self.options = options
        self.schema = schema
        self.stream = stream or sys.stdout
        self.buffering = options.buffering
        self.buffer = DeliveryBuffer(self.buffering.size, self.buffering.interval)
        self.stats = SinkStats()
        self.errors: list[BadRecord] = []
        self.delivered: list[str] = []
        self._con = duckdb.connect()
        self._widths: list[int] | None = None  # the header is printed once; later rows align to it

    def describe(self) -> str:
        return "stdout"

    def explain_lines(self) -> list[str]:
        return self.transform_lines()

    def _table_text(self, table: pa.Table) -> str:
        names = table.column_names
        rows = [[_cell(v) for v in row.values()] for row in table.slice(0, _MAX_TABLE_ROWS).to_pylist()]
        out = []
        if self._widths is None:
            self._widths = [max([len(n), 12, *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
            out.append("  ".join(n.ljust(w) for n, w in zip(names, self._widths, strict=True)))
            out.append("  ".join("-" * w for w in self._widths))
        out += [
            "  ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, self._widths, strict=True))
            for r in rows
        ]
        if table.num_rows > _MAX_TABLE_ROWS:
            out.append(f"... {table.num_rows - _MAX_TABLE_ROWS} more rows")
        return "\n".join(out)

    def add_errors(self, records: list[BadRecord]) -> None:
        # Bad records must not mix with the results on stdout: they go to stderr, whole.
        for record in records:
            print(f"error output ({record.error_code}): {record.message}: {record.raw[:200]!r}", file=sys.stderr)
        self.stats.errors += len(records)

    def due(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.transform_if_due(now)
        return self.buffer.due(now)

    def flush(self, wall_time: datetime | None = None) -> list[str]:
        self.transform_pending()
        table = self.buffer.take()
        if table is None:
            return []
        as_table = self.options.format == "table" or (self.options.format == "auto" and self.stream.isatty())
        if self.transform is not None:
            # The handler's records, one per line (a record's own trailing newline is not doubled).
            lines = self.output_records(table, lambda rows: encode_json_lines(self._con, rows).splitlines())
            self.stream.write("".join(line.decode("utf-8", "replace").rstrip("\n") + "\n" for line in lines))
        elif as_table:
            self.stream.write(self._table_text(table) + "\n")
        else:
            self.stream.write(encode_json_lines(self._con, table).decode())
        self.stream.flush()
        self.stats.rows += table.num_rows
        return []


def _numeric(text: str) -> bool:
    return text.replace(".", "", 1).replace("-", "", 1).isdigit()


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)
