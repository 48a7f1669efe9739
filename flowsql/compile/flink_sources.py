"""CREATE TABLE for each source: declared columns, the watermark, arrival_time, and the
connector options of Flink's counterpart of the flowsql connector (chosen by a registry)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
from sqlglot import exp

from flowsql.compile.flink_common import (
    KINESIS_JAR,
    FlinkTable,
    Jar,
    arrow_type_sql,
    flink_duration,
    flink_interval,
    quote_name,
    with_clause,
)
from flowsql.compile.flink_queries import DIALECT
from flowsql.errors import ConfigError
from flowsql.options import bind_options, parse_duration
from flowsql.pipeline.model import SourceDecl
from flowsql.records import ARRIVAL_TIME
from flowsql.sources.base import SourceOptions, csv_format


@dataclass
class SourceConnector:
    """What one flowsql connector becomes in Flink."""

    options: list[tuple[str, str]]
    arrival_column: str  # the column definition of arrival_time
    arrival_is_event_time: bool  # True: a watermark on arrival_time makes it a rowtime attribute
    jars: list[Jar] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


ConnectorWriter = Callable[[SourceDecl], SourceConnector]
_CONNECTORS: dict[str, ConnectorWriter] = {}


def register(name: str) -> Callable[[ConnectorWriter], ConnectorWriter]:
    def add(writer: ConnectorWriter) -> ConnectorWriter:
        _CONNECTORS[name] = writer
        return writer

    return add


# Flink's JSON format reads 2024-01-01T00:00:00.000 only when told to; flowsql reads ISO 8601.
_JSON_OPTIONS = [("format", "json"), ("json.timestamp-format.standard", "ISO-8601")]


def _format_options(decl: SourceDecl) -> list[tuple[str, str]]:
    """Flink's format options for the source's record format (JSON, or CSV with its options)."""
    if (decl.option("format") or "json").lower() != "csv":
        return list(_JSON_OPTIONS)
    form = csv_format(decl, bind_options(SourceOptions, [o for o in decl.options if o.key.lower() in _CSV_KEYS],
                                         f"source '{decl.name}'"))
    option = next((o for o in decl.options if o.key.lower() == "format"), None)
    where = (option.location, option.source_line) if option else (decl.location, None)
    if form.header:
        raise ConfigError(f"cannot compile for Flink: source '{decl.name}' reads CSV with header = true; Flink's "
                          "csv format takes columns by position and has no header row", *where)
    if form.record_delimiter not in ("\n", "\r\n"):
        raise ConfigError(f"cannot compile for Flink: source '{decl.name}' ends CSV records with "
                          f"{form.record_delimiter!r}; Flink's csv format ends them at a newline", *where)
    # Flink reads a backslash escape for a tab delimiter, as its csv format documents.
    delimiter = "\\t" if form.delimiter == "\t" else form.delimiter
    options = [("format", "csv"), ("csv.field-delimiter", delimiter), ("csv.null-literal", form.null_string)]
    options.append(("csv.quote-character", form.quote) if form.quote else ("csv.disable-quote-character", "true"))
    if form.escape:
        options.append(("csv.escape-character", form.escape))
    return options


_CSV_KEYS = {"format", "delimiter", "record_delimiter", "quote", "escape", "header", "null_string"}
_PROCESSING_TIME = f"{quote_name(ARRIVAL_TIME)} AS PROCTIME()"


@register("kinesis")
def _kinesis(decl: SourceDecl) -> SourceConnector:
    stream = decl.option("stream")
    if not stream:
        raise ConfigError(f"source '{decl.name}' (kinesis) needs the option 'stream'", decl.location)
    options = [("connector", "kinesis"), ("stream", stream)]
    notes = []
    region = decl.option("region")
    if region:
        options.append(("aws.region", region))
    else:
        notes.append(f"source `{decl.name}`: no region in the pipeline; add 'aws.region' before deploying")
    # The same default as `flowsql run` (sources/kinesis.py): read the stream from its start.
    position = (decl.option("starting_position") or "TRIM_HORIZON").upper()
    options.append(("scan.stream.initpos", position))
    if position == "AT_TIMESTAMP" and decl.option("starting_timestamp"):
        options.append(("scan.stream.initpos-timestamp", str(decl.option("starting_timestamp"))))
    if decl.option("endpoint_url"):
        options.append(("aws.endpoint", str(decl.option("endpoint_url"))))
    # ApproximateArrivalTimestamp, as flowsql's arrival_time: a replay gives the same windows.
    arrival = f"{quote_name(ARRIVAL_TIME)} TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL"
    return SourceConnector(options + _format_options(decl), arrival, True, [KINESIS_JAR], notes)


@register("file")
def _file(decl: SourceDecl) -> SourceConnector:
    path = decl.option("path")
    if not path:
        raise ConfigError(f"source '{decl.name}' (file) needs the option 'path'", decl.location)
    options = [("connector", "filesystem"), ("path", path), *_format_options(decl)]
    follow = (decl.option("follow") or "false").lower() in ("true", "1", "yes")
    if follow:
        interval = parse_duration(decl.option("poll_interval") or "1 s")
        options.append(("source.monitor-interval", flink_duration(max(interval, 1.0))))
    notes = [f"source `{decl.name}`: files are read by Flink's filesystem connector; arrival_time is "
             "processing time (PROCTIME()), as flowsql's arrival time is the time a file was read"]
    return SourceConnector(options, _PROCESSING_TIME, False, [], notes)


@register("generator")
def _generator(decl: SourceDecl) -> SourceConnector:
    options = [("connector", "datagen")]
    count = decl.option("count")
    if count and int(float(count)) > 0:
        options.append(("number-of-rows", str(int(float(count)))))
    if decl.option("rate"):
        options.append(("rows-per-second", str(int(float(decl.option("rate") or 1)))))
    notes = [f"source `{decl.name}`: flowsql's clickstream generator has no Flink equivalent. The job uses "
             "Flink's `datagen` connector, which fills each column with random values (random strings for "
             "page and event_type, timestamps near now): its rows and window results differ from "
             "`flowsql run`. For the same events, write them to NDJSON files and use connector = 'file'."]
    return SourceConnector(options, _PROCESSING_TIME, False, [], notes)


def source_table(decl: SourceDecl, schema: pa.Schema, windows_on_arrival: bool) -> FlinkTable:
    """The CREATE TABLE of one source; `windows_on_arrival` when a query windows on arrival_time."""
    connector = (decl.option("connector") or "").lower()
    writer = _CONNECTORS.get(connector)
    if writer is None:
        option = next((o for o in decl.options if o.key.lower() == "connector"), None)
        raise ConfigError(
            f"cannot compile for Flink: source '{decl.name}' uses connector '{connector}', which has no Flink "
            f"counterpart here (Flink sources: {', '.join(sorted(_CONNECTORS))})",
            option.location if option else decl.location, option.source_line if option else None)
    found = writer(decl)
    lines = [f"{quote_name(f.name)} {_column_type(decl, f)}" for f in schema if f.name != ARRIVAL_TIME]
    lines.append(found.arrival_column)
    notes = list(found.notes)
    if decl.watermark is not None:
        column = quote_name(decl.watermark.column)
        lines.append(f"WATERMARK FOR {column} AS {column} - {flink_interval(decl.watermark.delay_seconds)}")
    elif windows_on_arrival and found.arrival_is_event_time:
        name = quote_name(ARRIVAL_TIME)
        lines.append(f"WATERMARK FOR {name} AS {name}")
    if windows_on_arrival and not found.arrival_is_event_time:
        notes.append(f"source `{decl.name}`: windows on arrival_time run on Flink's processing time, so they "
                     "need streaming mode and their results depend on when the job runs")
    ddl = f"CREATE TABLE {quote_name(decl.name)} (\n" + ",\n".join("  " + line for line in lines) + "\n)"
    return FlinkTable(decl.name, ddl + " " + with_clause(found.options), found.jars, notes)


def _column_type(decl: SourceDecl, field: pa.Field) -> str:
    declared = next((c for c in decl.columns if c.name == field.name), None)
    if declared is not None:
        return exp.DataType.build(declared.sql_type, dialect="duckdb").sql(DIALECT)
    arrow = arrow_type_sql(field.type)
    if arrow is None:
        raise ConfigError(f"cannot compile for Flink: column '{field.name}' of source '{decl.name}' has the type "
                          f"{field.type}, which Flink SQL has no type for", decl.location)
    return arrow


def source_connectors() -> list[str]:
    return sorted(_CONNECTORS)
