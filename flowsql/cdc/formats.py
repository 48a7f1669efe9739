"""Change record formats: Debezium JSON, DynamoDB stream records and a plain {op, key, before,
after} form, each turned into one uniform Arrow change batch by a DuckDB query.

A format says which nested columns its records hold (`envelope_columns`, read by the existing
JSON decoder) and how to pick the operation, images, key, ordering position and time out of
them (`select_sql`); `change_batch` does the rest the same way for every format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from flowsql.pipeline.model import Column
from flowsql.records import ARRIVAL_TIME, BadRecord

OP = "op"
CHANGE_TIME = "change_time"
CHANGE_POSITION = "change_position"
SYSTEM_COLUMNS = (OP, CHANGE_TIME, CHANGE_POSITION, ARRIVAL_TIME)
POSITION_TYPE = "DECIMAL(38,0)"  # DynamoDB sequence numbers have up to 40 digits; LSNs fit easily
ROW = "__flowsql_row"


@dataclass(frozen=True)
class TableShape:
    """What a CDC table holds: its declared columns and primary key."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]

    @property
    def key_indexes(self) -> list[int]:
        names = [c.name.lower() for c in self.columns]
        return [names.index(k.lower()) for k in self.key]


class ChangeFormat(Protocol):
    name: str

    def envelope_columns(self, shape: TableShape) -> tuple[Column, ...]:
        """The columns (DuckDB types, nested) the JSON decoder reads each record into."""

    def select_sql(self, shape: TableShape, relation: str) -> str:
        """SELECT over decoded records giving __op_raw, __op (c/u/d/r or NULL), b<i>/a<i> (before and
        after image column i), k<i> (key column i when the record names the key apart), __position,
        __time_us, __bad (a reason the record cannot be used, or NULL), arrival_time and ROW."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _struct(columns: tuple[Column, ...] | list[Column]) -> str:
    return "STRUCT(" + ", ".join(f"{_quote(c.name)} {c.sql_type}" for c in columns) + ")"


def _field(struct: str, name: str) -> str:
    return f"struct_extract({struct}, '{name.replace(chr(39), chr(39) * 2)}')"


def _ms_to_us(expression: str) -> str:
    return f"CAST({expression} AS BIGINT) * 1000"


_DEBEZIUM_OPS = "CASE __op_raw WHEN 'c' THEN 'c' WHEN 'u' THEN 'u' WHEN 'd' THEN 'd' WHEN 'r' THEN 'r' END"


class DebeziumJson:
    """Debezium's change event value, with or without the `{"schema": ..., "payload": ...}` wrapper
    of Kafka Connect's JSON converter (`schemas.enable`)."""

    name = "debezium-json"
    # Where each connector puts the order of changes: PostgreSQL `lsn`, Oracle `scn`, MySQL and
    # MariaDB the binlog `file`/`pos`/`row`; the envelope's `ts_ms` is the last resort.
    _SOURCE = (
        Column("lsn", POSITION_TYPE),
        Column("scn", POSITION_TYPE),
        Column("file", "VARCHAR"),
        Column("pos", "BIGINT"),
        Column("row", "BIGINT"),
        Column("ts_ms", "BIGINT"),
    )

    def _payload(self, shape: TableShape) -> list[Column]:
        image = _struct(shape.columns)
        return [
            Column("before", image),
            Column("after", image),
            Column("op", "VARCHAR"),
            Column("ts_ms", "BIGINT"),
            Column("source", _struct(self._SOURCE)),
        ]

    def envelope_columns(self, shape: TableShape) -> tuple[Column, ...]:
        payload = self._payload(shape)
        return (*payload, Column("payload", _struct(payload)))

    def select_sql(self, shape: TableShape, relation: str) -> str:
        def part(name: str) -> str:
            return f"COALESCE({_field('payload', name)}, {_quote(name)})"

        source = part("source")
        binlog = (
            f"TRY_CAST(regexp_extract({_field(source, 'file')}, '(\\d+)$', 1) AS {POSITION_TYPE}) * 10000000000000000"
            f" + CAST({_field(source, 'pos')} AS {POSITION_TYPE}) * 1000000"
            f" + COALESCE(CAST({_field(source, 'row')} AS {POSITION_TYPE}), 0)"
        )
        envelope_ts = part("ts_ms")
        position = (
            f"COALESCE({_field(source, 'lsn')}, {_field(source, 'scn')}, {binlog}, "
            f"CAST({envelope_ts} AS {POSITION_TYPE}))"
        )
        images = []
        for index, column in enumerate(shape.columns):
            images.append(f"{_field(part('before'), column.name)} AS b{index}")
            images.append(f"{_field(part('after'), column.name)} AS a{index}")
            images.append(f"CAST(NULL AS {column.sql_type}) AS k{index}")
        # The source's ts_ms is when the database made the change (0 in some snapshot records), the
        # envelope's when Debezium read it.
        time_us = _ms_to_us(f"COALESCE(NULLIF({_field(source, 'ts_ms')}, 0), {envelope_ts})")
        op = part("op")
        return (
            f"SELECT {op} AS __op_raw, {_DEBEZIUM_OPS.replace('__op_raw', op)} AS __op, "
            f"{', '.join(images)}, {position} AS __position, {time_us} AS __time_us, "
            f"CAST(NULL AS VARCHAR) AS __bad, {ARRIVAL_TIME}, {ROW} FROM {relation}"
        )


