"""Log output: secrets never reach it, whatever the message, its arguments, its exception or its
structured fields carry; connectors' retry and throttle reports say what to do."""

from __future__ import annotations

import json
import logging

import pytest

from flowsql.logs import configure_logging, redact
from flowsql.metrics import DeliveryReporter, Metrics, SourceReporter

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDN8sessiontoken"


@pytest.fixture
def json_log(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    logger = configure_logging("json")

    def lines() -> list[dict[str, object]]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield logger, lines
    for handler in list(logger.handlers):
        logger.removeHandler(handler)


@pytest.mark.parametrize(
    "text",
    [
        f"using access key {ACCESS_KEY} for the bucket",
        f"aws_secret_access_key={SECRET}",
        f'{{"SecretAccessKey": "{SECRET}", "region": "eu-west-1"}}',
        f"Authorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20240101/us-east-1/s3/aws4_request, Signature=abc123",
        f"https://user:{SECRET}@example.com/path",
        f"X-Amz-Security-Token: {TOKEN}",
        "password = 'hunter2hunter2'",
    ],
)
def test_redact_removes_credentials(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    cleaned = redact(text)
    for secret in (ACCESS_KEY, SECRET, TOKEN, "hunter2hunter2", "abc123"):
        assert secret not in cleaned
    assert "[REDACTED]" in cleaned


def test_redact_keeps_ordinary_text() -> None:
    text = "sink 'lake': wrote s3://bucket/2024/01/01/part-0001.parquet (12,345 bytes)"
    assert redact(text) == text


def test_secrets_never_reach_the_log(json_log) -> None:  # type: ignore[no-untyped-def]
    logger, lines = json_log
    logger.warning("retrying with key %s and secret %s", ACCESS_KEY, f"secret_key={SECRET}")
    logger.info("environment token turned up: %s", TOKEN, extra={"endpoint": f"https://u:{SECRET}@host/"})
    try:
        raise RuntimeError(f"signature mismatch for aws_secret_access_key={SECRET}")
    except RuntimeError:
        logger.exception("delivery failed")
    entries = lines()
    assert len(entries) == 3
    text = json.dumps(entries)
    for secret in (ACCESS_KEY, SECRET, TOKEN):
        assert secret not in text
    assert entries[0]["level"] == "warning" and "[REDACTED]" in entries[0]["message"]
    assert entries[1]["endpoint"] == "https://u:[REDACTED]@host/"
    assert "RuntimeError" in entries[2]["exception"] and "[REDACTED]" in entries[2]["exception"]


def test_plain_text_format_is_redacted_too(capsys: pytest.CaptureFixture[str]) -> None:
    logger = configure_logging("text")
    try:
        logger.error("bad credentials %s", ACCESS_KEY)
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
    assert capsys.readouterr().err == "flowsql: bad credentials [REDACTED]\n"


def test_delivery_reporter_counts_and_says_what_to_do(json_log) -> None:  # type: ignore[no-untyped-def]
    _, lines = json_log
    metrics = Metrics()
    reporter = DeliveryReporter(metrics, "lake")
    reporter.retry("PUT s3://b/k: attempt 1 failed (HTTP 500)", wait_seconds=1.5, seconds_left=290.0)
    reporter.retry("PUT s3://b/k: attempt 2 failed (SlowDown)", wait_seconds=3.0, seconds_left=287.0, throttled=True)
    reporter.failure("connection refused")
    entries = lines()
    assert entries[0]["message"] == (
        "sink 'lake': PUT s3://b/k: attempt 1 failed (HTTP 500); retrying in 1.5 s (290 s of retry_duration left)"
    )
    assert entries[0]["event"] == "sink_retry"
    assert (entries[0]["wait_seconds"], entries[0]["seconds_left"]) == (1.5, 290)
    assert entries[1]["event"] == "sink_throttle" and "buffer_size" in entries[1]["message"]
    assert entries[2]["level"] == "error" and "destination is reachable" in entries[2]["message"]
    assert metrics.get("flowsql_sink_retries_total", sink="lake") == 2
    assert metrics.get("flowsql_sink_throttles_total", sink="lake") == 1
    assert metrics.get("flowsql_sink_failures_total", sink="lake") == 1


def test_source_reporter_names_the_shard_and_sums_repeated_throttles(json_log) -> None:  # type: ignore[no-untyped-def]
    _, lines = json_log
    metrics = Metrics()
    reporter = SourceReporter(metrics, "clicks", interval=3600)
    for _ in range(3):
        reporter.throttle("shardId-000000000001", wait_seconds=0.5)
    reporter.events("shardId-000000000001", 40)
    reporter.events("shardId-000000000001", 2)
    entries = lines()
    assert len(entries) == 1  # the next report waits for the interval
    assert "shard shardId-000000000001 throttled" in entries[0]["message"]
    assert "enhanced fan-out or add shards" in entries[0]["message"]
    assert metrics.get("flowsql_source_throttles_total", source="clicks", shard="shardId-000000000001") == 3
    assert metrics.get("flowsql_shard_events_in_total", source="clicks", shard="shardId-000000000001") == 42
    assert logging.getLogger("flowsql").propagate is False


def test_error_messages_on_exit_are_redacted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import run_cli

    pipeline = tmp_path / "secret.sql"
    pipeline.write_text(f"""
CREATE SOURCE clicks (n BIGINT) WITH (connector = 'file', path = '{tmp_path}/aws_secret_access_key={SECRET}');
CREATE SINK out WITH (connector = 'file', path = '{tmp_path}/lake');
INSERT INTO out SELECT n FROM clicks;
""")
    result = run_cli("run", str(pipeline))
    assert result.code == 2  # a path that matches nothing is the pipeline's error, found before reading
    assert "matches no file" in result.stderr and "aws_secret_access_key=[REDACTED]" in result.stderr
    assert SECRET not in result.stderr
    as_json = run_cli("run", str(pipeline), "--log-format", "json")
    entry = json.loads(as_json.stderr.splitlines()[-1])
    assert as_json.code == 2 and entry["level"] == "error" and entry["event"] == "error"
    assert "aws_secret_access_key=[REDACTED]" in entry["message"] and SECRET not in as_json.stderr
