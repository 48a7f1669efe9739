"""What the Flink table writers share: the connector jars a job needs, Flink type names for
Arrow types, option lists written as a WITH clause, and intervals in Flink's spelling."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

# The runtime the written jobs target: Managed Service for Apache Flink offers it, and the
# Kinesis connector line below is built for it.
FLINK_VERSION = "1.19.1"
KINESIS_CONNECTOR_VERSION = "4.3.0-1.19"


@dataclass(frozen=True)
class Jar:
    """A connector or format the job needs on Flink's class path (or as a plugin)."""

    group: str
    artifact: str
    version: str
    why: str
    plugin: bool = False  # file systems load from Flink's plugins/ folder, not lib/

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}"


KINESIS_JAR = Jar(
    "org.apache.flink",
    "flink-sql-connector-kinesis",
    KINESIS_CONNECTOR_VERSION,
    "Kinesis Data Streams source ('connector' = 'kinesis')",
)
PARQUET_JAR = Jar("org.apache.flink", "flink-sql-parquet", FLINK_VERSION, "Parquet format for the filesystem sink")
S3_JAR = Jar(
    "org.apache.flink",
    "flink-s3-fs-hadoop",
    FLINK_VERSION,
    "s3:// paths for the filesystem connector (copy into plugins/s3-fs-hadoop/)",
    plugin=True,
)


@dataclass
class FlinkTable:
    """One CREATE TABLE of the job and what it brings along."""

    name: str
    ddl: str
    jars: list[Jar] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def with_clause(options: list[tuple[str, str]]) -> str:
    lines = [f"  '{key}' = '{_quote(value)}'" for key, value in options]
    return "WITH (\n" + ",\n".join(lines) + "\n)"


def _quote(value: str) -> str:
    return value.replace("'", "''")


def quote_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def flink_interval(seconds: float) -> str:
    """An INTERVAL literal in the largest unit that holds `seconds` whole, else in milliseconds
    as a fraction of a SECOND: Flink's parser has no MILLISECOND unit."""
    for unit, length in (("DAY", 86400), ("HOUR", 3600), ("MINUTE", 60), ("SECOND", 1)):
        if seconds >= length and seconds % length == 0:
            return f"INTERVAL '{int(seconds // length)}' {unit}"
    millis = int(round(seconds * 1000))
    if millis == 0:
        return "INTERVAL '0' SECOND"
    if millis < 100_000:  # SECOND's default leading precision holds two digits
        return f"INTERVAL '{millis // 1000}.{millis % 1000:03d}' SECOND"
    days, rest = divmod(millis, 86_400_000)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"INTERVAL '{days} {hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}' DAY TO SECOND(3)"


def flink_duration(seconds: float) -> str:
    """A Flink configuration duration ('60 s', '500 ms')."""
    if seconds == int(seconds):
        return f"{int(seconds)} s"
    return f"{int(round(seconds * 1000))} ms"


def arrow_type_sql(arrow_type: pa.DataType) -> str | None:
    """The Flink SQL type for an Arrow type of a query's result, or None when Flink has none."""
    simple = {
        pa.int8(): "TINYINT",
        pa.int16(): "SMALLINT",
        pa.int32(): "INT",
        pa.int64(): "BIGINT",
        pa.uint8(): "SMALLINT",
        pa.uint16(): "INT",
        pa.uint32(): "BIGINT",
        pa.uint64(): "DECIMAL(20, 0)",
        pa.float32(): "FLOAT",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
        pa.string(): "STRING",
        pa.large_string(): "STRING",
        pa.utf8(): "STRING",
        pa.binary(): "BYTES",
        pa.large_binary(): "BYTES",
        pa.date32(): "DATE",
        pa.null(): "STRING",
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP_LTZ(3)" if arrow_type.tz else "TIMESTAMP(3)"
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision}, {arrow_type.scale})"
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        inner = arrow_type_sql(arrow_type.value_type)
        return f"ARRAY<{inner}>" if inner else None
    if pa.types.is_struct(arrow_type):
        fields = [(f.name, arrow_type_sql(f.type)) for f in arrow_type]
        if any(t is None for _, t in fields):
            return None
        return "ROW<" + ", ".join(f"{quote_name(n)} {t}" for n, t in fields) + ">"
    return None
