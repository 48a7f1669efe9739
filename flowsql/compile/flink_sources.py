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
from flowsql.pipeline.model import Column, SourceDecl
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
    form = csv_format(
        decl,
        bind_options(SourceOptions, [o for o in decl.options if o.key.lower() in _CSV_KEYS], f"source '{decl.name}'"),
    )
    option = next((o for o in decl.options if o.key.lower() == "format"), None)
    where = (option.location, option.source_line) if option else (decl.location, None)
    if form.header:
        raise ConfigError(
            f"cannot compile for Flink: source '{decl.name}' reads CSV with header = true; Flink's "
            "csv format takes columns by position and has no header row",
            *where,
        )
    if form.record_delimiter not in ("\n", "\r\n"):
        raise ConfigError(
            f"cannot compile for Flink: source '{decl.name}' ends CSV records with "
            f"{form.record_delimiter!r}; Flink's csv format ends them at a newline",
            *where,
        )
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
    if any(c.name.lower() == ARRIVAL_TIME for c in decl.columns):
        # Recorded data: flowsql times the records by their own arrival_time, so a replay gives
        # the same windows; Flink reads that column and makes it the event time.
        return SourceConnector(options, "", True, [], [])
    notes = [
        f"source `{decl.name}`: files are read by Flink's filesystem connector; arrival_time is "
        "processing time (PROCTIME()), as flowsql's arrival time is the time a file was read"
    ]
    return SourceConnector(options, _PROCESSING_TIME, False, [], notes)


@register("generator")
def _generator(decl: SourceDecl) -> SourceConnector:
    options = [("connector", "datagen")]
    count = decl.option("count")
    if count and int(float(count)) > 0:
        options.append(("number-of-rows", str(int(float(count)))))
    if decl.option("rate"):
        options.append(("rows-per-second", str(int(float(decl.option("rate") or 1)))))
    notes = [
        f"source `{decl.name}`: flowsql's clickstream generator has no Flink equivalent. The job uses "
        "Flink's `datagen` connector, which fills each column with random values (random strings for "
        "page and event_type, timestamps near now): its rows and window results differ from "
        "`flowsql run`. For the same events, write them to NDJSON files and use connector = 'file'."
    ]
    return SourceConnector(options, _PROCESSING_TIME, False, [], notes)


def source_table(decl: SourceDecl, schema: pa.Schema, windows_on_arrival: bool) -> FlinkTable:
    """The CREATE TABLE of one source; `windows_on_arrival` when a query windows on arrival_time.

    A source with timestamp or mapped (nested JSON) columns becomes a table of the records as
    they are, `<name>__raw`, and a view `<name>` of the columns the pipeline declares."""
    connector = (decl.option("connector") or "").lower()
    writer = _CONNECTORS.get(connector)
    if writer is None:
        option = next((o for o in decl.options if o.key.lower() == "connector"), None)
        raise ConfigError(
            f"cannot compile for Flink: source '{decl.name}' uses connector '{connector}', which has no Flink "
            f"counterpart here (Flink sources: {', '.join(sorted(_CONNECTORS))})",
            option.location if option else decl.location,
            option.source_line if option else None,
        )
    found = writer(decl)
    # datagen makes typed values itself; records read from files or streams carry timestamps as text
    layout = _RecordLayout(decl, schema, parse_timestamps=connector != "generator")
    notes = list(found.notes)
    if not layout.needs_view:
        lines = [f"{quote_name(f.name)} {_column_type(decl, f)}" for f in schema if f.name != ARRIVAL_TIME]
        lines.append(found.arrival_column)
        lines += _watermark(decl, found, windows_on_arrival, {})
        if windows_on_arrival and not found.arrival_is_event_time:
            notes.append(_PROCESSING_TIME_WINDOWS.format(name=decl.name))
        ddl = _create_table(decl.name, lines, found.options)
        return FlinkTable(decl.name, ddl, found.jars, notes)
    raw = f"{decl.name}__raw"
    lines = layout.physical_columns()
    if not layout.arrival_in_data:
        lines.append(found.arrival_column)
    lines += [f"{quote_name(name)} AS {expression}" for name, expression in layout.parsed_columns()]
    lines += _watermark(decl, found, windows_on_arrival, layout.parsed)
    if windows_on_arrival and not found.arrival_is_event_time and not layout.arrival_in_data:
        notes.append(_PROCESSING_TIME_WINDOWS.format(name=decl.name))
    view = (
        f"CREATE TEMPORARY VIEW {quote_name(decl.name)} AS\nSELECT\n  "
        + ",\n  ".join(layout.view_columns(raw))
        + f"\nFROM {quote_name(raw)}"
    )
    ddl = _create_table(raw, lines, found.options) + ";\n\n" + view
    return FlinkTable(decl.name, ddl, found.jars, notes)


_PROCESSING_TIME_WINDOWS = (
    "source `{name}`: windows on arrival_time run on Flink's processing time, so they need "
    "streaming mode and their results depend on when the job runs"
)


def _create_table(name: str, lines: list[str], options: list[tuple[str, str]]) -> str:
    return (
        f"CREATE TABLE {quote_name(name)} (\n"
        + ",\n".join("  " + line for line in lines)
        + "\n) "
        + with_clause(options)
    )


