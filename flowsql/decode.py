"""Raw newline-delimited JSON into Arrow against the declared schema, bad records aside.

The whole chunk is parsed by pyarrow's multi-threaded JSON reader. Only when that fails is the
chunk bisected to find the offending lines, so the cost of bad input is paid only by the
chunks that hold it, and no good record of such a chunk is lost.
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from flowsql.pipeline.model import Column
from flowsql.records import ARRIVAL_TIME, BadRecord

_BLOCK_SIZE = 4 << 20


def arrow_schema(columns: tuple[Column, ...]) -> pa.Schema:
    """The Arrow schema DuckDB itself uses for the declared column types."""
    if not columns:
        return pa.schema([])
    select = ", ".join(f'CAST(NULL AS {c.sql_type}) AS "{c.name}"' for c in columns)
    with duckdb.connect() as con:
        return con.sql(f"SELECT {select}").to_arrow_table().schema


def with_arrival_time(table: pa.Table, arrival: datetime | pa.Array) -> pa.Table:
    """Add the arrival_time system column (one time for the chunk, or one per row)."""
    if ARRIVAL_TIME in table.column_names:
        return table
    if isinstance(arrival, datetime):
        naive = arrival.replace(tzinfo=None) if arrival.tzinfo else arrival
        column = pa.array([naive] * table.num_rows, pa.timestamp("us"))
    else:
        column = arrival
    return table.append_column(pa.field(ARRIVAL_TIME, pa.timestamp("us")), column)


def _json_path(mapping: str) -> list[str]:
    return mapping[2:].split(".")  # '$.a.b' -> ['a', 'b']; the parser checked the form


def read_schema(columns: tuple[Column, ...], schema: pa.Schema) -> pa.Schema:
    """What to read from each JSON object: top-level columns as declared, and for mapped
    columns the nested structs that lead to them."""
    tree: dict[str, object] = {}
    for column, field in zip(columns, schema):
        path = _json_path(column.mapping) if column.mapping else [column.name]
        node = tree
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ValueError(f"JSON path {column.mapping} goes through a column declared as a value")
            node = child
        node[path[-1]] = field.type

    def build(node: dict[str, object]) -> list[pa.Field]:
        return [pa.field(k, pa.struct(build(v)) if isinstance(v, dict) else v) for k, v in node.items()]  # type: ignore[arg-type]

    return pa.schema(build(tree))


class NdjsonDecoder:
    """Decodes chunks of complete lines for one source."""

    def __init__(self, source: str, columns: tuple[Column, ...]) -> None:
        self.source = source
        self.schema = arrow_schema(columns)
        self.columns = columns
        mapped = any(c.mapping for c in columns)
        self._read_schema = read_schema(columns, self.schema) if mapped else self.schema
        self._parse_options = pajson.ParseOptions(
            explicit_schema=self._read_schema, unexpected_field_behavior="ignore"
        )

    def _shape(self, table: pa.Table) -> pa.Table:
        """The declared columns, nested JSON paths read out of their structs."""
        if self._read_schema is self.schema:
            return table.select(self.schema.names).cast(self.schema)
        arrays = []
        for column in self.columns:
            path = _json_path(column.mapping) if column.mapping else [column.name]
            array = table.column(path[0]).combine_chunks()
            for key in path[1:]:
                array = pc.struct_field(array, [key])  # a null parent object gives null
            arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def decode(
        self, data: bytes, origin: str, base_offset: int, arrival: datetime
    ) -> tuple[pa.Table, list[BadRecord]]:
        """Decode `data` (whole lines) read from `origin` at byte `base_offset`."""
        if not data.strip():
            return with_arrival_time(self.schema.empty_table(), arrival), []
        try:
            table = self._read(data)
            return with_arrival_time(table, arrival), []
        except pa.ArrowInvalid:
            pass
        lines = data.split(b"\n")
        offsets = [base_offset]
        for line in lines:
            offsets.append(offsets[-1] + len(line) + 1)
        good: list[pa.Table] = []
        bad: list[BadRecord] = []
        self._bisect(lines, offsets, 0, len(lines), origin, arrival, good, bad)
        table = pa.concat_tables(good) if good else self.schema.empty_table()
        return with_arrival_time(table, arrival), bad

    def _read(self, data: bytes) -> pa.Table:
        # A line longer than a block fails here and is then read alone by the bisection.
        options = pajson.ReadOptions(block_size=_BLOCK_SIZE, use_threads=True)
        table = pajson.read_json(io.BytesIO(data), read_options=options, parse_options=self._parse_options)
        return self._shape(table)

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
    ) -> None:
        chunk = b"\n".join(lines[low:high])
        if not chunk.strip():
            return
        if high - low > 1:
            try:
                good.append(self._read(chunk))
                return
            except pa.ArrowInvalid:
                middle = (low + high) // 2
                self._bisect(lines, offsets, low, middle, origin, arrival, good, bad)
                self._bisect(lines, offsets, middle, high, origin, arrival, good, bad)
                return
        line = lines[low]
        try:
            good.append(self._read_one(line))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            reason = re.sub(r"\s+in row \d+$", "", str(exc).strip())
            bad.append(
                BadRecord(
                    self.source, "format-conversion-failed", reason, line,
                    f"{origin}@{offsets[low]}", arrival,
                )
            )

    def _read_one(self, line: bytes) -> pa.Table:
        options = pajson.ReadOptions(block_size=len(line) + 64, use_threads=False)
        table = pajson.read_json(io.BytesIO(line), read_options=options, parse_options=self._parse_options)
        if table.num_rows != 1:
            raise pa.ArrowInvalid("a line must hold exactly one JSON object")
        return self._shape(table)
