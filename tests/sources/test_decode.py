"""Decoding NDJSON against the declared columns: values, UTC offsets, nested paths, and a
clear reason for each record that does not decode, with no good record of its chunk lost."""

from __future__ import annotations

from datetime import datetime

from flowsql.decode import NdjsonDecoder
from flowsql.pipeline.model import Column

ARRIVAL = datetime(2024, 1, 1, 12, 0, 0)


def decode(columns: tuple[Column, ...], text: str) -> tuple[list[dict], list[tuple[str, str, str]]]:
    table, bad = NdjsonDecoder("s", columns).decode(text.encode(), "f", 100, ARRIVAL)
    rows = [{k: v for k, v in row.items() if k != "arrival_time"} for row in table.to_pylist()]
    return rows, [(b.position, b.message, b.raw.decode()) for b in bad]


def test_each_bad_record_has_its_reason_and_position_and_the_good_ones_stay() -> None:
    lines = [
        '{"a": 1}',
        '{"a": "x"}',
        '{"a": 2',
        "null",
        "42",
        '{"ts": "nope"}',
        "[1]",
        '{"a": 1} {"a": 2}',
        '{"a": 3, "ts": "2024-01-01T00:00:00"}',
    ]
    rows, bad = decode((Column("a", "BIGINT"), Column("ts", "TIMESTAMP")), "\n".join(lines))
    assert rows == [{"a": 1, "ts": None}, {"a": 3, "ts": datetime(2024, 1, 1)}]
    starts = [100 + sum(len(line) + 1 for line in lines[:i]) for i in range(len(lines))]
    assert [(position, raw) for position, _, raw in bad] == [(f"f@{starts[i]}", lines[i]) for i in range(1, 8)]
    reasons = [reason for _, reason, _ in bad]
    assert reasons[0] == "column 'a': Failed to cast value to numerical: \"x\""
    assert reasons[1] == "malformed JSON at byte 8: unexpected end of data"
    assert reasons[2] == "JSON null is not a record"
    assert reasons[3] == "Expected OBJECT, but got UBIGINT: 42"
    assert reasons[4].startswith("column 'ts': invalid timestamp field format: \"nope\"")
    assert reasons[5] == "Expected OBJECT, but got ARRAY: [1]"
    assert reasons[6].startswith("malformed JSON at byte 9: unexpected content after document")
    assert not any("Try " in reason or "DUCKDB_INTERNAL" in reason for reason in reasons)


def test_timestamps_with_a_utc_offset_are_converted_to_utc() -> None:
    rows, bad = decode(
        (Column("ts", "TIMESTAMP"),),
        '{"ts": "2024-01-01T00:30:00+02:00"}\n{"ts": "2024-01-01 00:30:00"}\n{"ts": "2024-01-01T00:30:00Z"}',
    )
    assert bad == []
    assert [r["ts"] for r in rows] == [
        datetime(2023, 12, 31, 22, 30),
        datetime(2024, 1, 1, 0, 30),
        datetime(2024, 1, 1, 0, 30),
    ]


def test_nested_paths_and_missing_parents() -> None:
    columns = (
        Column("id", "BIGINT"),
        Column("price", "DOUBLE", "$.order.price"),
        Column("city", "VARCHAR", "$.order.ship.city"),
    )
    rows, bad = decode(
        columns,
        '{"id": 1, "order": {"price": 9.5, "ship": {"city": "Oslo", "zip": 1}}, "x": 0}\n'
        '{"id": 2}\n{"id": 3, "order": null}',
    )
    assert bad == []
    assert rows == [
        {"id": 1, "price": 9.5, "city": "Oslo"},
        {"id": 2, "price": None, "city": None},
        {"id": 3, "price": None, "city": None},
    ]


def test_values_convert_as_duckdb_casts_them() -> None:
    rows, bad = decode(
        (Column("n", "BIGINT"), Column("s", "VARCHAR")), '{"n": "12", "s": 5}\n{"n": true, "s": {"k": 1}}'
    )
    assert bad == []
    assert rows == [{"n": 12, "s": "5"}, {"n": 1, "s": '{"k":1}'}]
