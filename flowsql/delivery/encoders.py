"""Encoders: one Arrow table in, the bytes of one object out."""

from __future__ import annotations

import gzip
from typing import Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

PARQUET_CODECS = ("snappy", "zstd", "gzip", "none")
JSON_CODECS = ("none", "gzip")


class Encoder(Protocol):
    extension: str
    content_type: str

    def encode(self, table: pa.Table) -> bytes: ...


class ParquetEncoder:
    """Parquet as Athena reads it best: timestamps as INT64 microseconds (never nanoseconds,
    which Athena cannot read), lower-case column and field names (Athena folds names),
    decimals as Parquet DECIMAL, nested types as LIST/STRUCT/MAP, up to 2^20 rows per group."""

    content_type = "application/vnd.apache.parquet"

    def __init__(self, compression: str = "snappy") -> None:
        if compression not in PARQUET_CODECS:
            raise ValueError(f"Parquet compression is one of {', '.join(PARQUET_CODECS)}")
        self.compression = compression
        self.extension = ".parquet"

    def encode(self, table: pa.Table) -> bytes:
        # Imported here: pyarrow.parquet brings pyarrow's file systems (S3's among them), which
        # `validate`, `explain` and JSON sinks never use.
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        lowered = lower_case_schema(table.schema)
        if lowered != table.schema:
            table = pa.Table.from_arrays(
                [_lower_column(c, f.type) for c, f in zip(table.columns, lowered, strict=True)], schema=lowered
            )
        pq.write_table(
            table,
            sink,
            compression=self.compression,
            coerce_timestamps="us",
            allow_truncated_timestamps=True,
            row_group_size=1 << 20,
        )
        return sink.getvalue().to_pybytes()


def lower_case_schema(schema: pa.Schema) -> pa.Schema:
    """The same schema with every column and nested field name lower-cased."""
    return pa.schema([_lower_field(f) for f in schema], metadata=schema.metadata)


def _lower_column(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    """The column under its lower-cased type: only nested field names differ."""
    if column.type == kind:
        return column
    return pa.chunked_array([_renamed(c, kind) for c in column.chunks], type=kind)


def _renamed(array: pa.Array, kind: pa.DataType) -> pa.Array:
    # Rebuilt from the children: a cast would match struct fields by name and lose values.
    if array.type == kind:
        return array
    mask = array.is_null() if array.null_count else None
    if pa.types.is_struct(kind):
        children = [_renamed(child, kind.field(i).type) for i, child in enumerate(array.flatten())]
        return pa.StructArray.from_arrays(children, fields=[kind.field(i) for i in range(kind.num_fields)], mask=mask)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        values = _renamed(array.values, kind.value_type)
        build = pa.LargeListArray if pa.types.is_large_list(kind) else pa.ListArray
        offsets = array.offsets
        if mask is not None:  # a null offset marks a null list (a mask cannot go with sliced offsets)
            nulls = pa.concat_arrays([mask, pa.array([False])])
            offsets = pc.if_else(nulls, pa.scalar(None, offsets.type), offsets)
        return build.from_arrays(offsets, values, type=kind)
    return pa.array(array.to_pylist(), type=kind)


def _lower_field(field: pa.Field) -> pa.Field:
    return pa.field(field.name.lower(), _lower_type(field.type), field.nullable, field.metadata)


def _lower_type(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(kind):
        return pa.struct([_lower_field(kind.field(i)) for i in range(kind.num_fields)])
    if pa.types.is_large_list(kind):
        return pa.large_list(_lower_field(kind.value_field))
    if pa.types.is_list(kind):
        return pa.list_(_lower_field(kind.value_field))
    if pa.types.is_map(kind):
        return pa.map_(_lower_field(kind.key_field), _lower_field(kind.item_field))
    return kind


class JsonLinesEncoder:
    """One JSON object per line, as DuckDB renders each row (ISO timestamps, nested values)."""

    content_type = "application/x-ndjson"

    def __init__(self, compression: str = "none") -> None:
        if compression not in JSON_CODECS:
            raise ValueError(f"JSON compression is one of {', '.join(JSON_CODECS)}")
        self.compression = compression
        self.extension = ".json.gz" if compression == "gzip" else ".json"
        self._con = duckdb.connect()

    def encode(self, table: pa.Table) -> bytes:
        data = encode_json_lines(self._con, table)
        return gzip.compress(data, mtime=0) if self.compression == "gzip" else data


class RawRecordsEncoder:
    """A transformation handler's records as they are, each ended by a newline unless it already
    ends in one (the records are kept apart, as Firehose's newline delimiter option does)."""

    content_type = "application/octet-stream"

    def __init__(self, compression: str = "none") -> None:
        if compression not in JSON_CODECS:
            raise ValueError(f"JSON compression is one of {', '.join(JSON_CODECS)}")
        self.compression = compression
        self.extension = ".json.gz" if compression == "gzip" else ".json"

    def encode(self, table: pa.Table) -> bytes:
        records = table.column("data").to_pylist()
        data = b"".join(r if r.endswith(b"\n") else r + b"\n" for r in records)
        return gzip.compress(data, mtime=0) if self.compression == "gzip" else data


def encode_json_lines(con: duckdb.DuckDBPyConnection, table: pa.Table) -> bytes:
    if table.num_rows == 0:
        return b""
    con.register("__flowsql_rows", table)
    try:
        lines = con.sql("SELECT CAST(to_json(__flowsql_rows) AS VARCHAR) FROM __flowsql_rows").to_arrow_table()
    finally:
        con.unregister("__flowsql_rows")
    return ("\n".join(lines.column(0).to_pylist()) + "\n").encode()


def make_encoder(format_name: str, compression: str | None) -> Encoder:
    if format_name == "parquet":
        return ParquetEncoder(compression or "snappy")
    return JsonLinesEncoder(compression or "none")
