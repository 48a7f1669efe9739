"""Reading a stream end to end through `flowsql run --until-caught-up`, on moto and kinesalite."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from flowsql.produce import produce
from tests.conftest import run_cli
from tests.kinesis.conftest import KinesisServer, read_json_rows, write_pipeline


def _records(count: int, keys: int = 5) -> list[bytes]:
    return [
        json.dumps({"id": i, "key": f"k{i % keys}", "n": i // keys, "note": f"r{i}"}).encode() for i in range(count)
    ]


def _arrivals(server: KinesisServer, stream: str) -> dict[int, int]:
    """id -> ApproximateArrivalTimestamp in microseconds, read with plain boto3."""
    client = server.client()
    out = {}
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = client.get_records(ShardIterator=iterator)
            for record in answer["Records"]:
                stamp = record["ApproximateArrivalTimestamp"].astimezone(UTC)
                out[json.loads(record["Data"])["id"]] = int(stamp.timestamp() * 1000) * 1000
            if not answer["Records"]:
                break
            iterator = answer.get("NextShardIterator")
    return out


def test_run_until_caught_up_reads_every_record_with_its_arrival_time(kinesis: KinesisServer, tmp_path) -> None:
    stream = kinesis.create_stream(3)
    report = produce(stream, _records(300), partition_key_field="key", endpoint_url=kinesis.url)
    assert report.ok and report.put == 300
    pipeline = write_pipeline(tmp_path, stream, kinesis.url)
    result = run_cli("run", str(pipeline), "--until-caught-up", "--summary-json", str(tmp_path / "s.json"), timeout=60)
    assert result.code == 0, result.stderr
    rows = read_json_rows(tmp_path / "lake" / "rows")
    assert sorted(r["id"] for r in rows) == list(range(300))
    assert all(r["note"] == f"r{r['id']}" and r["key"] == f"k{r['id'] % 5}" for r in rows)
    arrivals = _arrivals(kinesis, stream)
    from datetime import datetime

    for row in rows:
        seen = datetime.fromisoformat(str(row["arrival_time"]).replace("Z", "")).replace(tzinfo=UTC)
        assert int(seen.timestamp() * 1_000_000) == arrivals[row["id"]]
    summary = json.loads((tmp_path / "s.json").read_text())
    lag = summary["sources"]["events"]["lag_millis"]
    assert len(lag) == 3 and all(v == 0 for v in lag.values())
    assert "behind latest" in result.stderr


@pytest.mark.slow
def test_a_second_run_resumes_from_the_checkpoint(kinesalite: KinesisServer, tmp_path) -> None:
    stream = kinesalite.create_stream(2)
    assert produce(stream, _records(120), partition_key_field="key", endpoint_url=kinesalite.url).ok
    pipeline = write_pipeline(tmp_path, stream, kinesalite.url)
    first = run_cli("run", str(pipeline), "--until-caught-up", timeout=60)
    assert first.code == 0, first.stderr
    assert sorted(r["id"] for r in read_json_rows(tmp_path / "lake" / "rows")) == list(range(120))

    more = [json.dumps({"id": i, "key": f"k{i % 5}", "n": 0, "note": "later"}).encode() for i in range(120, 150)]
    assert produce(stream, more, partition_key_field="key", endpoint_url=kinesalite.url).ok
    second = run_cli("run", str(pipeline), "--until-caught-up", timeout=60)
    assert second.code == 0, second.stderr
    assert "30 events" in second.stderr
    ids = [r["id"] for r in read_json_rows(tmp_path / "lake" / "rows")]
    assert sorted(ids) == list(range(150)), "each record once over both runs"
