"""`flowsql ddl`: an Athena CREATE EXTERNAL TABLE for each file or s3 sink, with the query's
output columns in Athena types and partition projection matching the sink's prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from flowsql.catalog.layout import TableLayout, location_base, table_layout
from flowsql.errors import ConfigError, UsageError
from flowsql.options import expand_environment
from flowsql.pipeline.model import SinkDecl

if TYPE_CHECKING:
    from flowsql.delivery import Sink
    from flowsql.runner import PipelineRun

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
_SIMPLE = re.compile(r"[a-z_][a-z0-9_]*")
# Words Athena's DDL parser would read as keywords, so such names are always quoted.
_RESERVED = {
    "all",
    "alter",
    "and",
    "array",
    "as",
    "between",
    "by",
    "case",
    "cast",
    "column",
    "create",
    "date",
    "delete",
    "distinct",
    "drop",
    "else",
    "end",
    "exists",
    "external",
    "false",
    "from",
    "group",
    "having",
    "in",
    "insert",
    "interval",
    "is",
    "join",
    "like",
    "map",
    "not",
    "null",
    "or",
    "order",
    "partition",
    "range",
    "select",
    "struct",
    "table",
    "then",
    "timestamp",
    "true",
    "union",
    "user",
    "values",
    "when",
    "where",
    "window",
    "with",
}


@dataclass(frozen=True)
class SinkTable:
    """What a catalog needs to know about one sink's output."""

    sink: str
    database: str
    table: str
    columns: tuple[tuple[str, str], ...]  # (name, Athena type), partition columns left out
    layout: TableLayout
    format: str  # parquet or json


def athena_type(kind: pa.DataType) -> str:
    """The Athena (Hive DDL) type that reads an Arrow type as our Parquet/JSON files hold it."""
    simple = [
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_uint8, "smallint"),
        (pa.types.is_uint16, "int"),
        (pa.types.is_uint32, "bigint"),
        (pa.types.is_float16, "float"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_binary, "binary"),
        (pa.types.is_large_binary, "binary"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
    ]
    for test, name in simple:
        if test(kind):
            return name
    if pa.types.is_uint64(kind):
        return "decimal(20,0)"
    if pa.types.is_decimal(kind):
        return f"decimal({kind.precision},{kind.scale})"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return f"array<{athena_type(kind.value_type)}>"
    if pa.types.is_map(kind):
        return f"map<{athena_type(kind.key_type)},{athena_type(kind.item_type)}>"
    if pa.types.is_struct(kind):
        fields = [kind.field(i) for i in range(kind.num_fields)]
        return "struct<" + ",".join(f"{_field_name(f.name)}:{athena_type(f.type)}" for f in fields) + ">"
    raise ValueError(f"Athena has no type for {kind}; CAST the column (to VARCHAR, for instance)")


def sink_table(
    decl: SinkDecl, prefix: object, schema: pa.Schema, format_name: str, glue_database: str = "", glue_table: str = ""
) -> SinkTable | None:
    """The table of a file or s3 sink, read generically from its options; None for others."""
    connector = (decl.option("connector") or "").lower()
    options = {o.key.lower(): str(expand_environment(o.value)) for o in decl.options}
    base = location_base(connector, options)
    if base is None:
        return None
    layout = table_layout(prefix, base, list(schema.names))  # type: ignore[arg-type]
    hive = {c.lower() for c in layout.hive_columns}
    columns = []
    for column in schema:
        if column.name.lower() in hive:
            continue
        try:
            columns.append((column.name.lower(), athena_type(column.type)))
        except ValueError as exc:
            raise ConfigError(f"sink '{decl.name}', column '{column.name}': {exc}", decl.location) from None
    clash = next((k.name for k in layout.keys if k.name in dict(columns)), None)
    if clash is not None:
        raise ConfigError(
            f"sink '{decl.name}': the prefix's folder '{clash}=' names a partition column that is "
            f"also a column of the query; Athena needs distinct names (rename one)",
            decl.location,
        )
    return SinkTable(
        decl.name, glue_database.lower(), (glue_table or decl.name).lower(), tuple(columns), layout, format_name
    )


def create_table_ddl(table: SinkTable) -> str:
    """CREATE EXTERNAL TABLE with partition projection: new partitions need no MSCK REPAIR."""
    name = (quote(table.database) + "." if table.database else "") + quote(table.table)
    lines = [f"CREATE EXTERNAL TABLE IF NOT EXISTS {name} ("]
    lines.append(",\n".join(f"  {quote(c)} {t}" for c, t in table.columns))
    lines.append(")")
    keys = table.layout.keys
    if keys:
        lines.append("PARTITIONED BY (" + ", ".join(f"{quote(k.name)} {k.athena_type}" for k in keys) + ")")
    if table.format == "parquet":
        lines.append("STORED AS PARQUET")
    else:
        lines.append(f"ROW FORMAT SERDE '{JSON_SERDE}'")
        lines.append("STORED AS TEXTFILE")
    lines.append(f"LOCATION {_string(table.layout.location)}")
    properties = [("classification", table.format)]
    if keys:
        properties.append(("projection.enabled", "true"))
        for key in keys:
            properties += [(f"projection.{key.name}.{p}", v) for p, v in key.projection.items()]
        properties.append(("storage.location.template", table.layout.storage_template()))
    lines.append("TBLPROPERTIES (")
    lines.append(",\n".join(f"  {_string(k)} = {_string(v)}" for k, v in properties))
    lines.append(");")
    return "\n".join(lines)


def quote(name: str) -> str:
    """A lower-case identifier, in backticks when Athena would not read it bare."""
    name = name.lower()
    if _SIMPLE.fullmatch(name) and name not in _RESERVED:
        return name
    return "`" + name.replace("`", "``") + "`"


def _field_name(name: str) -> str:
    return quote(name)


def _string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def object_sink_table(sink: Sink, decl: SinkDecl) -> SinkTable | None:
    """The table of a built sink (an ObjectSink of any connector), or None if it has none."""
    from flowsql.delivery.sink import ObjectSink

    if not isinstance(sink, ObjectSink):
        return None
    schema = sink.object_schema
    if schema is None:  # a transformation handler's records written as they are: no known columns
        return None
    options = sink.options
    return sink_table(decl, sink.prefix, schema, options.format, options.glue_database, options.glue_table)


def pipeline_ddl(run: PipelineRun, only: str | None = None) -> tuple[list[str], list[str]]:
    """DDL statements for the pipeline's file and s3 sinks, and notes on the sinks skipped."""
    from flowsql.delivery.iceberg import IcebergSink

    names = list(run.sinks)
    if only is not None:
        names = [n for n in names if n.lower() == only.lower()]
        if not names:
            raise UsageError(f"no sink named '{only}' in {run.pipeline.path} (sinks: {', '.join(run.sinks)})")
    statements, notes = [], []
    for name in names:
        decl = run.pipeline.sinks[name]
        sink = run.sinks[name]
        if isinstance(sink, IcebergSink):
            from flowsql.catalog.iceberg_ddl import iceberg_ddl

            statement, note = iceberg_ddl(sink)
            notes.append(note)
            if statement is not None:
                statements.append(f"-- sink {name}\n" + statement)
            continue
        table = object_sink_table(sink, decl)
        if table is None:
            connector = decl.option("connector") or "?"
            notes.append(f"sink '{name}' ({connector}) writes no files Athena can read: skipped")
            continue
        statements.append(f"-- sink {name}\n" + create_table_ddl(table))
    return statements, notes
