"""Delimited text (CSV, TSV, '|'-separated) into Arrow against the declared schema, bad records aside.

pyarrow's CSV reader splits a chunk into fields (quotes, doubled quotes or an escape character,
delimiters and newlines inside quoted fields); DuckDB casts every column in one query, TRY_CAST
beside CAST, so a value that does not fit its type is found per row without a loop per field.
Columns are taken by position, or by the header row's names with `header = true`.
"""

from __future__ import annotations

import gzip
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from flowsql.decode import Decoded, arrow_schema, thread_connection, with_arrival_time
from flowsql.errors import SourceError
from flowsql.pipeline.model import Column
from flowsql.records import BadRecord
from flowsql.row_origins import ChunkSpans, Spans

if TYPE_CHECKING:  # the sources package imports this module
    import pyarrow.csv as pcsv

    from flowsql.sources.event_time import TimeBounds


@dataclass(frozen=True)
class CsvFormat:
    """How records and fields are written (KDA's RecordRowDelimiter and RecordColumnDelimiter)."""

    delimiter: str = ","
    record_delimiter: str = "\n"
    quote: str = '"'
    escape: str = ""  # empty: a quote inside a quoted field is written twice ("")
    header: bool = False
    null_string: str = ""  # a field equal to this is NULL (empty fields by default)


