"""pipelines/clickstream_to_lake.sql runs as a user runs it, against moto and an HTTP receiver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import ROOT, run_cli
from tests.delivery.conftest import download
from tests.pipeline.test_examples import generated_clicks
from tests.servers.fault_proxy import Fault, FaultProxy
from tests.servers.firehose_receiver import FirehoseReceiver, ReceiverState


@pytest.mark.slow
def test_clickstream_to_lake(tmp_path: Path, s3: Any, bucket: str, s3_proxy: FaultProxy) -> None:
    s3_proxy.add(
        Fault(
            lambda m, p, h, b: m == "PUT",
            status=503,
            body=b"<Error><Code>SlowDown</Code><Message>slow down</Message></Error>",
            times=2,
        )
    )
    state = ReceiverState(
        access_key="collector-key",
        common_attributes={"pipeline": "clickstream_to_lake"},
        gzip=True,
        fail_statuses=[502],
    )
    with FirehoseReceiver(state) as receiver:
        result = run_cli(
            "run",
            str(ROOT / "pipelines" / "clickstream_to_lake.sql"),
            "--state-dir",
            str(tmp_path),
            cwd=tmp_path,
            env={
                "LAKE_BUCKET": bucket,
                "AWS_ENDPOINT_URL": s3_proxy.url,
                "ENDPOINT_URL": receiver.url,
                "ENDPOINT_ACCESS_KEY": "collector-key",
            },
        )
    assert result.code == 0, result.stderr
    assert "100,000 events" in result.stderr and "collector-key" not in result.stderr
    assert state.violations == [] and not state.fail_statuses

    con = duckdb.connect()
    con.register("clicks", generated_clicks(100_000, seed=11))
    keys = download(s3, bucket, tmp_path / "got")
    assert all(k.startswith("clickstream/raw/event_type=") and "/dt=2024-01-01/" in k for k in keys)
    lake = tmp_path / "got" / "clickstream" / "raw"
    written = con.sql(f"""SELECT event_type, dt::VARCHAR, count(*), count(DISTINCT event_id), sum(price)
        FROM read_parquet('{lake}/**/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL""").fetchall()
    expected = con.sql("""SELECT event_type, '2024-01-01', count(*), count(*), sum(price)
        FROM clicks GROUP BY ALL ORDER BY ALL""").fetchall()
    assert [r[:4] for r in written] == [r[:4] for r in expected]
    assert all(abs(a[4] - b[4]) < 1e-6 for a, b in zip(written, expected, strict=True))

    got = sorted((r["window_start"], r["event_type"], r["events"], r["users"], r["revenue"]) for r in receiver.rows())  # type: ignore[misc]
    minutes = con.sql("""SELECT strftime(time_bucket(INTERVAL 1 MINUTE, ts), '%Y-%m-%d %H:%M:%S'), event_type,
            count(*), count(DISTINCT user_id), round(sum(price) FILTER (WHERE event_type = 'purchase'), 2)
        FROM clicks GROUP BY ALL ORDER BY ALL""").fetchall()
    assert got == [tuple(m) for m in minutes]