_ATTRIBUTE = 'STRUCT("S" VARCHAR, "N" VARCHAR, "BOOL" BOOLEAN, "NULL" BOOLEAN)'


class DynamodbJson:
    """DynamoDB stream records as Kinesis Data Streams for DynamoDB delivers them (and as DynamoDB
    Streams itself shows them): `eventName`, `dynamodb.Keys`/`NewImage`/`OldImage` of typed
    AttributeValues ({"S": ...}, {"N": "..."}, {"BOOL": ...}, {"NULL": true})."""

    name = "dynamodb-json"

    def envelope_columns(self, shape: TableShape) -> tuple[Column, ...]:
        image = "STRUCT(" + ", ".join(f"{_quote(c.name)} {_ATTRIBUTE}" for c in shape.columns) + ")"
        keys = "STRUCT(" + ", ".join(f"{_quote(k)} {_ATTRIBUTE}" for k in shape.key) + ")"
        record = (
            f'STRUCT("ApproximateCreationDateTime" DOUBLE, "Keys" {keys}, "NewImage" {image}, '
            f'"OldImage" {image}, "SequenceNumber" {POSITION_TYPE})'
        )
        return (Column("eventName", "VARCHAR"), Column("dynamodb", record))

    @staticmethod
    def _typed(attribute: str, sql_type: str) -> str:
        """An AttributeValue as the column's type (numbers arrive as strings, as DynamoDB sends them)."""
        text = (
            f"COALESCE({_field(attribute, 'S')}, {_field(attribute, 'N')}, "
            f"CAST({_field(attribute, 'BOOL')} AS VARCHAR))"
        )
        upper = sql_type.upper()
        if upper.startswith("TIMESTAMP"):
            epoch = f"TRY_CAST({_field(attribute, 'N')} AS DOUBLE)"
            return (
                f"COALESCE(TRY_CAST({_field(attribute, 'S')} AS {sql_type}), "
                f"CAST(make_timestamp(CAST({epoch} * 1000000 AS BIGINT)) AS {sql_type}))"
            )
        return f"TRY_CAST({text} AS {sql_type})"

    def select_sql(self, shape: TableShape, relation: str) -> str:
        record = '"dynamodb"'
        created = _field(record, "ApproximateCreationDateTime")
        # Kinesis delivers epoch milliseconds, DynamoDB Streams epoch seconds: tell them by size.
        time_us = (
            f"CAST(CASE WHEN {created} < 1e11 THEN {created} * 1e6 WHEN {created} < 1e14 "
            f"THEN {created} * 1e3 ELSE {created} END AS BIGINT)"
        )
        parts, problems = [], []
        for index, column in enumerate(shape.columns):
            for prefix, image in (("b", "OldImage"), ("a", "NewImage")):
                attribute = _field(_field(record, image), column.name)
                typed = self._typed(attribute, column.sql_type)
                parts.append(f"{typed} AS {prefix}{index}")
                given = (
                    f"COALESCE({_field(attribute, 'S')}, {_field(attribute, 'N')}, "
                    f"CAST({_field(attribute, 'BOOL')} AS VARCHAR))"
                )
                problems.append(
                    f"WHEN {given} IS NOT NULL AND {typed} IS NULL THEN "
                    f"'attribute {column.name} of {image}: ' || {given} || ' is no {column.sql_type}'"
                )
            if column.name in shape.key:
                key = _field(_field(record, "Keys"), column.name)
                parts.append(f"{self._typed(key, column.sql_type)} AS k{index}")
            else:
                parts.append(f"CAST(NULL AS {column.sql_type}) AS k{index}")
        ops = "CASE \"eventName\" WHEN 'INSERT' THEN 'c' WHEN 'MODIFY' THEN 'u' WHEN 'REMOVE' THEN 'd' END"
        return (
            f'SELECT "eventName" AS __op_raw, {ops} AS __op, {", ".join(parts)}, '
            f"COALESCE({_field(record, 'SequenceNumber')}, CAST({time_us} AS {POSITION_TYPE})) AS __position, "
            f"{time_us} AS __time_us, CASE {' '.join(problems)} END AS __bad, {ARRIVAL_TIME}, {ROW} FROM {relation}"
        )


