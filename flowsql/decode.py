"""Raw newline-delimited JSON into Arrow against the declared schema, bad records aside.

A whole chunk is parsed by DuckDB's JSON reader (parallel, and it honours UTC offsets once
timestamps are read as TIMESTAMPTZ). Only when that fails is the chunk bisected to find the
offending lines, so the cost of bad input is paid only by the chunks that hold it, and no good
record of such a chunk is lost. Values convert as DuckDB casts them: `"12"` into a BIGINT is 12.
"""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from flowsql.pipeline.model import Column
from flowsql.records import ARRIVAL_TIME, BadRecord
from flowsql.row_origins import ChunkSpans, RowOrigins, line_spans
from flowsql.scratch_sql import scratch_connection

if TYPE_CHECKING:  # the sources package imports this module
    from flowsql.sources.event_time import TimeBounds

# A line that is JSON `null` (Debezium writes one after each delete, as a Kafka tombstone) reads
# as a row of NULLs; it is not a record.
_NULL_LINE = re.compile(rb"(?:^|\n)[ \t\r]*null[ \t\r]*(?=\n|$)")
_REASON = re.compile(r'(?:JSON transform error|Malformed JSON) in file "[^"]*",? (?:(at byte \d+) )?in line \d+: ')


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    """The Arrow schema DuckDB itself uses for the declared column types."""
    if not columns:
        return pa.schema([])
    select = ", ".join(f"CAST(NULL AS {c.sql_type}) AS {_quote(c.name)}" for c in columns)
    with scratch_connection() as con:
        return con.sql(f"SELECT {select}").to_arrow_table().schema


def thread_connection(local: threading.local) -> duckdb.DuckDBPyConnection:
    """This thread's DuckDB connection for decoding (decode threads each need their own), in UTC
    so timestamps with offsets read as instants."""
    # A threading.local has the attribute only on threads that set it.
    con: duckdb.DuckDBPyConnection | None = getattr(local, "con", None)
    if con is None:
        con = local.con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
    return con


def with_arrival_time(table: pa.Table, arrival: datetime | pa.Array) -> pa.Table:
    """Add the arrival_time system column (one time for the chunk, or one per row)."""
    if ARRIVAL_TIME in table.column_names:
        return table
    if isinstance(arrival, datetime):
        naive = arrival.replace(tzinfo=None) if arrival.tzinfo else arrival
        column = pa.nulls(table.num_rows, pa.timestamp("us")).fill_null(pa.scalar(naive, pa.timestamp("us")))
    else:
        column = arrival
    return table.append_column(pa.field(ARRIVAL_TIME, pa.timestamp("us")), column)


class _Bisect(Exception):
    """The chunk must be taken apart line by line."""


def _offsets(lines: list[bytes], base_offset: int) -> list[int]:
    offsets = [base_offset]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    return offsets


def _offset_of(record: BadRecord) -> int:
    return int(record.position.rsplit("@", 1)[1])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_path(column: Column) -> list[str]:
    return column.mapping[2:].split(".") if column.mapping else [column.name]  # '$.a.b' -> ['a', 'b']


def _is_naive_timestamp(field: pa.Field) -> bool:
    return pa.types.is_timestamp(field.type) and field.type.tz is None


def json_read_keys(columns: tuple[Column, ...]) -> set[str]:
    """Top-level keys read as JSON text rather than as structs: those under which one column maps
    an object and another a value inside it (`$.k` and `$.k.name`), as KDA allows, or two
    columns map the same value."""
    paths = [tuple(_json_path(column)) for column in columns]
    return {
        outer[0]
        for i, outer in enumerate(paths)
        for j, inner in enumerate(paths)
        if i != j and len(inner) >= len(outer) and inner[: len(outer)] == outer
    }


def read_types(columns: tuple[Column, ...], schema: pa.Schema) -> dict[str, str]:
    """What to read from each JSON object, as DuckDB types: top-level columns as declared, and
    for mapped columns the nested structs that lead to them (or JSON, for a key whose object is
    itself a column). Timestamps read with their UTC offset (TIMESTAMPTZ in a UTC session) and
    are cast back to the declared type after."""
    as_json = json_read_keys(columns)
    tree: dict[str, object] = {key: "JSON" for key in as_json}
    for column, field in zip(columns, schema, strict=True):
        path = _json_path(column)
        if path[0] in as_json:
            continue
        node = tree
        for key in path[:-1]:
            child = node.setdefault(key, {})
            assert isinstance(child, dict)  # a key with a value on the way is read as JSON
            node = child
        node[path[-1]] = _read_type(column, field)

    def sql_type(node: object) -> str:
        if isinstance(node, dict):
            return "STRUCT(" + ", ".join(f"{_quote(k)} {sql_type(v)}" for k, v in node.items()) + ")"
        return str(node)

    return {key: sql_type(value) for key, value in tree.items()}


