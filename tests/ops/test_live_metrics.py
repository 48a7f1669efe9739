"""What /metrics and the status lines say while destinations fail, with the faults injected on
the wire: a Firehose endpoint answering 500/429, S3 behind a fault proxy answering SlowDown and
InternalError. (A throttled Kinesis source: tests/kinesis/test_shard_metrics.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from tests.ops.helpers import RunningPipeline, scrape, wait_for
from tests.servers.fault_proxy import Fault, FaultProxy
from tests.servers.firehose_receiver import FirehoseReceiver, ReceiverState

SOURCE = """CREATE SOURCE events (id BIGINT) WITH (connector = 'file', path = '{data}', follow = {follow},
    poll_interval = '50 ms');
"""
HTTP_SINK = """CREATE SINK hook WITH (connector = 'http', url = '{url}', buffer_interval = '0 s',
    retry_base_delay = '10 ms', retry_max_delay = '{max_delay}', retry_duration = '{duration}',
    backup_path = '{backup}');
INSERT INTO hook SELECT id FROM events;
"""
SLOW_DOWN = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
INTERNAL_ERROR = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"


def append(path: Path, ids: range) -> None:
    with path.open("a") as out:
        out.write("".join(json.dumps({"id": i}) + "\n" for i in ids))


def http_pipeline(tmp_path: Path, url: str, follow: bool, duration: str, max_delay: str = "50 ms") -> Path:
    data = tmp_path / "events.ndjson"
    data.touch()
    path = tmp_path / "http.sql"
    path.write_text(
        SOURCE.format(data=data, follow=str(follow).lower())
        + HTTP_SINK.format(url=url, backup=tmp_path / "backup", duration=duration, max_delay=max_delay)
    )
    return path


def test_http_retries_throttles_and_failures_move_on_metrics(tmp_path: Path) -> None:
    state = ReceiverState(fail_statuses=[500, 429, 429, 500])
    with FirehoseReceiver(state) as receiver:
        path = http_pipeline(tmp_path, receiver.url, follow=True, duration="1 s")
        data = tmp_path / "events.ndjson"
        with RunningPipeline(path, "--no-checkpoint", "--status-interval", "0") as run:
            append(data, range(5))
            wait_for(lambda: run.figure("flowsql_sink_rows_total", sink="hook") == 5, what="5 rows delivered")
            assert run.figure("flowsql_sink_retries_total", sink="hook") == 4
            assert run.figure("flowsql_sink_throttles_total", sink="hook") == 2  # the two 429s
            assert run.figure("flowsql_sink_failures_total", sink="hook") == 0
            with receiver.lock:
                state.fail_statuses = [500] * 100_000  # down for longer than retry_duration
            append(data, range(5, 8))
            # The failure is counted as it happens; the error records once the backup holds them.
            wait_for(lambda: run.figure("flowsql_sink_error_records_total", sink="hook") == 3, what="error records")
            assert run.figure("flowsql_sink_failures_total", sink="hook") == 1
            assert run.figure("flowsql_sink_retries_total", sink="hook") > 4
            code, stderr = run.stop()
    assert code == 0, stderr
    failed = [json.loads(line) for f in (tmp_path / "backup").rglob("*.json") for line in f.read_text().splitlines()]
    assert len(failed) == 3 and {r["errorCode"] for r in failed} == {"http-endpoint-failed"}
    assert "HTTP 429" in stderr and "throttled" in stderr and "delivery failed" in stderr


def test_s3_retries_and_throttles_move_on_metrics(tmp_path: Path, moto_endpoint: str) -> None:
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(Bucket="live-metrics")
    data = tmp_path / "events.ndjson"
    data.touch()
    path = tmp_path / "s3.sql"
    with FaultProxy(moto_endpoint) as proxy:
        path.write_text(
            SOURCE.format(data=data, follow="true")
            + f"""
CREATE SINK lake WITH (connector = 's3', bucket = 'live-metrics', endpoint_url = '{proxy.url}', format = 'json',
    buffer_interval = '0 s', retry_base_delay = '10 ms', retry_max_delay = '50 ms', retry_duration = '1 s');
