"""Delivery: sinks built from a connector registry, each from the same buffer/encode/name
layers with a destination of its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from flowsql.delivery.buffer import Buffering, DeliveryBuffer
from flowsql.delivery.destinations import Destination, LocalDestination
from flowsql.delivery.sink import ObjectSink, SinkOptions, SinkStats, _option_error
from flowsql.delivery.stdout import StdoutSink, StdoutSinkOptions
from flowsql.errors import ConfigError
from flowsql.options import bind_options
from flowsql.pipeline.model import SinkDecl
from flowsql.records import BadRecord


class Sink(Protocol):
    """What the runner asks of every sink: rows and error records in, flushes when due. A sink
    that checkpoints or stages its output also is a CheckpointedSink / TransactionalSink
    (flowsql/checkpoint/participants.py)."""

    name: str
    schema: pa.Schema  # the query's result it takes
    stats: SinkStats
    delivered: list[str]
    buffering: Buffering
    buffer: DeliveryBuffer  # rows waiting for the next flush (the status display reads its size)

    def add(self, table: pa.Table, now: float | None = None) -> None: ...
    def add_errors(self, records: list[BadRecord]) -> None: ...
    def due(self, now: float | None = None) -> bool: ...
    def flush(self) -> list[str]: ...

    def describe(self) -> str:
        """Where it delivers, for the run summary and explain."""
        ...

    def explain_lines(self) -> list[str]:
        """What explain says about it beyond its destination and buffer."""
        ...

    def has_transform(self) -> bool:
        """Whether a transformation handler runs on its rows (its counters are then reported)."""
        ...


SinkFactory = Callable[[SinkDecl, str, pa.Schema], Sink]
_CONNECTORS: dict[str, SinkFactory] = {}


def register(name: str) -> Callable[[SinkFactory], SinkFactory]:
    def add(factory: SinkFactory) -> SinkFactory:
        _CONNECTORS[name] = factory
        return factory

    return add


def create_sink(decl: SinkDecl, pipeline_name: str, schema: pa.Schema) -> Sink:
    connector = (decl.option("connector") or "").lower()
    if connector not in _CONNECTORS:
        option = next((o for o in decl.options if o.key.lower() == "connector"), None)
        raise ConfigError(
            f"sink '{decl.name}' needs connector = one of: {', '.join(sorted(_CONNECTORS))}"
            + (f" (got '{connector}')" if connector else ""),
            option.location if option else decl.location,
            option.source_line if option else None,
        )
    return _CONNECTORS[connector](decl, pipeline_name, schema)


def connector_names() -> list[str]:
    """The connectors a sink may name."""
    return sorted(_CONNECTORS)


@dataclass(frozen=True)
class FileSinkOptions(SinkOptions):
    path: str = ""


@register("file")
def _file_sink(decl: SinkDecl, pipeline_name: str, schema: pa.Schema) -> Sink:
    options = bind_options(FileSinkOptions, list(decl.options), f"sink '{decl.name}' (file)")
    if not options.path:
        raise ConfigError(f"sink '{decl.name}' (file) needs the option 'path'", decl.location)
    return _object_sink(decl, options, LocalDestination(options.path), pipeline_name, schema)


@register("s3")
def _s3_sink(decl: SinkDecl, pipeline_name: str, schema: pa.Schema) -> Sink:
    from flowsql.delivery.s3 import S3Destination, S3SinkOptions

    options = bind_options(S3SinkOptions, list(decl.options), f"sink '{decl.name}' (s3)")
    if not options.bucket:
        raise ConfigError(f"sink '{decl.name}' (s3) needs the option 'bucket'", decl.location)
    try:
        destination = S3Destination(options)
    except ValueError as exc:
        raise ConfigError(f"sink '{decl.name}' (s3): {exc}", decl.location) from None
    return _object_sink(decl, options, destination, pipeline_name, schema)


def _object_sink(
    decl: SinkDecl, options: SinkOptions, destination: Destination, pipeline_name: str, schema: pa.Schema
) -> ObjectSink:
    """An object sink, with the catalog its options name attached (Glue)."""
    sink = ObjectSink(decl, options, destination, pipeline_name, schema)
    if options.glue_database or options.glue_table:
        if sink.transform is not None:
            raise _option_error(
                decl,
                "glue_table",
                "a sink with a transformation handler cannot register a "
                "Glue table yet; define the table from transform_schema",
            )
        from flowsql.catalog.glue import attach_glue

        sink.add_catalog(attach_glue(sink, decl))
    return sink


@register("http")
def _http_sink(decl: SinkDecl, pipeline_name: str, schema: pa.Schema) -> Sink:
    from flowsql.delivery.http_config import build_http_sink

    return build_http_sink(decl, pipeline_name, schema)


@register("iceberg")
def _iceberg_sink(decl: SinkDecl, pipeline_name: str, schema: pa.Schema) -> Sink:
    from flowsql.delivery.iceberg import iceberg_sink

    return iceberg_sink(decl, pipeline_name, schema)


@register("stdout")
def _stdout_sink(decl: SinkDecl, pipeline_name: str, schema: pa.Schema) -> Sink:
    options = bind_options(StdoutSinkOptions, list(decl.options), f"sink '{decl.name}' (stdout)")
    sink = StdoutSink(decl, options, schema)
    if options.transform:
        from flowsql.delivery.transform_config import build_transform

        sink.use_transform(build_transform(decl, options, pipeline_name, schema, "", (), records_as_they_are=True))
    return sink


__all__ = ["Sink", "connector_names", "create_sink", "register"]