class CsvDecoder:
    """Decodes chunks of whole delimited records for one source (safe from several threads)."""

    def __init__(
        self, source: str, columns: tuple[Column, ...], form: CsvFormat, bounds: TimeBounds | None = None
    ) -> None:
        self.source = source
        self.columns = columns
        self.form = form
        self.bounds = bounds
        self.schema = arrow_schema(columns)
        self._headers: dict[str, list[str]] = {}  # origin -> its header row's names
        self._lock = threading.Lock()
        self._local = threading.local()

    many_rows_per_record = True  # KDA splits a stream record into rows at RecordRowDelimiter

    # -- cutting a stream into whole records -----------------------------------------------
    def one_record(self, data: bytes) -> bytes | str:
        """A stream record's rows, without the record delimiter that may end them."""
        delimiter = self.form.record_delimiter.encode()
        while data.endswith(delimiter):
            data = data[: -len(delimiter)]
        return data if data.strip() else "an empty record holds no row"

    def record_end(self, data: bytes) -> int:
        """How many bytes at the start of `data` are whole records: up to the last record
        delimiter that is not inside a quoted field."""
        ends = _record_ends(data, self.form)
        return int(ends[-1]) + len(self.form.record_delimiter) if len(ends) else 0

    # -- decoding --------------------------------------------------------------------------
    def decode(self, data: bytes, origin: str, base_offset: int, arrival: datetime) -> tuple[pa.Table, list[BadRecord]]:
        """Decode `data` (whole records) read from `origin` at byte `base_offset`."""
        decoded = self.decode_with_origins(data, origin, base_offset, arrival)
        return decoded.table, decoded.errors

    def decode_with_origins(self, data: bytes, origin: str, base_offset: int, arrival: datetime) -> Decoded:
        """As `decode`, and where each row's record is, for the error output."""
        delimiter = self.form.record_delimiter.encode()
        if delimiter != b"\n":
            data = data.replace(delimiter, b"\n")  # pyarrow splits records at newlines only
        if self.form.header and base_offset == 0:
            data, base_offset = self._take_header(data, origin, base_offset)
        names = self._field_names(origin)
        try:
            table, bad, spans = self._decode_chunk(data, names, origin, base_offset, arrival)
        except _Unmatched:
            table, bad, spans = self._decode_each(data, names, origin, base_offset, arrival)
        return Decoded(table, bad, ChunkSpans(data, origin, base_offset, spans))

    def _decode_chunk(
        self, data: bytes, names: list[str], origin: str, base_offset: int, arrival: datetime
    ) -> tuple[pa.Table, list[BadRecord], Spans | Callable[[], Spans]]:
        invalid: dict[int, str] = {}  # record number (from 1) -> why its fields do not fit
        fields = self._split(data, names, invalid)
        table, faults = self._typed(fields)
        table = with_arrival_time(table, arrival)
        if self.bounds is not None and table.num_rows:
            implausible, reasons = self.bounds.implausible(table)
            for row, reason in zip(np.flatnonzero(implausible).tolist(), reasons, strict=True):
                faults.setdefault(row, ("implausible-event-time", reason))
        if not invalid and not faults:
            return table, [], lambda: _records(data, self.form)
        # Only a chunk with bad records pays for finding each record's bytes.
        records = _records(data, self.form)
        if len(records) != fields.num_rows + len(invalid):
            raise _Unmatched("the records found do not match the rows read")
        bad = [
            self._bad(data, records[number - 1], "format-conversion-failed", reason, origin, base_offset, arrival)
            for number, reason in invalid.items()
        ]
        taken = [r for index, r in enumerate(records) if index + 1 not in invalid]
        bad += [
            self._bad(data, taken[row], code, reason, origin, base_offset, arrival)
            for row, (code, reason) in faults.items()
        ]
        keep = np.ones(table.num_rows, dtype=bool)
        keep[list(faults)] = False
        kept = [span for span, good in zip(taken, keep, strict=True) if good]
        return (
            table.filter(pa.array(keep)),
            sorted(bad, key=lambda record: int(record.position.rsplit("@", 1)[1])),
            kept,
        )

    def _decode_each(
        self, data: bytes, names: list[str], origin: str, base_offset: int, arrival: datetime
    ) -> tuple[pa.Table, list[BadRecord], Spans]:
        """A chunk the reader cannot take whole (a quote left open, say): record by record, so
        only the broken records go to the error output."""
        tables: list[pa.Table] = []
        bad: list[BadRecord] = []
        spans: Spans = []
        for start, end in _records(data, self.form):
            try:
                table, errors, _ = self._decode_chunk(data[start:end], names, origin, base_offset + start, arrival)
            except _Unmatched as exc:
                bad.append(
                    self._bad(
                        data,
                        (start, end),
                        "format-conversion-failed",
                        f"malformed CSV record: {exc}",
                        origin,
                        base_offset,
                        arrival,
                    )
                )
                continue
            tables.append(table)
            bad.extend(errors)
            spans.extend([(start, end)] * table.num_rows)  # one record, one row, unless the record was split
        table = pa.concat_tables(tables) if tables else with_arrival_time(self.schema.empty_table(), arrival)
        return table, bad, spans

    def _bad(
        self,
        data: bytes,
        record: tuple[int, int],
        code: str,
        reason: str,
        origin: str,
        base_offset: int,
        arrival: datetime,
    ) -> BadRecord:
        start, end = record
        return BadRecord(self.source, code, reason, data[start:end], f"{origin}@{base_offset + start}", arrival)

    def _take_header(self, data: bytes, origin: str, base_offset: int) -> tuple[bytes, int]:
        import pyarrow.csv as pcsv

        ends = _record_ends(data, self.form)
        cut = int(ends[0]) if len(ends) else len(data)
        header = pcsv.read_csv(
            io.BytesIO(data[:cut] + b"\n"),
            read_options=pcsv.ReadOptions(autogenerate_column_names=True),
            parse_options=self._parse_options(None),
            convert_options=pcsv.ConvertOptions(strings_can_be_null=False),
        )
        names = [str(header.column(i)[0].as_py()).strip() for i in range(header.num_columns)] if header.num_rows else []
        with self._lock:
            self._headers[origin] = names
        return data[cut + 1 :], base_offset + cut + 1

    def _field_names(self, origin: str) -> list[str]:
        """The names of the fields as they stand in a record of `origin`."""
        if not self.form.header:
            return [c.name for c in self.columns]
        with self._lock:
            names = self._headers.get(origin)
        if names is None:
            names = self._header_from_file(origin)
        missing = [c.name for c in self.columns if c.name.lower() not in {n.lower() for n in names}]
        if missing:
            raise SourceError(
                f"source '{self.source}': the header of {origin} has no column "
                + ", ".join(repr(m) for m in missing)
                + f" (it names {', '.join(names)})"
            )
        return names

    def _header_from_file(self, origin: str) -> list[str]:
        """A chunk after the first one: the header is the file's first record."""
        try:
            with gzip.open(origin, "rb") if origin.endswith(".gz") else open(origin, "rb") as stream:
                first = stream.read(1 << 20)
        except OSError as exc:
            raise SourceError(
                f"source '{self.source}': header = true, but the header of {origin} cannot be read: {exc.strerror}"
            ) from None
        self._take_header(first, origin, 0)
        with self._lock:
            return self._headers[origin]

    def _parse_options(self, invalid: dict[int, str] | None) -> pcsv.ParseOptions:
        import pyarrow.csv as pcsv

        def handler(row: pcsv.InvalidRow) -> str:
            assert invalid is not None and row.number is not None
            invalid[row.number] = (
                f"a record must hold {row.expected_columns} fields, this one holds {row.actual_columns}"
            )
            return "skip"

        return pcsv.ParseOptions(
            delimiter=self.form.delimiter,
            quote_char=self.form.quote or False,
            double_quote=not self.form.escape,
            escape_char=self.form.escape or False,
            newlines_in_values=True,
            invalid_row_handler=handler if invalid is not None else None,
        )

    def _split(self, data: bytes, names: list[str], invalid: dict[int, str]) -> pa.Table:
        """Every record's fields as strings (NULL for the null string), in the order written."""
        if not data.strip():
            return pa.table({name: pa.array([], pa.string()) for name in names})
        columns = [f"f{i}" for i in range(len(names))]
        try:
            table = self._read_fields(data, columns, invalid)
        except pa.ArrowInvalid as exc:
            raise _Unmatched(str(exc).split("\n", 1)[0]) from None
        return table.rename_columns(names)

    def _read_fields(self, data: bytes, columns: list[str], invalid: dict[int, str]) -> pa.Table:
        # Imported where used (here and above): only CSV sources need pyarrow's CSV reader.
        import pyarrow.csv as pcsv

        return pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(
                column_names=columns, use_threads=False, block_size=max(1 << 20, len(data) + 1)
            ),
            parse_options=self._parse_options(invalid),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in columns},
                null_values=[self.form.null_string],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )

    def _connection(self) -> duckdb.DuckDBPyConnection:
        return thread_connection(self._local)

    def _typed(self, fields: pa.Table) -> tuple[pa.Table, dict[int, tuple[str, str]]]:
        """The declared columns cast from their text, and the rows holding a field that does not
        fit its type: row -> (error code, reason naming the first such field)."""
        if fields.num_rows == 0:
            return self.schema.empty_table(), {}
        by_name = {name.lower(): name for name in fields.column_names}
        casts, checks = [], []
        for index, (column, field) in enumerate(zip(self.columns, self.schema, strict=True)):
            text = _quote(by_name[column.name.lower()])
            target = "TIMESTAMPTZ" if pa.types.is_timestamp(field.type) and field.type.tz is None else column.sql_type
            value = f"TRY_CAST({text} AS {target})"
            casts.append(f"{value} AS {_quote(column.name)}")
            checks.append(f"CASE WHEN {text} IS NOT NULL AND {value} IS NULL THEN {index} END")
        fault = f"coalesce({', '.join(checks)})" if len(checks) > 1 else checks[0]
        con = self._connection()
        con.register("__flowsql_csv", fields)
        try:
            result = con.sql(f"SELECT {', '.join(casts)}, {fault} AS __fault FROM __flowsql_csv").to_arrow_table()
        finally:
            con.unregister("__flowsql_csv")
        at_fault = result.column("__fault").fill_null(-1).to_numpy()
        faults: dict[int, tuple[str, str]] = {}
        for row in np.flatnonzero(at_fault >= 0).tolist():
            column = self.columns[int(at_fault[row])]
            text = fields.column(by_name[column.name.lower()])[row].as_py()
            faults[row] = (
                "format-conversion-failed",
                f"column '{column.name}': cannot convert {text!r} to {column.sql_type}",
            )
        table = result.drop_columns(["__fault"])
        return (table if table.schema == self.schema else table.cast(self.schema)), faults


