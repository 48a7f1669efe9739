"""A Firehose-style sink: buffer, split by partition, encode, name and hand to a destination.

The delivery mechanics live here once; a destination only says how to store one object.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from flowsql.checkpoint.participants import TransactionalSink
from flowsql.delivery.buffer import BufferOptions, DeliveryBuffer
from flowsql.delivery.destinations import Destination
from flowsql.delivery.encoders import JSON_CODECS, PARQUET_CODECS, Encoder, RawRecordsEncoder, make_encoder
from flowsql.delivery.error_output import CONTENT_TYPE as ERROR_CONTENT_TYPE
from flowsql.delivery.error_output import ErrorOutput
from flowsql.delivery.prefix import (
    DEFAULT_ERROR_PREFIX,
    DEFAULT_PREFIX,
    Prefix,
    PrefixError,
    finest_unit,
    format_java_date,
    parse_prefix,
    sanitise_value,
)
from flowsql.delivery.transform_options import TransformOptions
from flowsql.delivery.transforming import TransformingBufferedDelivery
from flowsql.errors import ConfigError
from flowsql.metrics import DeliveryReporter, ReportsMetrics
from flowsql.options import choice
from flowsql.pipeline.model import SinkDecl
from flowsql.records import ARRIVAL_TIME, BadRecord

if TYPE_CHECKING:
    from flowsql.delivery.transform import TransformStage


@dataclass(frozen=True)
class SinkOptions(TransformOptions, BufferOptions):
    """Options every object sink takes (file, s3)."""

    connector: str = ""
    format: str = choice("parquet", "json")
    compression: str = ""
    prefix: str = ""
    error_output_prefix: str = ""
    time_column: str = ""  # the rows' time for names and !{timestamp:...}; see time_column_of
    prefix_time: str = choice("row", "oldest")  # !{timestamp:...} from each row's time, or the object's oldest
    glue_database: str = ""  # with glue_table: register the table and its partitions in Glue
    glue_table: str = ""


# Called once per data object, after it became visible to readers of the lake: its key and
# the values of the prefix's partitionKeyFromQuery columns.
DeliveredHook = Callable[[str, dict[str, object]], None]


class CatalogHook(Protocol):
    """Keeps a catalog's table (Glue) in step with what an object sink delivers; the sink
    factory attaches it (delivery/__init__.py), so sinks never import a catalog."""

    def on_delivered(self, key: str, partition: dict[str, object]) -> None:
        """A data object became visible; `partition` holds its partitionKeyFromQuery values."""
        ...


@dataclass
class SinkStats:
    rows: int = 0
    objects: int = 0
    bytes: int = 0
    errors: int = 0
    late: int = 0
    dropped: int = 0  # records a transformation handler answered Dropped
    invocations: int = 0  # calls of the transformation handler


class ObjectSink(TransformingBufferedDelivery, TransactionalSink):
    """Delivers query results as objects named from the sink's prefix."""

    def __init__(
        self, decl: SinkDecl, options: SinkOptions, destination: Destination, pipeline_name: str, schema: pa.Schema
    ) -> None:
        self.name = decl.name
        self.options = options
        self.destination = destination
        self.pipeline_name = pipeline_name
        self.schema = schema
        codecs = PARQUET_CODECS if options.format == "parquet" else JSON_CODECS
        if options.compression and options.compression.lower() not in codecs:
            raise _option_error(decl, "compression", f"{options.format} compression is one of {', '.join(codecs)}")
        self.encoder: Encoder = make_encoder(options.format, options.compression.lower() or None)
        self.prefix = _prefix(decl, "prefix", options.prefix or DEFAULT_PREFIX, error_prefix=False)
        self.error_prefix = _prefix(
            decl, "error_output_prefix", options.error_output_prefix or DEFAULT_ERROR_PREFIX, error_prefix=True
        )
        self.error_output = ErrorOutput(self.error_prefix, pipeline_name, decl.name)
        self.time_column = time_column_of(decl, options.time_column, schema)
        # The rows in the delivery buffer: the query's, or what a transformation handler made of them.
        self.buffer_schema = schema
        self.hidden_columns: tuple[str, ...] = ()
        self.transform: TransformStage | None = None
        if options.transform:
            self._use_transform(decl, options, pipeline_name, schema)
        elif self.prefix.lambda_keys:
            raise _option_error(
                decl,
                "prefix",
                f"!{{partitionKeyFromLambda:{self.prefix.lambda_keys[0]}}} needs a "
                "transformation handler to return the key: set transform, or use partitionKeyFromQuery",
            )
        raw = self.transform is not None and self.transform.rows.raw  # records as they are: no columns
        columns = [] if raw else [f.name for f in self.buffer_schema if f.name not in self.hidden_columns]
        missing = [k for k in self.prefix.partition_keys if k not in columns]
        if missing:
            whose = "the transformed records" if self.transform else "the query's result"
            raise _option_error(
                decl,
                "prefix",
                f"!{{partitionKeyFromQuery:{missing[0]}}} names no column of "
                f"{whose} ({', '.join(columns) or 'none: use partitionKeyFromLambda'})",
            )
        _check_lower_case_names(decl, self.buffer_schema)
        self.buffering = options.buffering
        self.buffer = DeliveryBuffer(self.buffering.size, self.buffering.interval)
        self.on_delivered: list[DeliveredHook] = []
        self.errors: list[BadRecord] = []
        self.rows_taken = 0
        self.errors_taken = 0
        self.stats = SinkStats()
        self.delivered: list[str] = []
        self.staging = False  # with checkpoints on, objects wait staged until their commit
        self.staged: list[dict[str, str]] = []

    def bind_metrics(self, reporter: DeliveryReporter) -> None:
        """Retries, throttles and failures happen in the destination: it counts them."""
        if isinstance(self.destination, ReportsMetrics):
            self.destination.bind_metrics(reporter)

    @property
    def object_schema(self) -> pa.Schema | None:
        """The columns the data objects hold; None when a handler's records are written as they are."""
        if self.transform is not None and self.transform.rows.raw:
            return None
        return pa.schema([f for f in self.buffer_schema if f.name not in self.hidden_columns])

    def describe(self) -> str:
        return self.destination.describe()

    def explain_lines(self) -> list[str]:
        return self.transform_lines()

    def _use_transform(self, decl: SinkDecl, options: SinkOptions, pipeline_name: str, schema: pa.Schema) -> None:
        from flowsql.delivery.transform_config import build_transform

        self.transform = build_transform(
            decl,
            options,
            pipeline_name,
            schema,
            self.time_column,
            self.prefix.lambda_keys,
            records_as_they_are=options.format == "json",
        )
        rows = self.transform.rows
        self.buffer_schema = rows.schema
        self.hidden_columns = rows.hidden
        # Names and !{timestamp:...} take each record's approximateArrivalTimestamp, as Firehose does.
        self.time_column = rows.hidden[0] if self.time_column else ""
        if rows.raw:
            self.encoder = RawRecordsEncoder(options.compression.lower() or "none")

    def flush(self, wall_time: datetime | None = None) -> list[str]:
        """Write what is buffered: one object per partition folder, then the error records.
        Records still waiting for the transformation handler go to it first."""
        wall = wall_time or datetime.now(UTC)
        self.transform_pending()
        table = self.buffer.take()
        written: list[str] = []
        if table is not None:
            table = table.cast(self.buffer_schema) if table.schema != self.buffer_schema else table
            first, self.rows_taken = self.rows_taken, self.rows_taken + table.num_rows
            for partition, rows in _split(table, self.prefix.partition_columns):
                for when, piece in self._by_prefix_time(rows, wall):
                    written.append(self._write_rows(piece, partition, when, first))
        if self.errors:
            written.extend(self._write_errors(wall))
        self.delivered.extend(written)
        return written

    def _by_prefix_time(self, rows: pa.Table, wall: datetime) -> list[tuple[datetime, pa.Table]]:
        """The rows of one partition grouped by the folder their time gives, each with the time
        that names it (its oldest row's). With prefix_time = 'oldest', or when the prefix holds no
        timestamp, one group: Firehose's way, the oldest row's time for the whole object."""
        oldest = oldest_time(rows, self.time_column, wall)
        timestamps = self.prefix.timestamp_patterns
        if self.options.prefix_time == "oldest" or not timestamps or not self.time_column:
            return [(oldest, rows)]
        return split_by_time(rows, self.time_column, timestamps, oldest)

    def remove_earlier_output(self) -> int:
        """`run --reset` starts over: the objects this pipeline's sink wrote before (its names start
        with pipeline-sink-) are deleted, so the new run's objects replace them rather than sit
        beside them when its flushes fall at other rows."""
        name_start = f"{sanitise_value(self.pipeline_name)}-{self.name}-"
        removed = 0
        for under in dict.fromkeys((self.prefix.fixed_start, self.error_prefix.fixed_start)):
            removed += self.destination.remove_named(under, name_start)
        return removed

    def _object_name(self, when: datetime | None, position: int, extension: str) -> str:
        # Pipeline, sink, the rows' time and the position of the flush's first row in the sink's
        # output: nothing random and no clock, so a replay of the same rows writes the same name.
        stamp = when.astimezone(UTC).strftime("%Y-%m-%d-%H-%M-%S-") if when is not None else ""
        pipeline = sanitise_value(self.pipeline_name)
        return f"{pipeline}-{self.name}-{stamp}{position:012d}{extension}"

    def _write_rows(self, rows: pa.Table, partition: dict[str, object], when: datetime, position: int) -> str:
        name = self._object_name(when if self.time_column else None, position, self.encoder.extension)
        key = self.prefix.render(when, partition, seed=name) + name
        hidden = [k for k in (*self.prefix.hive_keys, *self.hidden_columns) if k in rows.column_names]
        data = self.encoder.encode(rows.drop_columns(hidden) if hidden else rows)
        where = self._store(key, data, self.encoder.content_type, partition)
        self.stats.rows += rows.num_rows
        self.stats.objects += 1
        self.stats.bytes += len(data)
        return where

    def _write_errors(self, wall: datetime) -> list[str]:
        errors, self.errors = self.errors, []
        first, self.errors_taken = self.errors_taken, self.errors_taken + len(errors)
        written = []
        for item in self.error_output.objects(errors, first, wall):
            written.append(self._store(item.key, item.data, ERROR_CONTENT_TYPE))
            self.stats.errors += item.records
        return written

    def _store(self, key: str, data: bytes, content_type: str, partition: dict[str, object] | None = None) -> str:
        """Write now, or stage until the checkpoint commits; `partition` marks a data object."""
        if not self.staging:
            where = self.destination.write(key, data, content_type)
            if partition is not None:
                self._delivered(key, partition)
            return where
        staged = self.destination.stage(key, data, content_type)
        item = {"staged": staged, "key": key}
        if partition is not None:
            item["partition"] = json.dumps(partition, default=str, sort_keys=True)
        self.staged.append(item)
        return key

    def begin_staging(self, folder: Path, pipeline: str) -> None:
        self.destination.use_staging(folder, pipeline)
        self.staging = True

    def discard_staged(self) -> None:
        self.destination.discard_staged(set())

    def add_catalog(self, hook: CatalogHook) -> None:
        self.on_delivered.append(hook.on_delivered)

    def promote_staged(self) -> None:
        """After the checkpoint that lists them has committed: make staged objects visible."""
        for item in self.staged:
            self.promote(item)
        self.staged = []

    def promote(self, item: dict[str, str]) -> None:
        """Make one staged object visible (also used when recovery finishes a commit)."""
        self.destination.promote(item["staged"], item["key"])
        if "partition" in item:
            self._delivered(item["key"], json.loads(item["partition"]))

    def _delivered(self, key: str, partition: dict[str, object]) -> None:
        for hook in self.on_delivered:
            hook(key, partition)


