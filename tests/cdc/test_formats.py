"""The change formats against records in their systems' documented shapes (tests/cdc/fixtures.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import duckdb
import pyarrow as pa

from flowsql.cdc.formats import FORMATS, ChangeDecoder, TableShape
from flowsql.cdc.table_state import TableState
from flowsql.decode import NdjsonDecoder
from flowsql.pipeline.model import Column
from tests.cdc import fixtures

CUSTOMERS = TableShape(
    "customers",
    (
        Column("id", "BIGINT"),
        Column("first_name", "VARCHAR"),
        Column("last_name", "VARCHAR"),
        Column("email", "VARCHAR"),
    ),
    ("id",),
)


def changes(shape: TableShape, format_name: str, records: list[dict]) -> tuple[pa.Table, list]:  # type: ignore[type-arg]
    decoder = NdjsonDecoder(shape.name, FORMATS[format_name].envelope_columns(shape))
    decoded, bad = decoder.decode(fixtures.ndjson(records).rstrip(b"\n"), "test", 0, datetime.now(UTC))
    assert bad == []
    return ChangeDecoder(shape, format_name, shape.name).decode(decoded)


def state_after(shape: TableShape, batch: pa.Table) -> list[dict]:  # type: ignore[type-arg]
    state = TableState(shape, duckdb.connect())
    state.apply(batch)
    return state.rows().to_pylist()


def test_debezium_postgres_create_update_delete() -> None:
    batch, rejected = changes(CUSTOMERS, "debezium-json", fixtures.DEBEZIUM_POSTGRES)
    assert rejected == []
    assert batch.column("op").to_pylist() == ["c", "u", "d"]
    assert batch.column("change_position").to_pylist() == [Decimal(24023128), Decimal(24023160), Decimal(46523128)]
    assert batch.column("change_time").to_pylist()[0] == datetime(2019, 5, 28, 8, 58, 24, 863000)
    first_two = state_after(CUSTOMERS, batch.slice(0, 2))
    assert first_two == [{"id": 1, "first_name": "Anne Marie", "last_name": "Kretchmar", "email": "annek@noanswer.org"}]
    assert state_after(CUSTOMERS, batch) == []


def test_debezium_schema_wrapper_reads_the_payload() -> None:
    batch, rejected = changes(CUSTOMERS, "debezium-json", [fixtures.DEBEZIUM_POSTGRES_WRAPPED])
    assert rejected == []
    row = batch.to_pylist()[0]
    assert (row["op"], row["id"], row["first_name"], row["change_position"]) == ("c", 1, "Anne", Decimal(24023128))


def test_debezium_mysql_orders_by_binlog_position_whatever_the_arrival() -> None:
    batch, rejected = changes(CUSTOMERS, "debezium-json", list(reversed(fixtures.DEBEZIUM_MYSQL)))
    assert rejected == []
    positions = batch.column("change_position").to_pylist()
    assert positions == sorted(positions, reverse=True)  # file 3, offsets 805 > 484 > 154
    # The create's source.ts_ms is 0 in the example: the envelope's ts_ms stands in.
    create = next(r for r in batch.to_pylist() if r["op"] == "c")
    assert create["change_time"] == datetime(2017, 2, 7, 20, 49, 37, 691000)
    # Delivered delete-first, the older create and update do not bring the row back.
    assert state_after(CUSTOMERS, batch) == []
    assert state_after(CUSTOMERS, batch.slice(1)) == [
        {"id": 1004, "first_name": "Anne Marie", "last_name": "Kretchmar", "email": "annek@noanswer.org"}
    ]


MESSAGES = TableShape("messages", (Column("Id", "BIGINT"), Column("Message", "VARCHAR")), ("Id",))


def test_dynamodb_streams_records_typed_attribute_values() -> None:
    batch, rejected = changes(MESSAGES, "dynamodb-json", fixtures.DYNAMODB_STREAMS)
    assert rejected == []
    rows = batch.to_pylist()
    assert [(r["op"], r["Id"], r["Message"]) for r in rows] == [
        ("c", 101, "New item!"),
        ("u", 101, "This item has changed"),
        ("d", 101, "This item has changed"),
    ]
    assert rows[2]["change_position"] == Decimal(4421584500000000017450439093)
    assert rows[0]["change_time"] == datetime(2015, 4, 9, 0, 0)  # epoch seconds
    assert state_after(MESSAGES, batch.slice(0, 2)) == [{"Id": 101, "Message": "This item has changed"}]
    assert state_after(MESSAGES, batch) == []


MUSIC = TableShape(
    "music",
    (
        Column("Artist", "VARCHAR"),
        Column("SongTitle", "VARCHAR"),
        Column("AlbumTitle", "VARCHAR"),
        Column("Awards", "INTEGER"),
    ),
    ("Artist", "SongTitle"),
)


def test_dynamodb_through_kinesis_millisecond_times_and_composite_key() -> None:
    batch, rejected = changes(MUSIC, "dynamodb-json", fixtures.DYNAMODB_KINESIS)
    assert rejected == []
    rows = batch.to_pylist()
    assert rows[1]["change_time"] == datetime(2022, 7, 27, 19, 45, 1, 914000)  # epoch milliseconds
    assert rows[0]["change_position"] < rows[1]["change_position"]
    assert state_after(MUSIC, batch) == [
        {"Artist": "No One You Know", "SongTitle": "Call Me Today", "AlbumTitle": "Somewhat Famous", "Awards": 10}
    ]


def test_dynamodb_value_of_the_wrong_type_is_rejected_with_the_reason() -> None:
    record = json.loads(json.dumps(fixtures.DYNAMODB_STREAMS[0]))
    record["dynamodb"]["NewImage"]["Id"] = {"S": "one hundred"}
    record["dynamodb"]["Keys"]["Id"] = {"N": "101"}
    batch, rejected = changes(MESSAGES, "dynamodb-json", [record, fixtures.DYNAMODB_STREAMS[1]])
    assert batch.num_rows == 1
    assert len(rejected) == 1
    assert "attribute Id of NewImage: one hundred is no BIGINT" in rejected[0].message
    assert b"one hundred" in rejected[0].raw


ITEMS = TableShape("items", (Column("id", "BIGINT"), Column("name", "VARCHAR")), ("id",))


def test_changes_json_key_change_moves_the_row() -> None:
    records = [
        {"op": "insert", "after": {"id": 1, "name": "a"}, "position": 1},
        {"op": "update", "key": {"id": 1}, "after": {"id": 7, "name": "a2"}, "position": 2},
        {"op": "c", "after": {"id": 2, "name": "b"}, "position": 3},
        {"op": "delete", "key": {"id": 2}, "position": 4},
    ]
    batch, rejected = changes(ITEMS, "changes-json", records)
    assert rejected == []
    assert [(r["op"], r["id"]) for r in batch.to_pylist()] == [("c", 1), ("d", 1), ("u", 7), ("c", 2), ("d", 2)]
    assert state_after(ITEMS, batch) == [{"id": 7, "name": "a2"}]


def test_unusable_changes_go_aside_with_their_reason() -> None:
    records = [
        {"op": "truncate", "position": 1},
        {"op": "c", "after": {"name": "no key"}, "position": 2},
        {"op": "c", "after": {"id": 3, "name": "no position"}},
        {"op": "c", "after": {"id": 4, "name": "good"}, "position": 5},
    ]
    batch, rejected = changes(ITEMS, "changes-json", records)
    assert batch.column("id").to_pylist() == [4]
    assert [r.message for r in rejected] == [
        "unknown change operation 'truncate'",
        "the new row has no key column id",
        "the change has no ordering position or time",
    ]
    assert all(r.error_code == "change-not-applicable" for r in rejected)
