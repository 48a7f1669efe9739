"""KPL-aggregated records, made by the aws-kinesis-agg package, read back record for record."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from aws_kinesis_agg.aggregator import RecordAggregator

from flowsql.sources.kpl import AggregateError, deaggregate, is_aggregated
from tests.conftest import run_cli
from tests.kinesis.conftest import KinesisServer, on_both_moto_slow, read_json_rows, write_pipeline


def _aggregate(items: list[tuple[str, bytes, str | None]]) -> tuple[str, str | None, bytes]:
    aggregator = RecordAggregator()
    for key, data, hash_key in items:
        assert aggregator.add_user_record(key, data, hash_key) is None
    record = aggregator.clear_and_get()
    return record.get_contents()


def test_deaggregate_matches_what_the_kpl_format_producer_put_in() -> None:
    items = [
        (f"key-{i % 4}", f"payload {i}".encode() * (i % 5 + 1), str(i * 1000) if i % 3 == 0 else None)
        for i in range(40)
    ]
    _, _, data = _aggregate(items)
    assert is_aggregated(data)
    records = deaggregate(data)
    assert [(r.partition_key, r.data) for r in records] == [(k, d) for k, d, _ in items]
    assert [r.explicit_hash_key for r in records][:4] == ["0", None, None, "3000"]


def test_corrupt_aggregates_are_refused() -> None:
    _, _, data = _aggregate([("k", b'{"id": 1}', None), ("k", b'{"id": 2}', None)])
    flipped = bytearray(data)
    flipped[-1] ^= 0xFF
    with pytest.raises(AggregateError, match="MD5"):
        deaggregate(bytes(flipped))
    with pytest.raises(AggregateError, match="too short"):
        deaggregate(data[:10])
    # A body that passes its checksum but is not a valid AggregatedRecord.
    body = b"\x1a\x05\x08\x07\x1a\x01x"  # entry with partition key index 7 of an empty table
    with pytest.raises(AggregateError, match="partition key index 7"):
        deaggregate(b"\xf3\x89\x9a\xc2" + body + hashlib.md5(body).digest())
    truncated = b"\x1a\x40\x08"
    with pytest.raises(AggregateError, match="past the end"):
        deaggregate(b"\xf3\x89\x9a\xc2" + truncated + hashlib.md5(truncated).digest())
    assert not is_aggregated(b'{"id": 1}')


@on_both_moto_slow
def test_aggregated_records_read_back_record_for_record(kinesis: KinesisServer, tmp_path) -> None:
    stream = kinesis.create_stream(1)
    client = kinesis.client()
    expected: list[int] = []
    next_id = 0
    for size in (120, 1, 75):
        items = []
        for _ in range(size):
            items.append(
                (
                    f"k{next_id % 6}",
                    json.dumps({"id": next_id, "key": f"k{next_id % 6}", "n": next_id, "note": "agg"}).encode(),
                    None,
                )
            )
            expected.append(next_id)
            next_id += 1
        key, hash_key, data = _aggregate(items)
        client.put_record(
            StreamName=stream, Data=data, PartitionKey=key, **({"ExplicitHashKey": hash_key} if hash_key else {})
        )
        # A plain record between the aggregates is read as it is.
        client.put_record(
            StreamName=stream,
            Data=json.dumps({"id": next_id, "key": "plain", "n": 0, "note": "plain"}).encode(),
            PartitionKey="plain",
        )
        expected.append(next_id)
        next_id += 1
    _, _, good = _aggregate([("k", b'{"id": 1000}', None)])
    corrupt = good[:-1] + bytes([good[-1] ^ 0x55])
    put = client.put_record(StreamName=stream, Data=corrupt, PartitionKey="k")
    pipeline = write_pipeline(tmp_path, stream, kinesis.url)
    result = run_cli("run", str(pipeline), "--until-caught-up", timeout=60)
    assert result.code == 0, result.stderr
    rows = read_json_rows(tmp_path / "lake" / "rows")
    assert [r["id"] for r in rows] == expected  # one shard: the order is the order written
    assert {r["note"] for r in rows if r["key"] == "plain"} == {"plain"}
    errors = read_json_rows(tmp_path / "lake" / "errors")
    assert len(errors) == 1
    assert errors[0]["errorCode"] == "deaggregation-failed"
    assert "MD5" in errors[0]["errorMessage"]
    assert errors[0]["position"] == f"{put['ShardId']}/{put['SequenceNumber']}"
    assert base64.b64decode(errors[0]["rawData"]) == corrupt