class ChangesJson:
    """flowsql's plain form: {"op": "c|u|d|r" (or insert/update/delete), "key": {...}, "before":
    {...}, "after": {...}, "position": n, "ts_ms": n}; `key` names the row changed (its old key
    when an update changes the key), `position` orders changes (ts_ms when it is absent)."""

    name = "changes-json"

    def envelope_columns(self, shape: TableShape) -> tuple[Column, ...]:
        image = _struct(shape.columns)
        key = _struct([c for c in shape.columns if c.name in shape.key])
        return (
            Column("op", "VARCHAR"),
            Column("key", key),
            Column("before", image),
            Column("after", image),
            Column("position", POSITION_TYPE),
            Column("ts_ms", "BIGINT"),
        )

    def select_sql(self, shape: TableShape, relation: str) -> str:
        parts = []
        for index, column in enumerate(shape.columns):
            parts.append(f"{_field('before', column.name)} AS b{index}")
            parts.append(f"{_field('after', column.name)} AS a{index}")
            key = _field('"key"', column.name) if column.name in shape.key else f"CAST(NULL AS {column.sql_type})"
            parts.append(f"{key} AS k{index}")
        ops = (
            "CASE lower(op) WHEN 'c' THEN 'c' WHEN 'insert' THEN 'c' WHEN 'create' THEN 'c' WHEN 'u' THEN 'u' "
            "WHEN 'update' THEN 'u' WHEN 'd' THEN 'd' WHEN 'delete' THEN 'd' WHEN 'r' THEN 'r' END"
        )
        return (
            f"SELECT op AS __op_raw, {ops} AS __op, {', '.join(parts)}, "
            f"COALESCE(position, CAST(ts_ms AS {POSITION_TYPE})) AS __position, {_ms_to_us('ts_ms')} AS __time_us, "
            f"CAST(NULL AS VARCHAR) AS __bad, {ARRIVAL_TIME}, {ROW} FROM {relation}"
        )


FORMATS: dict[str, ChangeFormat] = {f.name: f for f in (DebeziumJson(), DynamodbJson(), ChangesJson())}


def change_schema(shape: TableShape, row_schema: pa.Schema) -> pa.Schema:
    """The change batch: op, the row's columns (after image; before image for deletes), the change's
    time and ordering position, and arrival_time."""
    return pa.schema(
        [
            pa.field(OP, pa.string()),
            *row_schema,
            pa.field(CHANGE_TIME, pa.timestamp("us")),
            pa.field(CHANGE_POSITION, pa.decimal128(38, 0)),
            pa.field(ARRIVAL_TIME, pa.timestamp("us")),
        ]
    )


