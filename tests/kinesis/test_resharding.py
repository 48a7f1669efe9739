"""Resharding while a source reads: every record once, and per partition key in order."""

from __future__ import annotations

import json
import threading

import pytest

from flowsql.pipeline import load_pipeline
from flowsql.produce import produce
from flowsql.records import SourceBatch
from flowsql.sources import create_source
from tests.kinesis.conftest import KinesisServer, wait_active, write_pipeline
from tests.waiting import wait_until

KEYS = 16


class Writer:
    """Puts records whose `n` counts up per partition key, so order per key can be checked."""

    def __init__(self, server: KinesisServer, stream: str) -> None:
        self.server, self.stream, self.next_id = server, stream, 0

    def put(self, count: int) -> None:
        records = []
        for _ in range(count):
            i = self.next_id
            records.append(json.dumps({"id": i, "key": f"k{i % KEYS}", "n": i // KEYS, "note": ""}).encode())
            self.next_id += 1
        assert produce(self.stream, records, partition_key_field="key", endpoint_url=self.server.url).ok


class Reader:
    """A Kinesis source read on a thread, as the runner does, collecting its batches."""

    def __init__(self, tmp_path, server: KinesisServer, stream: str) -> None:
        # Many small reads and frequent listings, so children are seen while parents are still read.
        extra = ", records_per_call = 10, shard_refresh_interval = '200 ms'"
        decl = load_pipeline(write_pipeline(tmp_path, stream, server.url, extra)).sources["events"]
        self.source = create_source(decl)
        self.client = server.client()
        self.stream = stream
        self.batches: list[SourceBatch] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for batch in self.source.read(self.stop):
                self.batches.append(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread to fail on
            self.error = exc

    def rows(self) -> list[dict]:
        return [row for batch in self.batches for row in batch.table.to_pylist()]

    def row_count(self) -> int:
        return sum(batch.table.num_rows for batch in list(self.batches))

    def read_through(self) -> bool:
        """Every closed shard read to its end (its end is in the position of a batch) and the
        source caught up: each shard it reads is at its latest record and nothing it fetched is
        still waiting. A record read twice would have come in a batch before this holds."""
        if not self.source.caught_up or not self.batches:
            return False
        listed = self.client.list_shards(StreamName=self.stream)["Shards"]
        closed = {s["ShardId"] for s in listed if "EndingSequenceNumber" in s["SequenceNumberRange"]}
        return closed <= set(self.batches[-1].position["finished"]) and self.source.caught_up

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict]:
        wait_until(
            lambda: self.error is not None or (self.row_count() >= count and self.read_through()),
            timeout,
            f"{count} records read, every closed shard read to its end and the source caught up",
        )
        self.stop.set()
        self.thread.join(5)
        assert self.error is None, self.error
        return self.rows()


def _check(rows: list[dict], total: int) -> None:
    ids = [r["id"] for r in rows]
    assert sorted(ids) == list(range(total)), "every record exactly once"
    by_key: dict[str, list[int]] = {}
    for row in rows:
        by_key.setdefault(row["key"], []).append(row["n"])
    for key, ns in by_key.items():
        assert ns == sorted(ns), f"records of partition key {key} out of order"


@pytest.mark.slow
def test_split_and_merge_mid_stream_on_kinesalite(kinesalite: KinesisServer, tmp_path) -> None:
    stream = kinesalite.create_stream(2)
    client = kinesalite.client()
    writer = Writer(kinesalite, stream)
    writer.put(400)
    reader = Reader(tmp_path, kinesalite, stream)
    wait_until(lambda: reader.row_count() >= 50, 30, "the first 50 records read")
    client.split_shard(StreamName=stream, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**126))
    wait_active(client, stream)
    writer.put(300)
    client.merge_shards(
        StreamName=stream, ShardToMerge="shardId-000000000002", AdjacentShardToMerge="shardId-000000000003"
    )
    wait_active(client, stream)
    writer.put(300)
    rows = reader.wait_for(1000)
    _check(rows, 1000)
    finished = reader.batches[-1].position["finished"]
    assert set(finished) >= {"shardId-000000000000", "shardId-000000000002", "shardId-000000000003"}


@pytest.mark.slow
def test_update_shard_count_mid_stream_on_moto(moto_kinesis: KinesisServer, tmp_path) -> None:
    # moto keeps routing writes to the closed parent after UpdateShardCount, so here every record
    # is written first and the stream is resharded while the reader is part way through it.
    stream = moto_kinesis.create_stream(2)
    client = moto_kinesis.client()
    writer = Writer(moto_kinesis, stream)
    writer.put(600)
    reader = Reader(tmp_path, moto_kinesis, stream)
    wait_until(lambda: reader.row_count() >= 50, 30, "the first 50 records read")
    client.update_shard_count(StreamName=stream, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    wait_active(client, stream)
    rows = reader.wait_for(600)
    _check(rows, 600)
    listed = client.list_shards(StreamName=stream)["Shards"]
    children = {s["ShardId"] for s in listed if s.get("ParentShardId")}
    assert len(children) == 4
    # The parents were read to their end and their children were then taken up.
    position = reader.batches[-1].position
    assert set(position["finished"]) == {"shardId-000000000000", "shardId-000000000001"}
    assert set(reader.source.readers) == {s["ShardId"] for s in listed}
