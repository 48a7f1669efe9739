"""While S3 is down the sink's flush keeps retrying, the runner's bounded queue fills and the
source stops being read; when S3 comes back every record arrives, once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flowsql.pipeline.parser import load_pipeline
from flowsql.runner import PipelineRun, RunSummary
from tests.delivery.conftest import clicks_source, download
from tests.servers.fault_proxy import Fault, FaultProxy
from tests.waiting import wait_until


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    wait_until(condition, timeout, "the condition")


@pytest.mark.slow
def test_an_outage_slows_the_source_and_loses_nothing(
    tmp_path: Path, s3: Any, bucket: str, s3_proxy: FaultProxy
) -> None:
    outage = s3_proxy.add(
        Fault(
            lambda m, p, h, b: m == "PUT",
            status=503,
            times=None,
            body=b"<Error><Code>ServiceUnavailable</Code></Error>",
        )
    )
    path = tmp_path / "outage.sql"
    path.write_text(
        clicks_source(200_000, batch_size=2_000)
        + f"""
CREATE SINK raw WITH (connector = 's3', bucket = '{bucket}', endpoint_url = '{s3_proxy.url}', prefix = 'raw/',
    buffer_size = '200 KB', retry_duration = '2 min', retry_base_delay = '20 ms', retry_max_delay = '100 ms');
INSERT INTO raw SELECT event_id FROM clicks;
"""
    )
    run = PipelineRun(load_pipeline(path))
    source = run.sources["clicks"]
    produced = [0]
    read = source.read

    def counted(stop: threading.Event) -> Iterator[Any]:  # observes how far the reader got
        for batch in read(stop):
            produced[0] += 1
            yield batch

    source.read = counted  # type: ignore[method-assign]
    results: list[RunSummary] = []
    worker = threading.Thread(target=lambda: results.append(run.run()), daemon=True)
    worker.start()
    wait_for(lambda: outage.fired >= 3)
    # The reader has stopped once it has not moved over five failed flushes; that it stays
    # stopped is shown over ten more (the flush retries every 20-100 ms), counted, not timed.
    seen = {"fired": outage.fired, "produced": produced[0]}

    def reader_stopped() -> bool:
        if produced[0] != seen["produced"]:
            seen.update(fired=outage.fired, produced=produced[0])
            return False
        return outage.fired - seen["fired"] >= 5

    wait_for(reader_stopped)
    stalled_at, fired = produced[0], outage.fired
    wait_for(lambda: outage.fired >= fired + 10)
    # The reader is blocked on the full queue: a few batches ahead of the engine, no more.
    assert produced[0] == stalled_at and stalled_at < 200_000 // 2_000 // 2
    assert outage.fired > 5  # the flush kept retrying meanwhile
    outage.times = outage.fired  # S3 is back
    worker.join(120)
    assert results, "the run did not finish"
    assert produced[0] == 100 and results[0].sinks["raw"]["rows"] == 200_000

    download(s3, bucket, tmp_path / "got")
    ((count, distinct),) = (
        duckdb.connect()
        .sql(f"SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{tmp_path}/got/raw/*.parquet')")
        .fetchall()
    )
    assert count == distinct == 200_000
