"""Records/s read from a local kinesalite stream: flowsql's Kinesis source against a bare
boto3 GetRecords loop over the same stream, printed with their ratio.

    python benchmarks/kinesis_read.py [--records 40000] [--shards 2]

The source decodes every record into Arrow rows (with its arrival time); the bare loop only
fetches. Both run with no pause between calls, as a local server has no per-shard limits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3

from benchmarks.figures import Figure, not_measured, rate, ratio
from flowsql.pipeline import load_pipeline
from flowsql.produce import produce
from flowsql.sources import create_source
from tests.servers.kinesalite import kinesalite_server

PIPELINE = """
CREATE SOURCE events (id BIGINT, user_id VARCHAR, page VARCHAR, price DOUBLE)
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{url}', region = 'us-east-1',
      get_records_interval = '0 s', idle_interval = '50 ms');
CREATE SINK out WITH (connector = 'stdout', format = 'json');
INSERT INTO out SELECT * FROM events;
"""


def bare_loop(client, stream: str) -> int:  # type: ignore[no-untyped-def]
    count = 0
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = client.get_records(ShardIterator=iterator, Limit=10_000)
            count += len(answer["Records"])
            if not answer["Records"] and not answer.get("MillisBehindLatest"):
                break
            iterator = answer.get("NextShardIterator")
    return count


def flowsql_read(url: str, stream: str) -> int:
    folder = Path(tempfile.mkdtemp())
    (folder / "bench.sql").write_text(PIPELINE.format(stream=stream, url=url))
    source = create_source(load_pipeline(folder / "bench.sql").sources["events"])
    source.stop_when_caught_up = True
    return sum(batch.table.num_rows for batch in source.read(threading.Event()))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with kinesalite_server() as url:
        client = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1")
        stream = "bench"
        client.create_stream(StreamName=stream, ShardCount=args.shards)
        while client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
            time.sleep(0.05)
        records = (
            json.dumps(
                {"id": i, "user_id": f"u{i % 977}", "page": f"/p/{i % 31}", "price": round(i * 0.01, 2)}
            ).encode()
            for i in range(args.records)
        )
        report = produce(stream, records, endpoint_url=url)
        assert report.ok and report.put == args.records
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, run in (
                ("bare boto3 GetRecords loop", lambda: bare_loop(client, stream)),
                ("flowsql kinesis source", lambda: flowsql_read(url, stream)),
            ):
                started = time.perf_counter()
                count = run()
                elapsed = time.perf_counter() - started
                assert count == args.records, (name, count)
                measured = rate(count, elapsed, "records")
                if measured.value is not None:
                    best[name] = max(best.get(name, 0.0), measured.value)
    figures = {
        name: Figure(best[name]) if name in best else not_measured("no round ran long enough to time")
        for name in ("bare boto3 GetRecords loop", "flowsql kinesis source")
    }
    baseline, ours = figures["bare boto3 GetRecords loop"], figures["flowsql kinesis source"]
    print(f"records: {args.records:,} in {args.shards} shards on kinesalite (best of {args.rounds})")
    print(f"bare boto3 GetRecords loop: {baseline.show('{:,.0f} records/s')}")
    print(f"flowsql kinesis source:     {ours.show('{:,.0f} records/s')} (decoded to Arrow, arrival time per row)")
    print(f"ratio flowsql/bare: {ratio(ours, baseline).show('{:.2f}')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
