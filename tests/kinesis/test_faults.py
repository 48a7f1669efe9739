"""Faults on the wire, injected by a proxy: throttling, 5xx, dropped connections, expired
iterators and partly failed PutRecords calls. Nothing is lost and nothing is doubled."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from flowsql.pipeline import load_pipeline
from flowsql.produce import produce
from flowsql.sources import create_source
from tests.conftest import run_cli
from tests.kinesis.conftest import KinesisServer, on_both_moto_slow, read_json_rows, write_pipeline
from tests.servers.fault_proxy import Fault, FaultProxy, target_is
from tests.waiting import wait_until

JSON = {"Content-Type": "application/x-amz-json-1.1"}


def kinesis_error(code: str, status: int = 400) -> Fault:
    body = json.dumps({"__type": code, "message": "injected"}).encode()
    return Fault(
        match=target_is("GetRecords"), status=status, body=body, headers={**JSON, "x-amzn-ErrorType": code}, times=None
    )


def _records(ids: range) -> list[bytes]:
    return [json.dumps({"id": i, "key": f"k{i % 9}", "n": i, "note": "x"}).encode() for i in ids]


@pytest.mark.slow
def test_reads_through_throttling_5xx_resets_timeouts_and_expired_iterators(kinesis: KinesisServer, tmp_path) -> None:
    stream = kinesis.create_stream(2)
    assert produce(stream, _records(range(400)), partition_key_field="key", endpoint_url=kinesis.url).ok
    with FaultProxy(kinesis.url) as proxy:
        throttled = proxy.add(kinesis_error("ProvisionedThroughputExceededException"))
        throttled.times = 6
        limited = proxy.add(kinesis_error("LimitExceededException"))
        limited.times = 2
        unwell = proxy.add(kinesis_error("InternalFailure", status=500))
        unwell.times = 3
        expired = proxy.add(kinesis_error("ExpiredIteratorException"))
        expired.times = 2
        reset = proxy.add(Fault(match=target_is("GetRecords"), reset=True, times=2))
        listing = proxy.add(Fault(match=target_is("ListShards"), status=503, body=b"{}", headers=JSON, times=1))
        slow = proxy.add(Fault(match=target_is("GetRecords"), delay=2.0, times=2))  # past the read timeout
        pipeline = write_pipeline(
            tmp_path, stream, proxy.url, extra=", records_per_call = 50, request_timeout = '500 ms'"
        )
        result = run_cli("run", str(pipeline), "--until-caught-up", timeout=90)
    assert result.code == 0, result.stderr
    for fault in (throttled, limited, unwell, expired, reset, listing, slow):
        assert fault.fired == fault.times
    ids = [row["id"] for row in read_json_rows(tmp_path / "lake" / "rows")]
    assert sorted(ids) == list(range(400))


@pytest.mark.slow
def test_a_shard_that_keeps_failing_ends_the_run_with_a_clear_error(moto_kinesis: KinesisServer, tmp_path) -> None:
    stream = moto_kinesis.create_stream(1)
    with FaultProxy(moto_kinesis.url) as proxy:
        proxy.add(kinesis_error("ProvisionedThroughputExceededException"))
        pipeline = write_pipeline(tmp_path, stream, proxy.url, extra=", retry_timeout = '1 s'")
        result = run_cli("run", str(pipeline), "--until-caught-up", timeout=60)
    assert result.code == 1
    assert "still failing after 1 s" in result.stderr and "ProvisionedThroughputExceededException" in result.stderr


def _all_ids(server: KinesisServer, stream: str) -> list[int]:
    decl = load_pipeline(write_pipeline_for(server, stream)).sources["events"]
    source = create_source(decl)
    source.stop_when_caught_up = True
    return [i for b in source.read(threading.Event()) for i in b.table.column("id").to_pylist()]


def write_pipeline_for(server: KinesisServer, stream: str):  # type: ignore[no-untyped-def]
    import tempfile
    from pathlib import Path

    return write_pipeline(Path(tempfile.mkdtemp()), stream, server.url)


@on_both_moto_slow
def test_producer_retries_only_the_failed_entries(kinesis: KinesisServer) -> None:
    stream = kinesis.create_stream(2)
    attempts: dict[int, int] = {}
    lock = threading.Lock()

    def fail_some(index: int, entry: dict) -> bool:
        record_id = json.loads(base64.b64decode(entry["Data"]))["id"]
        with lock:
            attempts[record_id] = attempts.get(record_id, 0) + 1
            # Every third record fails twice, every seventh once: a subset of each call.
            limit = 2 if record_id % 3 == 0 else 1 if record_id % 7 == 0 else 0
            return attempts[record_id] <= limit

    with FaultProxy(kinesis.url) as proxy:
        fault = proxy.add(Fault(match=target_is("PutRecords"), fail_entries=fail_some, times=None))
        report = produce(
            stream, _records(range(1200)), partition_key_field="key", endpoint_url=proxy.url, backoff_cap=0.05
        )
    assert report.ok and report.put == 1200
    assert fault.fired >= 3 + 2  # three batches of 500/500/200, then the retries
    expected_retries = sum(2 if i % 3 == 0 else 1 if i % 7 == 0 else 0 for i in range(1200))
    assert report.retried_entries == expected_retries
    ids = _all_ids(kinesis, stream)
    assert sorted(ids) == list(range(1200)), "every record in the stream exactly once"


def test_produce_cli_reports_what_did_not_go_in(moto_kinesis: KinesisServer, tmp_path) -> None:
    stream = moto_kinesis.create_stream(1)
    lines = _records(range(20))
    lines.insert(5, json.dumps({"id": 99, "key": "k", "note": "x" * (1024 * 1024)}).encode())  # over 1 MiB
    lines.insert(8, b'{"id": 98}')  # no partition key field
    source = tmp_path / "in.ndjson"
    source.write_bytes(b"\n".join(lines) + b"\n")
    with FaultProxy(moto_kinesis.url) as proxy:
        # Record with id 4 never goes in: its entry fails every time.
        proxy.add(
            Fault(
                match=target_is("PutRecords"),
                times=None,
                fail_entries=lambda i, e: json.loads(base64.b64decode(e["Data"]))["id"] == 4,
            )
        )
        result = run_cli(
            "produce",
            stream,
            str(source),
            "--partition-key-field",
            "key",
            "--endpoint-url",
            proxy.url,
            "--max-attempts",
            "3",
            timeout=60,
        )
    assert result.code == 1
    assert "record 6 skipped: record of 1,048,6" in result.stderr
    assert "record 9 skipped: no field 'key'" in result.stderr
    assert "record 5 failed: not accepted after 3 attempts: ProvisionedThroughputExceededException" in result.stderr
    assert "19 records put" in result.stderr
    ids = _all_ids(moto_kinesis, stream)
    assert sorted(ids) == [i for i in range(20) if i != 4]


def test_produce_cli_reads_standard_input(kinesalite: KinesisServer) -> None:
    stream = kinesalite.create_stream(1)
    data = b"\n".join(_records(range(30))) + b"\n"
    # The endpoint from the standard AWS setting, as a user pointing at a local server would.
    result = run_cli("produce", stream, "-", stdin=data, env={"AWS_ENDPOINT_URL_KINESIS": kinesalite.url}, timeout=60)
    assert result.code == 0, result.stderr
    assert "30 records put" in result.stderr
    assert sorted(_all_ids(kinesalite, stream)) == list(range(30))


@pytest.mark.slow
def test_a_throttled_shard_does_not_hold_up_the_others(moto_kinesis: KinesisServer, tmp_path) -> None:
    stream = moto_kinesis.create_stream(2)
    client = moto_kinesis.client()
    for i in range(60):  # explicit hash keys put 30 records in each shard
        client.put_record(
            StreamName=stream,
            Data=json.dumps({"id": i, "key": "k", "n": i, "note": ""}).encode(),
            PartitionKey="k",
            ExplicitHashKey="0" if i % 2 else str(2**127 + 1),
        )
    owner = {i: ("shardId-000000000000" if i % 2 else "shardId-000000000001") for i in range(60)}

    def shard_zero(method: str, path: str, headers: dict, body: bytes) -> bool:
        if not headers.get("X-Amz-Target", "").endswith(".GetRecords"):
            return False
        # moto's iterators are base64 of "stream:shard:sequence".
        return b":shardId-000000000000:" in base64.b64decode(json.loads(body)["ShardIterator"])

    throttle = json.dumps({"__type": "ProvisionedThroughputExceededException", "message": "injected"}).encode()
    with FaultProxy(moto_kinesis.url) as proxy:
        proxy.add(
            Fault(
                match=shard_zero,
                status=400,
                body=throttle,
                times=None,
                headers={**JSON, "x-amzn-ErrorType": "ProvisionedThroughputExceededException"},
            )
        )
        decl = load_pipeline(write_pipeline(tmp_path, stream, proxy.url)).sources["events"]
        source = create_source(decl)
        stop = threading.Event()
        got: list[int] = []
        reader = threading.Thread(
            target=lambda: got.extend(i for b in source.read(stop) for i in b.table.column("id").to_pylist()),
            daemon=True,
        )
        reader.start()
        wait_until(lambda: len(got) >= 30, 20, "shard 1's 30 records")
        # While shard 0 is refused every time, shard 1 has been read through.
        assert sorted(got) == [i for i in range(60) if owner[i] == "shardId-000000000001"]
        proxy.clear()
        wait_until(lambda: len(got) >= 60, 20, "all 60 records once shard 0 is let through")
        stop.set()
        reader.join(5)
    assert sorted(got) == list(range(60))