INSERT INTO lake SELECT id FROM events;
"""
        )

        def is_put(method: str, request_path: str, headers: dict[str, str], body: bytes) -> bool:
            return method == "PUT" and request_path.startswith("/live-metrics/")

        slow_down = proxy.add(Fault(is_put, status=503, body=SLOW_DOWN, times=2))
        internal = proxy.add(Fault(is_put, status=500, body=INTERNAL_ERROR, times=1))
        with RunningPipeline(path, "--no-checkpoint", "--status-interval", "0", "--log-format", "json") as run:
            append(data, range(5))
            wait_for(lambda: run.figure("flowsql_sink_rows_total", sink="lake") == 5, what="5 rows delivered")
            assert (slow_down.fired, internal.fired) == (2, 1)
            assert run.figure("flowsql_sink_retries_total", sink="lake") == 3
            assert run.figure("flowsql_sink_throttles_total", sink="lake") == 2
            assert run.figure("flowsql_sink_failures_total", sink="lake") == 0
            # Down past retry_duration: the object cannot be written, so the run stops with the error.
            proxy.add(Fault(is_put, status=500, body=INTERNAL_ERROR, times=None))
            append(data, range(5, 8))
            code, stderr = run.wait()
    assert code == 1
    entries = [json.loads(line) for line in stderr.splitlines()]
    kinds = [e.get("event") for e in entries]
    assert kinds.count("sink_throttle") >= 2 and "sink_retry" in kinds and "sink_failure" in kinds
    assert "InternalError" in next(e for e in entries if e.get("event") == "sink_failure")["message"]


def test_metrics_and_status_stay_live_while_the_destination_is_down(tmp_path: Path) -> None:
    state = ReceiverState(fail_statuses=[503] * 100_000)
    with FirehoseReceiver(state) as receiver:
        path = http_pipeline(tmp_path, receiver.url, follow=False, duration="120 s", max_delay="100 ms")
        append(tmp_path / "events.ndjson", range(4))
        with RunningPipeline(path, "--no-checkpoint", "--status-interval", "0.3", "--log-format", "json") as run:
            text, _ = scrape(run.port)
            assert "flowsql_uptime_seconds" in text  # never an empty body, even before the first sample
            wait_for(lambda: run.figure("flowsql_sink_retries_total", sink="hook") >= 3, what="retries")
            before = run.samples()
            uptime = before[("flowsql_uptime_seconds", frozenset())]
            retries = before[("flowsql_sink_retries_total", frozenset({("sink", "hook")}))]
            # The first flush is blocked in its retries: the figures still move. The outage lasts
            # five status intervals from here, so that several status lines fall inside it
            # whenever the status thread started.
            wait_for(
                lambda: (
                    run.figure("flowsql_uptime_seconds") > uptime + 1.5
                    and run.figure("flowsql_sink_retries_total", sink="hook") > retries
                ),
                what="figures moving",
            )
            assert run.figure("flowsql_sink_rows_total", sink="hook") == 0
            assert run.figure("flowsql_events_in_total", source="events") == 4
            with receiver.lock:
                state.fail_statuses = []
            code, stderr = run.wait()
    assert code == 0, stderr
    assert sorted(r["id"] for r in receiver.rows()) == [0, 1, 2, 3]
    entries = [json.loads(line) for line in stderr.splitlines()]
    down = [e["status"] for e in entries if e.get("event") == "status" and e["status"]["sinks"][0]["rows"] == 0]
    # Status lines kept coming while the destination was down, their figures never going back
    # (that the figures move is checked on /metrics above: on a loaded machine two lines can
    # show the same sample).
    assert len(down) >= 2
    assert [s["uptime_seconds"] for s in down] == sorted(s["uptime_seconds"] for s in down)
    assert down[-1]["sinks"][0]["retries"] >= down[0]["sinks"][0]["retries"]
    assert down[-1]["sinks"][0]["retries"] > 0