def split_by_time(
    rows: pa.Table, column: str, patterns: tuple[str, ...], fallback: datetime
) -> list[tuple[datetime, pa.Table]]:
    """Rows grouped by how their time renders in the prefix's date patterns, oldest group
    first; rows without a time go with the `fallback` (the oldest time of all)."""
    times = rows.column(column)
    if times.type.tz is not None:
        times = times.cast(pa.timestamp(times.type.unit))
    unit = finest_unit(patterns)
    floored = pc.floor_temporal(times, unit=unit) if unit else times
    folders: dict[str, list[object]] = {}
    for value in pc.unique(floored).to_pylist():
        when = fallback if value is None else value.replace(tzinfo=UTC)
        folders.setdefault("/".join(format_java_date(p, when) for p in patterns), []).append(value)
    if len(folders) == 1:
        return [(fallback, rows)]
    groups = []
    for values in folders.values():
        known = [v for v in values if v is not None]
        mask = pc.is_in(floored, value_set=pa.array(known, type=floored.type)) if known else None
        if None in values:
            mask = pc.is_null(floored) if mask is None else pc.or_(mask, pc.is_null(floored))
        piece = rows.filter(mask)
        groups.append((oldest_time(piece, column, fallback), piece))
    return sorted(groups, key=lambda group: group[0])


