"""Firehose transformation handlers on the http and stdout sinks: the endpoint receives the
handler's Ok records as they are, stdout prints them one per line, Dropped ones are counted and
ProcessingFailed ones reach the error output (the http sink's backup; stderr for stdout)."""

from __future__ import annotations

import base64
import json
import time
from collections import Counter
from pathlib import Path

from tests.conftest import run_cli
from tests.delivery.test_transform import error_documents, expected_outcome, prepare
from tests.servers.firehose_receiver import FirehoseReceiver

SOURCE = """CREATE SOURCE orders (order_id BIGINT, customer VARCHAR, country VARCHAR, amount DOUBLE, status VARCHAR,
    ts TIMESTAMP) WITH (connector = 'file', path = 'orders.ndjson', chunk_size = '16 KB');
"""
QUERY = "INSERT INTO out SELECT order_id, customer, country, amount, status, ts FROM orders;\n"
TRANSFORM = "transform = 'handlers/enrich_orders.py:lambda_handler', transform_buffer_size = '32 KB'"


def records_only(delivered: Counter[tuple[str, str]], arrival: bool = True) -> Counter[str]:
    """The expected records without the folders partition keys would put them in (and without
    their arrival time, when the sink has no time column: then it is the wall clock's)."""
    found: Counter[str] = Counter()
    for (_, record), count in delivered.items():
        found[record if arrival else without_arrival(record)] += count
    return found


def without_arrival(record: str) -> str:
    document = json.loads(record)
    document.pop("arrived_ms")
    return json.dumps(document, sort_keys=True)


def test_an_http_endpoint_receives_the_handlers_records(tmp_path: Path) -> None:
    with FirehoseReceiver() as receiver:
        text = (
            SOURCE
            + (
                f"CREATE SINK out WITH (connector = 'http', url = '{receiver.url}', backup_path = 'failed', "
                f"time_column = 'ts', buffer_interval = '0 s', {TRANSFORM});\n"
            )
            + QUERY
        )
        orders = prepare(tmp_path, 2_000, text)
        explained = run_cli("explain", "orders.sql", cwd=tmp_path)
        result = run_cli("run", "orders.sql", "--summary-json", "summary.json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert receiver.state.violations == []
    delivered, failed, dropped = expected_outcome(orders)
    received = Counter(json.dumps(json.loads(r), sort_keys=True) for r in receiver.records())
    assert received == records_only(delivered)
    assert all(r.endswith(b"\n") for r in receiver.records())  # the handler's bytes, as they are
    errors = error_documents(tmp_path / "failed", "processing-failed")
    assert {json.loads(base64.b64decode(e["rawData"]))["order_id"] for e in errors} == failed
    sink = json.loads((tmp_path / "summary.json").read_text())["sinks"]["out"]
    assert (sink["rows"], sink["errors"], sink["dropped"]) == (sum(delivered.values()), len(failed), dropped)
    assert explained.code == 0, explained.stderr
    assert (
        "transform: " in explained.stdout
        and "enrich_orders.py:lambda_handler called as Firehose calls" in explained.stdout
    )


def test_stdout_prints_the_handlers_records_one_per_line(tmp_path: Path) -> None:
    text = SOURCE + f"CREATE SINK out WITH (connector = 'stdout', {TRANSFORM});\n" + QUERY
    orders = prepare(tmp_path, 1_500, text)
    started = time.time() * 1000
    result = run_cli("run", "orders.sql", cwd=tmp_path)
    assert result.code == 0, result.stderr
    delivered, failed, _ = expected_outcome(orders)
    lines = result.stdout.splitlines()
    assert Counter(without_arrival(line) for line in lines) == records_only(delivered, arrival=False)
    assert all(started <= json.loads(line)["arrived_ms"] <= time.time() * 1000 for line in lines)
    assert "lambda_handler" not in result.stdout and "records," not in result.stdout  # its print() went to stderr
    failures = [line for line in result.stderr.splitlines() if line.startswith("error output (processing-failed)")]
    assert len(failures) == len(failed)
    explained = run_cli("explain", "orders.sql", cwd=tmp_path)
    assert "out: -> stdout" in explained.stdout and "transform: " in explained.stdout
