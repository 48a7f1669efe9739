"""A Kinesis source's figures on /metrics and in the status lines: records, lag and watermark
per shard, and reads refused for throughput (injected on the wire by a fault proxy)."""

from __future__ import annotations

import json
from pathlib import Path

from flowsql.produce import produce
from tests.kinesis.conftest import KinesisServer
from tests.ops.helpers import RunningPipeline, wait_for
from tests.servers.fault_proxy import Fault, FaultProxy, target_is


def test_kinesis_source_reports_per_shard_events_lag_watermarks_and_throttles(
    tmp_path: Path, kinesalite_endpoint: str
) -> None:
    server = KinesisServer("kinesalite", kinesalite_endpoint)
    stream = server.create_stream(2)
    records = [json.dumps({"id": i, "ts": f"2024-05-01 12:00:{i % 60:02d}"}).encode() for i in range(60)]
    assert produce(stream, records, endpoint_url=kinesalite_endpoint).ok
    with FaultProxy(kinesalite_endpoint) as proxy:
        body = json.dumps({"__type": "ProvisionedThroughputExceededException", "message": "injected"}).encode()
        throttled = proxy.add(
            Fault(
                target_is("GetRecords"),
                status=400,
                body=body,
                times=3,
                headers={
                    "Content-Type": "application/x-amz-json-1.1",
                    "x-amzn-ErrorType": "ProvisionedThroughputExceededException",
                },
            )
        )
        path = tmp_path / "kinesis.sql"
        path.write_text(f"""
CREATE SOURCE orders (id BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 second')
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{proxy.url}', region = 'us-east-1',
      idle_interval = '100 ms', get_records_interval = '50 ms');
CREATE SINK out WITH (connector = 'file', path = '{tmp_path / "lake"}', format = 'json', buffer_interval = '0 s');
INSERT INTO out SELECT id FROM orders;
""")
        with RunningPipeline(
            path, "--no-checkpoint", "--status-interval", "0.3", "--log-format", "json", "--status-shards"
        ) as run:
            wait_for(lambda: run.figure("flowsql_events_in_total", source="orders") == 60, what="60 records read")
            samples = run.samples()
            code, stderr = run.stop()
    assert code == 0, stderr
    assert throttled.fired == 3

    def series(name: str) -> dict[str, float]:
        return {
            dict(labels)["shard"]: v
            for (metric, labels), v in samples.items()
            if metric == name and dict(labels).get("source") == "orders"
        }

    shards = {"shardId-000000000000", "shardId-000000000001"}
    events = series("flowsql_shard_events_in_total")
    assert set(events) == shards and sum(events.values()) == 60 and all(events.values())
    assert set(series("flowsql_source_lag_seconds")) == shards
    assert set(series("flowsql_shard_watermark_seconds")) == shards
    assert sum(series("flowsql_source_throttles_total").values()) == 3
    entries = [json.loads(line) for line in stderr.splitlines()]
    assert any(e.get("event") == "source_throttle" for e in entries)
    status = [e["status"]["sources"][0] for e in entries if e.get("event") == "status"]
    assert status and set(status[-1]["shard_events_per_second"]) == shards  # what the panel's shard rows show
    assert status[-1]["throttles"] == 3