def oldest_time(rows: pa.Table, column: str, wall: datetime) -> datetime:
    if not column or rows.num_rows == 0:
        return wall
    oldest = pc.min(rows.column(column)).as_py()
    if oldest is None:
        return wall
    return oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)


def time_column_of(decl: SinkDecl, chosen: str, schema: pa.Schema) -> str:
    if not chosen:
        for candidate in (ARRIVAL_TIME, "window_start"):
            if candidate in schema.names and pa.types.is_timestamp(schema.field(candidate).type):
                return candidate
        return ""
    if chosen not in schema.names or not pa.types.is_timestamp(schema.field(chosen).type):
        timestamps = [f.name for f in schema if pa.types.is_timestamp(f.type)]
        raise _option_error(
            decl,
            "time_column",
            f"{chosen!r} is not a timestamp column of the query's result "
            f"(timestamp columns: {', '.join(timestamps) or 'none'})",
        )
    return chosen


def _split(table: pa.Table, keys: tuple[str, ...]) -> list[tuple[dict[str, object], pa.Table]]:
    if not keys:
        return [({}, table)]
    combos = table.select(list(keys)).group_by(list(keys)).aggregate([]).to_pylist()
    parts = []
    for combo in sorted(combos, key=lambda c: [str(v) for v in c.values()]):
        mask = None
        for key, value in combo.items():
            column = table.column(key)
            test = pc.is_null(column) if value is None else pc.fill_null(pc.equal(column, value), False)
            mask = test if mask is None else pc.and_(mask, test)
        parts.append((combo, table.filter(mask)))
    return parts


def _check_lower_case_names(decl: SinkDecl, schema: pa.Schema) -> None:
    """Athena folds names to lower case, so Parquet files carry them lower-cased; two columns
    that differ only in case would then clash."""
    seen: dict[str, str] = {}
    for name in schema.names:
        other = seen.setdefault(name.lower(), name)
        if other != name:
            raise ConfigError(
                f"sink '{decl.name}': columns '{other}' and '{name}' are the same name once lower-cased, as "
                "Athena and the Parquet output name them; rename one with AS",
                decl.location,
            )


def _prefix(decl: SinkDecl, key: str, text: str, error_prefix: bool) -> Prefix:
    try:
        return parse_prefix(text, error_prefix=error_prefix)
    except PrefixError as exc:
        raise _option_error(decl, key, str(exc)) from None


def _option_error(decl: SinkDecl, key: str, message: str) -> ConfigError:
    option = next((o for o in decl.options if o.key.lower() == key), None)
    return ConfigError(
        f"sink '{decl.name}', option '{key}': {message}",
        option.location if option else decl.location,
        option.source_line if option else None,
    )