def _read_type(column: Column, field: pa.Field) -> str:
    return "TIMESTAMPTZ" if _is_naive_timestamp(field) else column.sql_type


def _projection(columns: tuple[Column, ...], schema: pa.Schema) -> str:
    """The declared columns out of what was read: nested paths pulled out of their structs, or
    out of the JSON text of a key read as JSON (an object mapped to VARCHAR is its JSON text)."""
    as_json = json_read_keys(columns)
    items = []
    for column, field in zip(columns, schema, strict=True):
        path = _json_path(column)
        if path[0] in as_json:
            inner = "".join(f'."{key}"' for key in path[1:]).replace("'", "''")
            expr = f"CAST(json_extract_string({_quote(path[0])}, '${inner}') AS {_read_type(column, field)})"
        else:
            expr = _quote(path[0])
            for key in path[1:]:
                expr = f"struct_extract({expr}, '{key.replace(chr(39), chr(39) * 2)}')"  # a null parent gives null
        items.append(f"{expr} AS {_quote(column.name)}")
    return ", ".join(items)


def _reason(exc: duckdb.Error) -> str:
    """DuckDB's message without the reader's internal file name and its hints."""
    text = str(exc).split("\n", 1)[0].strip()
    text = re.sub(r"^Invalid Input Error: ", "", text)
    match = _REASON.search(text)
    if match:
        kind = "malformed JSON" if text.startswith("Malformed") else ""
        rest = text[match.end() :]
        where = f" {match.group(1)}" if match.group(1) else ""
        text = f"{kind}{where}: {rest}" if kind else rest
    text = re.sub(r"\.?\s+Try .*$", "", text)  # DuckDB's hints name its own options, not ours
    return text.rstrip(". ")


class Decoded(NamedTuple):
    """A decoded chunk: its good rows, its bad records, and where each row came from."""

    table: pa.Table
    errors: list[BadRecord]
    origins: RowOrigins | None


class RecordDecoder(Protocol):
    """Turns chunks of whole records of one source into Arrow rows and bad records."""

    source: str
    schema: pa.Schema

    many_rows_per_record: bool  # a stream record (Kinesis) may hold several rows

    def record_end(self, data: bytes) -> int:
        """How many bytes at the start of `data` are whole records (where a chunk may be cut)."""

    def one_record(self, data: bytes) -> bytes | str:
        """A stream record's data as it goes into a chunk, or why it cannot be a record."""

    def decode(self, data: bytes, origin: str, base_offset: int, arrival: datetime) -> tuple[pa.Table, list[BadRecord]]:
        """Rows of the good records of `data` (read from `origin` at `base_offset`), and the bad ones."""

    def decode_with_origins(self, data: bytes, origin: str, base_offset: int, arrival: datetime) -> Decoded:
        """As `decode`, and where each row came from."""


