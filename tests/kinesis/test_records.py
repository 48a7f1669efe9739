"""Kinesis records into rows: one row per record, its own arrival time, bad records aside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flowsql.decode import NdjsonDecoder
from flowsql.pipeline.model import Column
from flowsql.sources.kinesis_records import decode_rows, user_rows

COLUMNS = (Column("id", "BIGINT"), Column("note", "VARCHAR"))
T0 = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)


def _record(seq: int, data: bytes) -> dict:
    return {
        "SequenceNumber": str(seq),
        "Data": data,
        "PartitionKey": "k",
        "ApproximateArrivalTimestamp": T0 + timedelta(milliseconds=seq),
    }


def _decode(datas: list[bytes]):  # type: ignore[no-untyped-def]
    decoder = NdjsonDecoder("clicks", COLUMNS)
    rows, bad = user_rows("clicks", "shardId-000000000007", [_record(i, d) for i, d in enumerate(datas)])
    table, errors, _ = decode_rows(decoder, rows)
    return table, bad + errors


def test_each_row_carries_its_own_arrival_time() -> None:
    table, errors = _decode([b'{"id": %d, "note": "n%d"}' % (i, i) for i in range(5)])
    assert errors == []
    assert table.column("id").to_pylist() == [0, 1, 2, 3, 4]
    arrivals = table.column("arrival_time").to_pylist()
    assert arrivals == [(T0 + timedelta(milliseconds=i)).replace(tzinfo=None) for i in range(5)]


def test_multi_line_json_is_one_record_and_bad_records_name_shard_and_sequence() -> None:
    table, errors = _decode(
        [
            b'{"id": 0, "note": "plain"}',
            b'{\n  "id": 1,\n  "note": "pretty\\nprinted"\n}\n',
            b"not json at all",
            b'{"id": 3, "note": "ok"}',
            b"   \n",
            b'{"id": 5} {"id": 6}',
            b'{"id": "seven", "note": "wrong type"}',
            b'{"id": 8, "note": "last"}',
        ]
    )
    assert table.column("id").to_pylist() == [0, 1, 3, 8]
    assert table.column("note").to_pylist() == ["plain", "pretty\nprinted", "ok", "last"]
    # Each good row keeps the arrival time of its own record, even with bad ones between.
    assert [t.microsecond // 1000 - 123 for t in table.column("arrival_time").to_pylist()] == [0, 1, 3, 7]
    by_position = {e.position: e for e in errors}
    assert sorted(by_position) == [f"shardId-000000000007/{i}" for i in (2, 4, 5, 6)]
    assert all(e.error_code == "format-conversion-failed" for e in errors)
    assert by_position["shardId-000000000007/2"].raw == b"not json at all"
    assert by_position["shardId-000000000007/6"].arrival_time == T0 + timedelta(milliseconds=6)
