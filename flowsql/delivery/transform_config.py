"""Builds a sink's transformation from its options, each error naming the option: the handler,
its buffer and retries, and the columns its records are read into."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from flowsql.delivery.handler import HandlerError, load_handler
from flowsql.delivery.sink import _option_error
from flowsql.delivery.transform import MAX_BUFFER_SIZE, TransformSettings, TransformStage
from flowsql.delivery.transform_options import TransformOptions
from flowsql.delivery.transform_rows import TransformedRows
from flowsql.pipeline.model import Column, SinkDecl


def build_transform(
    decl: SinkDecl,
    options: TransformOptions,
    pipeline_name: str,
    schema: pa.Schema,
    time_column: str,
    lambda_keys: tuple[str, ...],
    records_as_they_are: bool,
) -> TransformStage:
    """`records_as_they_are`: without transform_schema, Ok records are delivered as the handler's
    bytes (JSON objects and HTTP endpoints), else read into the query's columns (Parquet)."""
    option = next((o for o in decl.options if o.key.lower() == "transform"), None)
    written_in = option.location.path if option is not None and option.location is not None else decl.location.path
    try:
        handler, where = load_handler(options.transform, Path(written_in).parent)
    except HandlerError as exc:
        raise _option_error(decl, "transform", str(exc)) from None
    if not 0 < options.transform_buffer_size <= MAX_BUFFER_SIZE:
        raise _option_error(
            decl,
            "transform_buffer_size",
            f"must be more than 0 and at most {MAX_BUFFER_SIZE:,} "
            "bytes (6 MB, Lambda's limit for one invocation's payload)",
        )
    if not 0 <= options.transform_retries <= 300:
        raise _option_error(decl, "transform_retries", "must be 0 to 300 (Firehose's range for NumberOfRetries)")
    if options.transform_buffer_interval > 900:
        raise _option_error(decl, "transform_buffer_interval", "must be at most 900 s (Firehose's range)")
    settings = TransformSettings(
        sink=decl.name,
        pipeline=pipeline_name,
        spec=options.transform,
        where=where,
        size_limit=options.transform_buffer_size,
        interval=options.transform_buffer_interval,
        retries=options.transform_retries,
        timeout=options.transform_timeout,
        time_column=time_column,
    )
    columns = output_columns(decl, options, schema, records_as_they_are)
    return TransformStage(handler, settings, TransformedRows(decl.name, columns, lambda_keys))


def output_columns(
    decl: SinkDecl, options: TransformOptions, schema: pa.Schema, records_as_they_are: bool
) -> tuple[Column, ...] | None:
    """The columns transformed records are read into: `transform_schema` when given; else none
    (records kept as they are) or the query's columns."""
    if options.transform_schema:
        try:
            return _declared(options.transform_schema)
        except duckdb.Error as exc:
            raise _option_error(
                decl,
                "transform_schema",
                f"must be a column list such as 'id BIGINT, name VARCHAR' ({str(exc).splitlines()[0]})",
            ) from None
    if records_as_they_are:
        return None
    with duckdb.connect() as con:
        con.register("query_rows", schema.empty_table())
        described = con.execute("DESCRIBE query_rows").fetchall()
    return tuple(Column(str(name), str(kind)) for name, kind, *_ in described)


def _declared(text: str) -> tuple[Column, ...]:
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE transform_output ({text})")
        described = con.execute("DESCRIBE transform_output").fetchall()
    return tuple(Column(str(name), str(kind)) for name, kind, *_ in described)