def _changes_sql(shape: TableShape, selected: str) -> str:
    """Changes over the format's SELECT, rejected records flagged in __problem. An update that
    changes the key becomes a delete of the old key and an upsert of the new one at the same position."""
    keys = shape.key_indexes
    new_key = [f"COALESCE(a{i}, k{i})" for i in keys]
    old_key = [f"COALESCE(k{i}, b{i})" for i in keys]
    problem = (
        "CASE WHEN __bad IS NOT NULL THEN __bad "
        "WHEN __op IS NULL THEN 'unknown change operation ' || COALESCE('''' || __op_raw || '''', 'null') "
        "WHEN __position IS NULL THEN 'the change has no ordering position or time' "
        + " ".join(
            f"WHEN __op <> 'd' AND {n} IS NULL THEN 'the new row has no key column {shape.columns[i].name}' "
            f"WHEN __op = 'd' AND {o} IS NULL THEN 'the deleted row has no key column {shape.columns[i].name}' "
            for i, n, o in zip(keys, new_key, old_key, strict=True)
        )
        + "END"
    )
    checked = f"SELECT *, {problem} AS __problem FROM ({selected})"
    changed = [f"({o} IS NOT NULL AND {o} IS DISTINCT FROM {n})" for o, n in zip(old_key, new_key, strict=True)]
    key_changed = "(" + " OR ".join(changed) + ")"
    time = f"COALESCE(make_timestamp(__time_us), {ARRIVAL_TIME})"

    def row(image: str, key_exprs: list[str]) -> str:
        values = []
        for index, column in enumerate(shape.columns):
            value = key_exprs[keys.index(index)] if index in keys else f"{image}{index}"
            values.append(f"CAST({value} AS {column.sql_type}) AS {_quote(column.name)}")
        return ", ".join(values)

    common = f"{time} AS {CHANGE_TIME}, __position AS {CHANGE_POSITION}, {ARRIVAL_TIME}"
    # One pass: usable changes (a key change as two rows), then each unusable record once with
    # its reason; the caller splits them on __problem.
    return (
        f"WITH checked AS ({checked}) "
        f"SELECT {OP}, * EXCLUDE ({OP}, __part) FROM ("
        f"SELECT __op AS {OP}, {row('a', new_key)}, {common}, {ROW}, 1 AS __part, NULL AS __problem FROM checked "
        f"WHERE __problem IS NULL AND __op <> 'd' "
        f"UNION ALL SELECT 'd' AS {OP}, {row('b', old_key)}, {common}, {ROW}, 0 AS __part, NULL FROM checked "
        f"WHERE __problem IS NULL AND (__op = 'd' OR (__op = 'u' AND {key_changed})) "
        f"UNION ALL SELECT NULL, {', '.join('NULL' for _ in shape.columns)}, NULL, NULL, NULL, {ROW}, 2, __problem "
        f"FROM checked WHERE __problem IS NOT NULL"
        f") ORDER BY {ROW}, __part"
    )


class ChangeDecoder:
    """Turns decoded records of one format into change batches; bad records are set aside with
    the reason, the rest go on."""

    def __init__(self, shape: TableShape, format_name: str, source: str) -> None:
        self.shape = shape
        self.format = FORMATS[format_name]
        self.source = source
        self.con = duckdb.connect()
        self.sql = _changes_sql(shape, self.format.select_sql(shape, "__flowsql_records"))
        from flowsql.decode import arrow_schema

        self.row_schema = arrow_schema(shape.columns)
        self.schema = change_schema(shape, self.row_schema)

    def decode(self, records: pa.Table) -> tuple[pa.Table, list[BadRecord]]:
        if records.num_rows == 0:
            return self.schema.empty_table(), []
        numbered = records.append_column(ROW, pa.array(range(records.num_rows), pa.int64()))
        self.con.register("__flowsql_records", numbered)
        try:
            result = self.con.sql(self.sql).to_arrow_table()
        finally:
            self.con.unregister("__flowsql_records")
        unusable = pc.is_valid(result.column("__problem"))
        rejected = result.filter(unusable)
        changes = result.filter(pc.invert(unusable)).drop_columns([ROW, "__problem"])
        errors = []
        if rejected.num_rows:
            rows = records.take(rejected.column(ROW))
            for record, reason in zip(rows.to_pylist(), rejected.column("__problem").to_pylist(), strict=True):
                record.pop(ARRIVAL_TIME, None)
                raw = json.dumps(record, default=str, separators=(",", ":")).encode()
                errors.append(BadRecord(self.source, "change-not-applicable", str(reason), raw, ""))
        return changes.cast(self.schema), errors
