"""Sources that report lag (Kinesis' MillisBehindLatest) and per-shard counts show up on the
endpoint, per shard and as the source's maximum, and follow the source as it catches up. The
Kinesis connector's own figures are tested in tests/ops/test_live_metrics.py; here a source of
the test's own implements the same interface (`lag`, and `bind_metrics` for counts)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from flowsql.metrics import Metrics, SourceReporter
from flowsql.pipeline import load_pipeline
from flowsql.records import ARRIVAL_TIME, SourceBatch
from flowsql.runner import PipelineRun
from flowsql.sources import register
from flowsql.sources.base import Source
from flowsql.status.http import MetricsServer
from tests.ops.helpers import scrape, value, wait_for
from tests.servers.ports import free_port

PIPELINE = """
CREATE SOURCE shards (n BIGINT) WITH (connector = 'test_lagging');
CREATE SINK out WITH (connector = 'file', path = '{lake}', format = 'json', buffer_interval = '0 s');
INSERT INTO out SELECT n FROM shards;
"""


@register("test_lagging")
class LaggingSource(Source):
    """Two shards; each batch the test releases moves one shard's reader closer to the tip."""

    behind = {"shard-0": 0, "shard-1": 0}
    steps: list[tuple[str, int, int]] = []  # (shard, rows, millis behind after)
    release = threading.Semaphore(0)

    def __init__(self, decl, options) -> None:  # type: ignore[no-untyped-def]
        super().__init__(decl, options)
        self.schema = pa.schema([("n", pa.int64())])
        self.reporter = SourceReporter(Metrics(), self.name)

    def bind_metrics(self, reporter: SourceReporter) -> None:
        self.reporter = reporter

    @property
    def bounded(self) -> bool:
        return False

    def lag(self) -> dict[str, int]:
        return dict(self.behind)

    def read(self, stop: threading.Event) -> Iterator[SourceBatch]:
        for shard in self.behind:
            self.reporter.events(shard, 0)
        for shard, rows, millis in self.steps:
            while not self.release.acquire(timeout=0.05):
                if stop.is_set():
                    return
            table = pa.table(
                {"n": pa.array(range(rows), pa.int64()), ARRIVAL_TIME: pa.array([0] * rows, pa.timestamp("us"))}
            )
            self.reporter.events(shard, rows)
            type(self).behind[shard] = millis
            yield SourceBatch(self.name, table, [], {shard: rows}, rows * 8)
        stop.wait()


def test_lag_gauges_follow_the_source_down_to_zero(tmp_path: Path) -> None:
    LaggingSource.behind = {"shard-0": 90_000, "shard-1": 45_000}
    LaggingSource.steps = [("shard-0", 10, 30_000), ("shard-1", 5, 0), ("shard-0", 7, 0)]
    path = tmp_path / "lag.sql"
    path.write_text(PIPELINE.format(lake=tmp_path / "lake"))
    run = PipelineRun(load_pipeline(path))
    port = free_port()
    server = MetricsServer(run.metrics, port).start()
    stop = threading.Event()
    runner = threading.Thread(target=run.run, args=(stop,))
    runner.start()
    try:

        def gauges() -> tuple[float | None, ...]:
            samples = scrape(port)[1]
            return (
                value(samples, "flowsql_source_lag_seconds", source="shards", shard="shard-0"),
                value(samples, "flowsql_source_lag_seconds", source="shards", shard="shard-1"),
                value(samples, "flowsql_source_max_lag_seconds", source="shards"),
                value(samples, "flowsql_shard_events_in_total", source="shards", shard="shard-0"),
                value(samples, "flowsql_shard_events_in_total", source="shards", shard="shard-1"),
                value(samples, "flowsql_sink_rows_total", sink="out"),
            )

        wait_for(lambda: gauges() == (90.0, 45.0, 90.0, 0.0, 0.0, 0.0), what="the starting lag")
        expected = [
            (30.0, 45.0, 45.0, 10.0, 0.0, 10.0),
            (30.0, 0.0, 30.0, 10.0, 5.0, 15.0),
            (0.0, 0.0, 0.0, 17.0, 5.0, 22.0),
        ]
        for figures in expected:
            LaggingSource.release.release()
            wait_for(lambda figures=figures: gauges() == figures, what=f"gauges {figures}")
    finally:
        stop.set()
        runner.join(10)
        server.stop()
    assert run.summary.events == 22