class NdjsonDecoder:
    """Decodes chunks of complete lines for one source (safe to use from several threads)."""

    def __init__(self, source: str, columns: tuple[Column, ...], bounds: TimeBounds | None = None) -> None:
        self.source = source
        self.bounds = bounds  # rows with an event time that cannot be true go to the error output
        self.schema = arrow_schema(columns)
        self.columns = columns
        self._types = read_types(columns, self.schema)
        mapped = any(column.mapping for column in columns)
        self._projection = _projection(columns, self.schema) if mapped else None
        self._local = threading.local()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        return thread_connection(self._local)

    many_rows_per_record = False

    def record_end(self, data: bytes) -> int:
        return data.rfind(b"\n") + 1

    def one_record(self, data: bytes) -> bytes | str:
        """The record as one NDJSON line."""
        stripped = data.strip()
        if stripped and b"\n" not in stripped and b"\r" not in stripped:
            return stripped
        try:  # pretty-printed JSON: re-serialised compactly (newlines inside strings are escaped then)
            value = json.loads(stripped)
        except ValueError:
            return "a record must hold one JSON object"
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def decode(self, data: bytes, origin: str, base_offset: int, arrival: datetime) -> tuple[pa.Table, list[BadRecord]]:
        """Decode `data` (whole lines) read from `origin` at byte `base_offset`."""
        decoded = self.decode_with_origins(data, origin, base_offset, arrival)
        return decoded.table, decoded.errors

    def decode_with_origins(self, data: bytes, origin: str, base_offset: int, arrival: datetime) -> Decoded:
        """As `decode`, and where each row's line is, for the error output."""
        if not data.strip():
            return Decoded(with_arrival_time(self.schema.empty_table(), arrival), [], None)
        try:
            table = self._read(data)
            if self._may_hold_null_lines(table, data):
                raise _Bisect()
            bad: list[BadRecord] = []
            row_lines: list[int] | None = None  # every line that is not blank
        except (duckdb.Error, _Bisect):
            lines = data.split(b"\n")
            good: list[pa.Table] = []
            bad = []
            row_lines = []
            self._bisect(lines, _offsets(lines, base_offset), 0, len(lines), origin, arrival, good, bad, row_lines)
            table = pa.concat_tables(good) if good else self.schema.empty_table()
        table = with_arrival_time(table, arrival)
        if self.bounds is not None:
            mask, reasons = self.bounds.implausible(table)
            if mask.any():
                spans = line_spans(data, row_lines)
                for reason, row in zip(reasons, np.flatnonzero(mask), strict=True):
                    start, end = spans[row]
                    bad.append(
                        BadRecord(
                            self.source,
                            "implausible-event-time",
                            reason,
                            data[start:end],
                            f"{origin}@{base_offset + start}",
                            arrival,
                        )
                    )
                kept = [span for span, implausible in zip(spans, mask, strict=True) if not implausible]
                return Decoded(
                    table.filter(pa.array(~mask)),
                    sorted(bad, key=_offset_of),
                    ChunkSpans(data, origin, base_offset, kept),
                )
        return Decoded(table, bad, ChunkSpans(data, origin, base_offset, lambda: line_spans(data, row_lines)))

    def _read(self, data: bytes, types: dict[str, str] | None = None, projection: str | None = None) -> pa.Table:
        relation = self._connection().read_json(
            io.BytesIO(data), format="newline_delimited", records="true", columns=types or self._types
        )
        projection = projection or self._projection
        table = (relation.project(projection) if projection else relation).to_arrow_table()
        # TIMESTAMPTZ arrives as UTC instants: taking the zone off is a change of type only.
        return table if types or table.schema == self.schema else table.cast(self.schema)

    def _may_hold_null_lines(self, table: pa.Table, data: bytes) -> bool:
        # Only a row with every column NULL can have come from a `null` line; the scan of the
        # bytes is paid only then.
        if not self.columns or any(column.null_count == 0 for column in table.columns):
            return False
        return _NULL_LINE.search(data) is not None

    def _bisect(
        self,
        lines: list[bytes],
        offsets: list[int],
        low: int,
        high: int,
        origin: str,
        arrival: datetime,
        good: list[pa.Table],
        bad: list[BadRecord],
        row_lines: list[int],
    ) -> None:
        chunk = b"\n".join(lines[low:high])
        if not chunk.strip():
            return
        if high - low > 1:
            try:
                if _NULL_LINE.search(chunk) is None:
                    good.append(self._read(chunk))
                    row_lines.extend(i for i in range(low, high) if lines[i].strip())
                    return
            except duckdb.Error:
                pass
            middle = (low + high) // 2
            self._bisect(lines, offsets, low, middle, origin, arrival, good, bad, row_lines)
            self._bisect(lines, offsets, middle, high, origin, arrival, good, bad, row_lines)
            return
        line = lines[low]
        reason = self._fault(line)
        if reason is None:
            good.append(self._read(line))
            row_lines.append(low)
            return
        bad.append(
            BadRecord(self.source, "format-conversion-failed", reason, line, f"{origin}@{offsets[low]}", arrival)
        )

    def _fault(self, line: bytes) -> str | None:
        """Why one line is not a record (None when it is one), naming the column at fault."""
        if line.strip() == b"null":
            return "JSON null is not a record"
        try:
            table = self._read(line)
        except duckdb.Error as exc:
            reason = _reason(exc)
        else:
            return None if table.num_rows == 1 else "a line must hold exactly one JSON object"
        if not self._types:
            return reason
        try:  # a JSON-typed column takes any value: failing here, the record itself is at fault
            first = next(iter(self._types))
            self._read(line, {first: "JSON"}, _quote(first))
        except duckdb.Error:
            return reason
        for key, sql_type in self._types.items():
            try:
                self._read(line, {key: sql_type}, _quote(key))
            except duckdb.Error:
                return f"column '{key}': {reason}"
        return reason
