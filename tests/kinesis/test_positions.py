"""Positions: a source resumed with `seek` reads exactly the records after them."""

from __future__ import annotations

import json
import threading

from flowsql.pipeline import load_pipeline
from flowsql.produce import produce
from flowsql.sources import create_source
from flowsql.sources.kinesis import KinesisSource
from tests.kinesis.conftest import KinesisServer, on_both_moto_slow, wait_active, write_pipeline


def _source(tmp_path, stream: str, url: str) -> KinesisSource:
    pipeline = load_pipeline(write_pipeline(tmp_path, stream, url))
    source = create_source(pipeline.sources["events"])
    assert isinstance(source, KinesisSource)
    return source


def _ids(batches) -> list[int]:
    return [i for b in batches for i in b.table.column("id").to_pylist()]


def _put(server: KinesisServer, stream: str, ids: range) -> None:
    records = [json.dumps({"id": i, "key": f"k{i % 7}", "n": i, "note": ""}).encode() for i in ids]
    assert produce(stream, records, partition_key_field="key", endpoint_url=server.url).ok


@on_both_moto_slow
def test_seek_resumes_after_the_last_sequence_number_of_each_shard(kinesis: KinesisServer, tmp_path) -> None:
    stream = kinesis.create_stream(2)
    _put(kinesis, stream, range(200))

    first = _source(tmp_path, stream, kinesis.url)
    first.stop_when_caught_up = True
    batches = list(first.read(threading.Event()))
    assert sorted(_ids(batches)) == list(range(200))
    # Stop part way: the position after the first batch only.
    position = batches[0].position
    taken = set(batches[0].table.column("id").to_pylist())
    assert set(position["shards"]) <= {s["ShardId"] for s in kinesis.client().list_shards(StreamName=stream)["Shards"]}
    assert position["finished"] == []

    _put(kinesis, stream, range(200, 260))
    second = _source(tmp_path, stream, kinesis.url)
    second.seek(json.loads(json.dumps(position)))  # positions survive JSON, as a checkpoint stores them
    second.stop_when_caught_up = True
    rest = _ids(list(second.read(threading.Event())))
    assert sorted(rest) == sorted(set(range(260)) - taken)
    assert len(rest) == len(set(rest))


def test_finished_shards_are_not_read_again(kinesalite: KinesisServer, tmp_path) -> None:
    stream = kinesalite.create_stream(1)
    _put(kinesalite, stream, range(50))
    client = kinesalite.client()
    client.split_shard(StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
    wait_active(client, stream)
    _put(kinesalite, stream, range(50, 80))  # into the two children
    source = _source(tmp_path, stream, kinesalite.url)
    source.stop_when_caught_up = True
    batches = list(source.read(threading.Event()))
    assert sorted(_ids(batches)) == list(range(80))
    position = batches[-1].position
    assert position["finished"] == ["shardId-000000000000"]
    assert sorted(position["shards"]) == ["shardId-000000000001", "shardId-000000000002"]

    _put(kinesalite, stream, range(80, 110))
    again = _source(tmp_path, stream, kinesalite.url)
    again.seek(position)
    again.stop_when_caught_up = True
    assert sorted(_ids(list(again.read(threading.Event())))) == list(range(80, 110))
