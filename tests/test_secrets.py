"""Secrets never show: option values of secret keys, values from the environment, URL passwords
and query tokens stay out of stderr, JSON logs, summaries (text and --summary-json) and explain."""

from __future__ import annotations

import json
from pathlib import Path

from flowsql.secrets import REDACTED, is_secret_key, redact_line, redact_option, redact_url, scrub, secret_values
from tests.conftest import run_cli
from tests.servers.firehose_receiver import FirehoseReceiver, ReceiverState

ACCESS_KEY = "flowsql-test-access-key-4f1c"
URL_TOKEN = "flowsql-url-token-99a7"


def test_secret_keys_and_url_parts_are_redacted() -> None:
    assert is_secret_key("access_key") and is_secret_key("AWS_SECRET_ACCESS_KEY") and is_secret_key("api_token")
    assert not is_secret_key("partition_key") and not is_secret_key("explicit_hash_key")
    assert redact_option("password", "hunter2") == REDACTED
    assert redact_option("url", "https://u:pw@h/x?sig=abc&a=1") == f"https://u:{REDACTED}@h/x?sig={REDACTED}&a=1"
    assert (
        redact_url("https://h/o?X-Amz-Signature=f00&X-Amz-Date=1")
        == f"https://h/o?X-Amz-Signature={REDACTED}&X-Amz-Date=1"
    )
    original = "  access_key = 'AKIA1234567890', bad = 1"
    line, column = redact_line(original, original.index("bad") + 1)
    assert "AKIA1234567890" not in line and line[column - 1 :].startswith("bad")
    secrets = secret_values([("access_key", "abcd1234"), ("url", "http://h/?token=tok-55")])
    assert scrub("the server said: abcd1234 / tok-55", secrets) == f"the server said: {REDACTED} / {REDACTED}"


def write_pipeline(tmp_path: Path, url: str) -> Path:
    data = tmp_path / "events.ndjson"
    data.write_text("".join(f'{{"id": {i}, "ts": "2024-01-01T00:00:0{i}"}}\n' for i in range(5)))
    path = tmp_path / "p.sql"
    path.write_text(f"""CREATE SOURCE events (id BIGINT, ts TIMESTAMP) WITH (connector = 'file', path = '{data}');
CREATE SINK out WITH (connector = 'http', url = '{url}?token={URL_TOKEN}',
    access_key = '${{FLOWSQL_TEST_KEY}}', buffer_interval = '0 s', backup_path = '{tmp_path / "backup"}');
INSERT INTO out SELECT id FROM events;
""")
    return path


def test_secrets_stay_out_of_every_output(tmp_path: Path) -> None:
    env = {"FLOWSQL_TEST_KEY": ACCESS_KEY}
    with FirehoseReceiver(ReceiverState(access_key=ACCESS_KEY)) as receiver:
        path = write_pipeline(tmp_path, receiver.url)
        outputs = []
        for log_format in ("text", "json"):
            summary = tmp_path / f"summary-{log_format}.json"
            result = run_cli(
                "run", str(path), "--no-checkpoint", "--log-format", log_format, "--summary-json", str(summary), env=env
            )
            assert result.code == 0, result.stderr
            outputs += [result.stderr, result.stdout, summary.read_text()]
            json.loads(summary.read_text())
        assert sorted(r["id"] for r in receiver.rows()) == list(range(5))  # delivered with the key it wants
        assert not receiver.state.violations
        explain = run_cli("explain", str(path), env=env)
        assert explain.code == 0, explain.stderr
        outputs += [explain.stdout, explain.stderr]
    assert "out:" in explain.stdout
    for text in outputs:
        assert ACCESS_KEY not in text and URL_TOKEN not in text


def test_a_config_error_on_a_secret_line_hides_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "p.sql"
    path.write_text(
        "CREATE SOURCE s (a VARCHAR) WITH (connector = 'stdin');\n"
        "CREATE SINK out WITH (connector = 'stdout', secret_key = 'S3cr3tValue!!', formt = 'json');\n"
        "INSERT INTO out SELECT a FROM s;\n"
    )
    result = run_cli("validate", str(path))
    assert result.code == 2 and "S3cr3tValue!!" not in result.stderr
    assert "p.sql:2:" in result.stderr and REDACTED in result.stderr


def test_an_endpoint_echoing_the_key_never_puts_it_in_logs_or_the_error_output(tmp_path: Path) -> None:
    """The endpoint answers 429 and 500 with the access key in its error body: the retry lines,
    the failure line, the summary and the error output's errorMessage all carry [REDACTED]."""
    from tests.servers.fault_proxy import Fault, FaultProxy

    echo = json.dumps({"errorMessage": f"access key {ACCESS_KEY} is not allowed here"}).encode()
    data = tmp_path / "events.ndjson"
    data.write_text("".join(f'{{"id": {i}}}\n' for i in range(3)))
    with FirehoseReceiver(ReceiverState(access_key=ACCESS_KEY)) as receiver, FaultProxy(receiver.url) as proxy:
        outputs = []
        for log_format in ("text", "json"):
            proxy.clear()
            proxy.add(Fault(status=429, body=echo, times=2))
            proxy.add(Fault(status=500, body=echo, times=None))
            backup = tmp_path / f"backup-{log_format}"
            path = tmp_path / f"{log_format}.sql"
            path.write_text(f"""CREATE SOURCE events (id BIGINT) WITH (connector = 'file', path = '{data}');
CREATE SINK out WITH (connector = 'http', url = '{proxy.url}/ingest', access_key_env = 'FLOWSQL_TEST_KEY',
    buffer_interval = '0 s', retry_duration = '500 ms', retry_base_delay = '10 ms', retry_max_delay = '50 ms',
    backup_path = '{backup}');
INSERT INTO out SELECT id FROM events;
""")
            summary = tmp_path / f"summary-{log_format}.json"
            result = run_cli(
                "run",
                str(path),
                "--no-checkpoint",
                "--log-format",
                log_format,
                "--summary-json",
                str(summary),
                env={"FLOWSQL_TEST_KEY": ACCESS_KEY},
            )
            assert result.code == 0, result.stderr
            assert "HTTP 429" in result.stderr and "HTTP 500" in result.stderr and REDACTED in result.stderr
            failed = [json.loads(line) for f in backup.rglob("*.json") for line in f.read_text().splitlines()]
            assert len(failed) == 3 and all(f"access key {REDACTED}" in r["errorMessage"] for r in failed)
            outputs += [result.stderr, result.stdout, summary.read_text()]
            outputs += [f.read_text() for f in backup.rglob("*") if f.is_file()]
    for text in outputs:
        assert ACCESS_KEY not in text
