"""Starting positions and option checking for the Kinesis source."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest

from flowsql.errors import ConfigError
from flowsql.pipeline import load_pipeline
from flowsql.produce import produce
from flowsql.sources import create_source
from tests.conftest import run_cli
from tests.kinesis.conftest import KinesisServer, write_pipeline
from tests.waiting import wait_until


def _put(server: KinesisServer, stream: str, ids: range) -> None:
    records = [json.dumps({"id": i, "key": "k", "n": i, "note": ""}).encode() for i in ids]
    assert produce(stream, records, endpoint_url=server.url).ok


def _source(tmp_path, server: KinesisServer, stream: str, extra: str):  # type: ignore[no-untyped-def]
    return create_source(load_pipeline(write_pipeline(tmp_path, stream, server.url, extra)).sources["events"])


def test_at_timestamp_starts_at_the_first_record_from_that_time(kinesalite: KinesisServer, tmp_path) -> None:
    stream = kinesalite.create_stream(2)
    _put(kinesalite, stream, range(20))
    # Not a wait for anything: the pauses put the starting time strictly between the two puts'
    # arrival timestamps (kept in milliseconds), which is what the test is about.
    time.sleep(0.05)
    start = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    _put(kinesalite, stream, range(20, 35))
    source = _source(
        tmp_path, kinesalite, stream, f", starting_position = 'AT_TIMESTAMP', starting_timestamp = '{start}'"
    )
    source.stop_when_caught_up = True
    ids = [i for b in source.read(threading.Event()) for i in b.table.column("id").to_pylist()]
    assert sorted(ids) == list(range(20, 35))


def test_latest_reads_only_what_arrives_after_the_start(kinesalite: KinesisServer, tmp_path) -> None:
    stream = kinesalite.create_stream(2)
    _put(kinesalite, stream, range(20))
    source = _source(tmp_path, kinesalite, stream, ", starting_position = 'LATEST'")
    stop = threading.Event()
    got: list[int] = []

    def read() -> None:
        for batch in source.read(stop):
            got.extend(batch.table.column("id").to_pylist())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    wait_until(lambda: source.caught_up, 10, "the source to catch up with the stream's end")
    _put(kinesalite, stream, range(20, 30))
    wait_until(lambda: len(got) >= 10, 10, "the 10 records put after the start")
    stop.set()
    thread.join(5)
    assert sorted(got) == list(range(20, 30))
    assert set(source.lag()) == {"shardId-000000000000", "shardId-000000000001"}


def test_bad_options_name_the_key(tmp_path) -> None:
    cases = {
        ", starting_position = 'AT_TIMESTAMP'": "needs starting_timestamp",
        ", records_per_call = 20000": "records_per_call is between 1 and 10000",
        ", shard_count = 2": "unknown option 'shard_count'",
    }
    for extra, message in cases.items():
        path = write_pipeline(tmp_path, "clicks", "http://127.0.0.1:9", extra)
        with pytest.raises(ConfigError) as caught:
            create_source(load_pipeline(path).sources["events"])
        assert message in str(caught.value) and "read.sql:" in str(caught.value)
    path = write_pipeline(tmp_path, "clicks", "http://127.0.0.1:9", ", starting_position = 'EARLIEST'")
    result = run_cli("validate", str(path))
    assert result.code == 2
    assert "read.sql:4:65:" in result.stderr
    assert "bad value 'EARLIEST' for option 'starting_position'" in result.stderr


def test_stream_given_by_arn(moto_kinesis: KinesisServer, tmp_path) -> None:
    stream = moto_kinesis.create_stream(2)
    _put(moto_kinesis, stream, range(25))
    arn = moto_kinesis.client().describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    source = _source(tmp_path, moto_kinesis, arn, "")
    source.stop_when_caught_up = True
    ids = sorted(i for b in source.read(threading.Event()) for i in b.table.column("id").to_pylist())
    assert ids == list(range(25))
    assert produce(arn, [b'{"id": 25}'], endpoint_url=moto_kinesis.url).ok
