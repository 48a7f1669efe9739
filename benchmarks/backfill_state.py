"""Peak window state during a backfill of Kinesis shards of unequal size, with and without
alignment (a shard more than max_drift ahead of the slowest is paused).

    python benchmarks/backfill_state.py [--records 40000] [--drift '2 minutes']

The stream (kinesalite) has four shards holding 70%, 22%, 6% and 2% of the records over the same
span of event time; it is read from TRIM_HORIZON with a 1-minute tumbling window of median(id) (an
aggregate that keeps the window's raw rows), and the engine's open window rows are sampled after
every micro-batch. Not a timed test: it prints what it saw.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import boto3

from flowsql.pipeline import load_pipeline
from flowsql.runner import PipelineRun
from tests.kinesis.conftest import wait_active
from tests.kinesis.shard_lanes import LaneWriter, lanes_of
from tests.servers.kinesalite import kinesalite_server

WEIGHTS = [0.70, 0.22, 0.06, 0.02]
PIPELINE = """
CREATE SOURCE events (id BIGINT, key VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5 seconds')
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{url}', region = 'us-east-1',
      records_per_call = 500, get_records_interval = '0 s', idle_interval = '50 ms', idle_timeout = '2 s',
      max_drift = '{drift}');
CREATE SINK out WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
INSERT INTO out SELECT window_start, median(id) AS mid FROM TUMBLE(events, ts, INTERVAL '1 minute') GROUP BY ALL;
"""


class PeakRun(PipelineRun):
    """A run that notes the most rows its open windows held after any micro-batch."""

    peak = 0

    def _process(self, batch):  # type: ignore[no-untyped-def]
        super()._process(batch)
        self.peak = max(self.peak, self.engine.buffered_rows())


def backfill(url: str, stream: str, drift: str) -> tuple[int, int, int]:
    folder = Path(tempfile.mkdtemp())
    path = folder / "backfill.sql"
    path.write_text(PIPELINE.format(stream=stream, url=url, drift=drift, out=folder / "out"))
    run = PeakRun(load_pipeline(path))
    summary = run.run(threading.Event(), until_caught_up=True)
    return run.peak, summary.events, summary.late


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--drift", default="2 minutes", help="max_drift with alignment on")
    args = parser.parse_args()
    os.environ.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"})
    with kinesalite_server() as url:
        client = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1")
        client.create_stream(StreamName="backfill", ShardCount=4)
        wait_active(client, "backfill")
        writer = LaneWriter(client, "backfill", lanes_of(client, "backfill"), WEIGHTS)
        writer.put(args.records, call_size=500, pace=0.0)
        sizes = ", ".join(f"{writer.per_shard[k]:,}" for k in sorted(writer.per_shard))
        span = writer.event_time(args.records - 1) - writer.event_time(0)
        print(f"{args.records:,} records over {span} of event time; shards hold {sizes}")
        for label, drift in ((f"alignment, max_drift {args.drift}", args.drift), ("no alignment", "0 s")):
            peak, events, late = backfill(url, "backfill", drift)
            print(f"{label:<32} peak open window rows {peak:>8,}  ({events:,} events, {late:,} late)")


if __name__ == "__main__":
    main()