def _watermark(decl: SourceDecl, found: SourceConnector, windows_on_arrival: bool, parsed: dict[str, str]) -> list[str]:
    """The WATERMARK line: the declared one, else arrival_time when the records carry it (flowsql
    times them by it, with no delay) or when a window needs the connector's arrival time."""
    if decl.watermark is not None:
        column = quote_name(parsed.get(decl.watermark.column.lower(), decl.watermark.column))
        return [f"WATERMARK FOR {column} AS {column} - {_delay(decl.watermark.delay_seconds)}"]
    if ARRIVAL_TIME in parsed:
        column = quote_name(parsed[ARRIVAL_TIME])
        return [f"WATERMARK FOR {column} AS {column} - {_delay(0)}"]
    if windows_on_arrival and found.arrival_is_event_time:
        name = quote_name(ARRIVAL_TIME)
        return [f"WATERMARK FOR {name} AS {name} - {_delay(0)}"]
    return []


def _delay(seconds: float) -> str:
    """A watermark's delay. With none, Flink counts a row as late when its time equals the
    watermark, flowsql does not (rows of one moment are all on time): 1 ms says the same."""
    return flink_interval(seconds) if seconds > 0 else "INTERVAL '0.001' SECOND"


def parsed_timestamp(text: str) -> str:
    """Flink SQL reading a timestamp string as flowsql does: a space or `T` between date and
    time, any fraction, and an optional UTC offset (`Z`, `+02:00`, `-0530`) applied to give UTC.
    Flink's JSON and CSV formats read one spelling only, so timestamps are read as text."""
    offset = r"[+-]\d{2}:?\d{2}$"
    sign = f"CASE WHEN REGEXP_EXTRACT({text}, '([+-])\\d{{2}}:?\\d{{2}}$', 1) = '-' THEN -1 ELSE 1 END"
    hours = f"CAST(REGEXP_EXTRACT({text}, '[+-](\\d{{2}}):?\\d{{2}}$', 1) AS INT)"
    minutes = f"CAST(REGEXP_EXTRACT({text}, '[+-]\\d{{2}}:?(\\d{{2}})$', 1) AS INT)"
    local = f"CAST(REGEXP_REPLACE(REGEXP_REPLACE({text}, '(Z|{offset})', ''), 'T', ' ') AS TIMESTAMP(3))"
    return f"TIMESTAMPADD(MINUTE, -COALESCE(({sign}) * ({hours} * 60 + {minutes}), 0), {local})"


class _RecordLayout:
    """How a source's declared columns lie in its records: top-level fields, nested fields
    (MAPPING '$.a.b'), and timestamps that Flink must read as text and parse."""

    def __init__(self, decl: SourceDecl, schema: pa.Schema, parse_timestamps: bool) -> None:
        self.decl = decl
        self.fields = {f.name: f for f in schema}
        self.columns = list(decl.columns)
        self.arrival_in_data = any(c.name.lower() == ARRIVAL_TIME for c in self.columns)
        # declared column (lower case) -> the computed column holding its parsed time
        self.parsed = {
            c.name.lower(): f"{c.name}__time" for c in self.columns if parse_timestamps and self._is_timestamp(c.name)
        }
        self.needs_view = bool(self.parsed) or any(c.mapping for c in self.columns)

    def _is_timestamp(self, name: str) -> bool:
        found = self.fields.get(name)
        return found is not None and pa.types.is_timestamp(found.type) and found.type.tz is None

    def _type(self, name: str) -> str:
        if name.lower() in self.parsed:
            return "STRING"
        return _column_type(self.decl, self.fields[name])

    def _path(self, column: Column) -> list[str]:
        return column.mapping[2:].split(".") if column.mapping else [column.name]

    def physical_columns(self) -> list[str]:
        tree: dict[str, object] = {}
        for column in self.columns:
            *parents, leaf = self._path(column)
            node = tree
            for parent in parents:
                node = node.setdefault(parent, {})  # type: ignore[assignment]
            node[leaf] = self._type(column.name)
        return [f"{quote_name(name)} {_row_type(value)}" for name, value in tree.items()]

    def _access(self, raw: str | None, column: Column) -> str:
        """The column's field in the records (a table column's computed columns name it bare)."""
        return ".".join([*([quote_name(raw)] if raw else []), *(quote_name(p) for p in self._path(column))])

    def parsed_columns(self) -> list[tuple[str, str]]:
        return [
            (self.parsed[c.name.lower()], parsed_timestamp(self._access(None, c)))
            for c in self.columns
            if c.name.lower() in self.parsed
        ]

    def view_columns(self, raw: str) -> list[str]:
        items = []
        for column in self.columns:
            source = self.parsed.get(column.name.lower())
            value = quote_name(source) if source else self._access(raw, column)
            items.append(f"{value} AS {quote_name(column.name)}")
        if not self.arrival_in_data:
            items.append(quote_name(ARRIVAL_TIME))
        return items


def _row_type(value: object) -> str:
    if isinstance(value, str):
        return value
    fields = ", ".join(f"{quote_name(k)} {_row_type(v)}" for k, v in value.items())  # type: ignore[attr-defined]
    return f"ROW<{fields}>"


def _column_type(decl: SourceDecl, field: pa.Field) -> str:
    declared = next((c for c in decl.columns if c.name == field.name), None)
    if declared is not None:
        return exp.DataType.build(declared.sql_type, dialect="duckdb").sql(DIALECT)
    arrow = arrow_type_sql(field.type)
    if arrow is None:
        raise ConfigError(
            f"cannot compile for Flink: column '{field.name}' of source '{decl.name}' has the type "
            f"{field.type}, which Flink SQL has no type for",
            decl.location,
        )
    return arrow


def source_connectors() -> list[str]:
    return sorted(_CONNECTORS)