class _Unmatched(Exception):
    """pyarrow's reading of a chunk cannot be matched record by record to its bytes."""


def _record_ends(data: bytes, form: CsvFormat) -> np.ndarray:
    """Offsets of the record delimiters that are not inside a quoted field."""
    delimiter = form.record_delimiter.encode()
    raw = np.frombuffer(data, dtype=np.uint8)
    if not form.quote:
        quoted = np.zeros(len(raw), dtype=bool)
    else:
        quotes = raw == ord(form.quote)
        if form.escape:
            escaped = np.zeros(len(raw), dtype=bool)
            escaped[1:] = raw[:-1] == ord(form.escape)
            quotes &= ~escaped
        quoted = (np.cumsum(quotes) & 1).astype(bool)  # odd count of quotes before: inside a field
    if len(delimiter) == 1:
        ends = np.flatnonzero((raw == delimiter[0]) & ~quoted)
    else:
        starts, at = [], data.find(delimiter)
        while at >= 0:
            starts.append(at)
            at = data.find(delimiter, at + len(delimiter))
        ends = np.array([s for s in starts if not quoted[s]], dtype=np.int64)
    return ends


def _records(data: bytes, form: CsvFormat) -> list[tuple[int, int]]:
    """(start, end) of each non-empty record in `data` (after record delimiters became newlines)."""
    newline_form = CsvFormat(form.delimiter, "\n", form.quote, form.escape)
    bounds, start = [], 0
    for end in [*_record_ends(data, newline_form).tolist(), len(data)]:
        record = data[start:end]
        if record.strip(b"\r"):
            bounds.append((start, end))
        start = end + 1
    return bounds


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
