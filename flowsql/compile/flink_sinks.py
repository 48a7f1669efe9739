"""CREATE TABLE for each sink: Flink's filesystem connector (local or s3:// path) with the
format, compression, rolling policy and partitions that the Firehose-style options ask for.

Firehose names folders from a prefix; Flink names them from partition columns. A
`key=!{partitionKeyFromQuery:col}/` folder becomes PARTITIONED BY (col). A `!{timestamp:...}`
folder becomes a partition column the job computes from the processing time in UTC, as
Firehose uses the time of delivery: `dt=!{timestamp:yyyy-MM-dd}/` gives a column `dt`, and a
bare pattern such as the default `!{timestamp:yyyy/MM/dd/HH}/` gives Hive-style folders
`year=/month=/day=/hour=` (Flink always writes `name=value` folders).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
from sqlglot import exp

from flowsql.compile.flink_common import (
    PARQUET_JAR,
    S3_JAR,
    FlinkTable,
    Jar,
    arrow_type_sql,
    flink_duration,
    quote_name,
    with_clause,
)
from flowsql.delivery.buffer import OBJECT_BUFFERING, Buffering, BufferOptions
from flowsql.delivery.prefix import DEFAULT_PREFIX, PrefixError, parse_prefix
from flowsql.errors import ConfigError
from flowsql.options import bind_options
from flowsql.pipeline.model import SinkDecl

DEFAULT_BUFFER_INTERVAL = OBJECT_BUFFERING.interval
_PIECE_NAMES = {"yyyy": "year", "MM": "month", "dd": "day", "HH": "hour", "mm": "minute", "yyyy-MM-dd": "dt"}
_PARQUET_CODECS = {
    "snappy": "SNAPPY",
    "gzip": "GZIP",
    "zstd": "ZSTD",
    "lz4": "LZ4",
    "none": "UNCOMPRESSED",
    "uncompressed": "UNCOMPRESSED",
    "brotli": "BROTLI",
}


@dataclass
class SinkTable(FlinkTable):
    """A sink's table, the columns its INSERT must add (computed partitions), and the
    checkpoint interval its files need (bulk formats roll on checkpoints only)."""

    extra_columns: tuple[tuple[str, exp.Expression], ...] = ()
    buffer_interval: float = DEFAULT_BUFFER_INTERVAL
    partitions: list[str] = field(default_factory=list)
    files: bool = False  # written by the filesystem connector


def sink_table(decl: SinkDecl, schema: pa.Schema) -> SinkTable:
    """The CREATE TABLE of one sink, for a query whose result has `schema`."""
    connector = (decl.option("connector") or "").lower()
    if connector == "stdout":
        ddl = f"CREATE TABLE {quote_name(decl.name)} (\n{_columns(decl, schema, [])}\n) " + with_clause(
            [("connector", "print")]
        )
        return SinkTable(
            decl.name,
            ddl,
            notes=[f"sink `{decl.name}`: stdout becomes Flink's `print` connector (rows go to the TaskManagers' logs)"],
        )
    if connector == "http":
        option = next((o for o in decl.options if o.key.lower() == "connector"), None)
        raise ConfigError(
            f"cannot compile for Flink: sink '{decl.name}' posts to an HTTP endpoint in Firehose's HTTP delivery "
            "format (a request id, a timestamp and base64 records per request, acknowledged by the endpoint); "
            "Flink SQL has no such sink and this compiler ships none",
            option.location if option else decl.location,
            option.source_line if option else None,
            hint="compile a copy whose sink is connector = 's3' (or 'file') with format = 'json' and post its "
            "files from there, or keep this query on flowsql run (see docs/scaling.md)",
        )
    if connector not in ("file", "s3"):
        option = next((o for o in decl.options if o.key.lower() == "connector"), None)
        raise ConfigError(
            f"cannot compile for Flink: sink '{decl.name}' uses connector '{connector}', which has no Flink "
            "counterpart here (Flink sinks: file, s3, stdout)",
            option.location if option else decl.location,
            option.source_line if option else None,
        )
    return _filesystem_table(decl, schema, connector)


def _filesystem_table(decl: SinkDecl, schema: pa.Schema, connector: str) -> SinkTable:
    jars: list[Jar] = []
    notes: list[str] = []
    base, partitions, extra = _prefix_layout(decl, schema, notes)
    path = _base_path(decl, connector) + base
    if path.startswith("s3://"):
        jars.append(S3_JAR)
    fmt = (decl.option("format") or "parquet").lower()
    options = [("connector", "filesystem"), ("path", path), ("format", fmt)]
    compression = (decl.option("compression") or "").lower()
    if fmt == "parquet":
        jars.append(PARQUET_JAR)
        if compression:
            options.append(("parquet.compression", _PARQUET_CODECS.get(compression, compression.upper())))
    else:
        options.append(("json.timestamp-format.standard", "ISO-8601"))
        if compression:
            notes.append(
                f"sink `{decl.name}`: Flink's JSON file writer has no compression; the files are "
                f"written without {compression}"
            )
    buffering = _buffering(decl)  # the object sinks' own options and defaults
    size, interval = buffering.size, buffering.interval
    options += [
        ("sink.rolling-policy.file-size", f"{int(size)}b"),
        ("sink.rolling-policy.rollover-interval", flink_duration(interval)),
        # Flink needs a check interval above zero: a 0 s buffer_interval is checked every second.
        ("sink.rolling-policy.check-interval", flink_duration(min(max(interval, 1.0), 60.0))),
    ]
    if partitions:
        # A _SUCCESS file marks a finished partition, so readers know when a folder is whole.
        options += [
            ("sink.partition-commit.trigger", "process-time"),
            ("sink.partition-commit.delay", "0 s"),
            ("sink.partition-commit.policy.kind", "success-file"),
        ]
    if decl.option("error_output_prefix"):
        notes.append(
            f"sink `{decl.name}`: Flink has no error output; a malformed record fails the job "
            "unless 'json.ignore-parse-errors' is set on the source, which drops it"
        )
    partition_clause = ""
    if partitions:
        partition_clause = " PARTITIONED BY (" + ", ".join(quote_name(p) for p in partitions) + ")"
    ddl = (
        f"CREATE TABLE {quote_name(decl.name)} (\n{_columns(decl, schema, [n for n, _ in extra])}\n)"
        f"{partition_clause} " + with_clause(options)
    )
    return SinkTable(decl.name, ddl, jars, notes, tuple(extra), interval, partitions, files=True)


def _columns(decl: SinkDecl, schema: pa.Schema, extra: list[str]) -> str:
    lines = []
    for item in schema:
        flink_type = arrow_type_sql(item.type)
        if flink_type is None:
            raise ConfigError(
                f"cannot compile for Flink: column '{item.name}' written to sink '{decl.name}' has the "
                f"type {item.type}, which Flink SQL has no type for",
                decl.location,
            )
        lines.append(f"  {quote_name(item.name)} {flink_type}")
    lines += [f"  {quote_name(name)} STRING" for name in extra]
    return ",\n".join(lines)


def _base_path(decl: SinkDecl, connector: str) -> str:
    path = decl.option("path")
    if connector == "s3" and not path:
        bucket = decl.option("bucket")
        if not bucket:
            raise ConfigError(f"sink '{decl.name}' (s3) needs the option 'bucket' or 'path'", decl.location)
        path = f"s3://{bucket}"
    if not path:
        raise ConfigError(f"sink '{decl.name}' ({connector}) needs the option 'path'", decl.location)
    return path.rstrip("/") + "/"


def _prefix_layout(
    decl: SinkDecl, schema: pa.Schema, notes: list[str]
) -> tuple[str, list[str], list[tuple[str, exp.Expression]]]:
    """(literal folder before the first expression, partition columns, computed columns)."""
    text = decl.option("prefix") or DEFAULT_PREFIX
    try:
        prefix = parse_prefix(text)
    except PrefixError as exc:
        option = next((o for o in decl.options if o.key.lower() == "prefix"), None)
        raise ConfigError(
            f"sink '{decl.name}': {exc}",
            option.location if option else decl.location,
            option.source_line if option else None,
        ) from None
    base = ""
    partitions: list[str] = []
    extra: list[tuple[str, exp.Expression]] = []
    pending = ""  # literal text since the last expression
    for part in prefix.parts:
        if not part.namespace:
            pending += part.literal
            continue
        folder, _, key = pending.rpartition("/")
        key = key[:-1] if key.endswith("=") else ""
        if not partitions and not extra:
            base = folder + "/" if folder else ""
        elif folder.strip("/"):
            notes.append(
                f"sink `{decl.name}`: the literal folder '{folder.strip('/')}' between partition folders "
                "of the prefix is left out (Flink writes only name=value folders after the path)"
            )
        pending = ""
        if part.namespace == "partitionKeyFromQuery":
            partitions.append(part.value)
            if key and key != part.value:
                notes.append(
                    f"sink `{decl.name}`: the folder '{key}=' is written as '{part.value}=' (Flink names "
                    "partition folders after their column)"
                )
        elif part.namespace == "timestamp":
            for name, pattern in _timestamp_columns(key, part.value):
                name = _free_name(name, schema, extra)
                extra.append(
                    (
                        name,
                        exp.Anonymous(
                            this="DATE_FORMAT", expressions=[exp.CurrentTimestamp(), exp.Literal.string(pattern)]
                        ),
                    )
                )
                partitions.append(name)
        else:
            notes.append(
                f"sink `{decl.name}`: !{{{part.namespace}:{part.value}}} is left out of the folder names "
                "(Flink gives each part file a unique name of its own)"
            )
    if not partitions and not extra:
        base = pending.lstrip("/")
    return base, partitions, extra


def _timestamp_columns(key: str, pattern: str) -> list[tuple[str, str]]:
    if key:
        return [(key, pattern)]
    pieces = [p for p in pattern.split("/") if p]
    return [(_PIECE_NAMES.get(piece, f"time_{index}"), piece) for index, piece in enumerate(pieces)]


def _free_name(name: str, schema: pa.Schema, extra: list[tuple[str, exp.Expression]]) -> str:
    taken = {n.lower() for n in schema.names} | {n.lower() for n, _ in extra}
    candidate = re.sub(r"\W", "_", name)
    while candidate.lower() in taken:
        candidate += "_partition"
    return candidate


def _buffering(decl: SinkDecl) -> Buffering:
    options = [o for o in decl.options if o.key.lower() in ("buffer_size", "buffer_interval")]
    return bind_options(BufferOptions, options, f"sink '{decl.name}'").buffering
