"""Firehose transformation handlers, unchanged: `flowsql run` calls the handlers in
tests/delivery/handlers/ (written as they run on Lambda) and every output is checked against
an answer computed here from the input, without the handler."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.checkpoints import committed_state
from tests.conftest import ROOT, run_cli
from tests.delivery.conftest import download
from tests.waiting import wait_until

HANDLERS = Path(__file__).parent / "handlers"
REGIONS = {"DE": "europe", "FR": "europe", "US": "americas", "BR": "americas", "JP": "asia"}
START = datetime(2024, 5, 1)


def write_orders(path: Path, count: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    orders = []
    for i in range(count):
        orders.append(
            {
                "order_id": i,
                "customer": f"c{rng.randrange(50)}",
                "country": rng.choice([*REGIONS, "XX"]),
                "amount": round(rng.uniform(-10, 200), 2),
                "status": rng.choice(["paid", "paid", "shipped", "test"]),
                "ts": (START + timedelta(seconds=i)).isoformat(),
            }
        )
    path.write_text("".join(json.dumps(o) + "\n" for o in orders))
    return orders


def expected_outcome(orders: list[dict[str, Any]]) -> tuple[Counter[tuple[str, str]], set[int], int]:
    """What the enrichment must give, worked out here: (folder, record) pairs, the ids that fail,
    and how many are dropped."""
    delivered: Counter[tuple[str, str]] = Counter()
    failed, dropped = set(), 0
    for order in orders:
        if order["status"] == "test":
            dropped += 1
        elif order["amount"] < 0 or order["country"] not in REGIONS:
            failed.add(order["order_id"])
        else:
            region = REGIONS[order["country"]]
            arrived = datetime.fromisoformat(order["ts"]).replace(tzinfo=UTC)
            record = {
                "order_id": order["order_id"],
                "customer": order["customer"].upper(),
                "region": region,
                "amount_cents": int(Decimal(str(order["amount"])) * 100),
                "arrived_ms": int(arrived.timestamp()) * 1000,
            }
            delivered[(f"region={region}/status={order['status']}", json.dumps(record, sort_keys=True))] += 1
    return delivered, failed, dropped


def pipeline_text(extra: str = "", fmt: str = "json", chunk: str = "16 KB") -> str:
    return f"""CREATE SOURCE orders (order_id BIGINT, customer VARCHAR, country VARCHAR, amount DOUBLE, status VARCHAR,
    ts TIMESTAMP) WITH (connector = 'file', path = 'orders.ndjson', chunk_size = '{chunk}');
CREATE SINK lake WITH (connector = 'file', path = 'lake', format = '{fmt}', time_column = 'ts',
    transform = 'handlers/enrich_orders.py:lambda_handler', transform_buffer_size = '32 KB',
    prefix = 'region=!{{partitionKeyFromLambda:region}}/status=!{{partitionKeyFromLambda:status}}/',
    buffer_interval = '0 s'{extra});
INSERT INTO lake SELECT order_id, customer, country, amount, status, ts FROM orders;
"""


def prepare(folder: Path, count: int, text: str) -> list[dict[str, Any]]:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(HANDLERS, folder / "handlers", dirs_exist_ok=True)  # beside the pipeline, path relative to it
    (folder / "orders.sql").write_text(text)
    return write_orders(folder / "orders.ndjson", count)


def delivered_records(lake: Path) -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for path in lake.rglob("*.json"):
        folder = str(path.parent.relative_to(lake))
        if folder.startswith("errors"):
            continue
        for line in path.read_text().splitlines():
            found[(folder, json.dumps(json.loads(line), sort_keys=True))] += 1
    return found


def error_documents(lake: Path, kind: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted((lake / "errors" / kind).rglob("*.json"))
        for line in path.read_text().splitlines()
    ]


def test_enrichment_drops_fails_and_partitions_as_computed(tmp_path: Path) -> None:
    orders = prepare(tmp_path, 3_000, pipeline_text())
    result = run_cli("run", "orders.sql", "--summary-json", "summary.json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout == ""  # the handler's print() goes to the log, not into output
    assert "orders-lake-transform" in result.stderr  # ... printed with the context's function name
    delivered, failed, dropped = expected_outcome(orders)
    assert delivered_records(tmp_path / "lake") == delivered
    errors = error_documents(tmp_path / "lake", "processing-failed")
    by_id = {json.loads(base64.b64decode(e["rawData"]))["order_id"]: e for e in errors}
    assert len(errors) == len(by_id) and set(by_id) == failed
    for order_id, error in by_id.items():
        original = json.loads(base64.b64decode(error["rawData"]))  # the record as the handler got it
        assert {**original, "ts": original["ts"].replace(" ", "T")} == orders[order_id]
        assert error["errorCode"] == "processing-failed" and error["attemptsMade"] == 1
        assert "answered ProcessingFailed" in error["errorMessage"]
        assert error["position"] == f"recordId {order_id:020d}"
    summary = json.loads((tmp_path / "summary.json").read_text())
    sink = summary["sinks"]["lake"]
    assert (sink["rows"], sink["errors"], sink["dropped"]) == (sum(delivered.values()), len(failed), dropped)
    metric = summary["metrics"]["flowsql_sink_transform_dropped_total"]
    assert metric == [{"labels": {"sink": "lake"}, "value": dropped}]
    assert sink["invocations"] >= 3_000 * 60 // 32_000  # batches of at most 32 KB


def test_output_columns_from_transform_schema_in_parquet(tmp_path: Path) -> None:
    schema = "order_id BIGINT, customer VARCHAR, amount_cents INTEGER, arrived_ms BIGINT"
    orders = prepare(tmp_path, 1_500, pipeline_text(f", transform_schema = '{schema}'", fmt="parquet"))
    result = run_cli("run", "orders.sql", cwd=tmp_path)
    assert result.code == 0, result.stderr
    rows = (
        duckdb.connect()
        .sql(f"SELECT * FROM read_parquet('{tmp_path}/lake/region=*/status=*/*.parquet', hive_partitioning = true)")
        .to_arrow_table()
        .to_pylist()
    )
    delivered, _, _ = expected_outcome(orders)
    expected = Counter()
    for (folder, record), times in delivered.items():
        value = json.loads(record)
        region, status = (part.split("=")[1] for part in folder.split("/"))
        expected[
            (value["order_id"], value["customer"], value["amount_cents"], value["arrived_ms"], region, status)
        ] += times
    assert (
        Counter(
            (r["order_id"], r["customer"], r["amount_cents"], r["arrived_ms"], r["region"], r["status"]) for r in rows
        )
        == expected
    )  # region and status come from the folders: not columns of the files
    ddl = run_cli("ddl", "orders.sql", cwd=tmp_path)  # Athena's table: the declared columns, the handler's keys
    assert ddl.code == 0 and "amount_cents int" in ddl.stdout and "region string" in ddl.stdout, ddl.stderr
    assert "PARTITIONED BY (region string, status string)" in ddl.stdout


def test_each_broken_answer_goes_to_the_error_output(tmp_path: Path) -> None:
    kinds = ["ok", "twice", "forgotten", "stranger", "unknown-result", "not-base64", "no-key"]
    (tmp_path / "records.ndjson").write_text(
        "".join(json.dumps({"n": i, "kind": k}) + "\n" for i, k in enumerate(kinds * 3))
    )
    shutil.copytree(HANDLERS, tmp_path / "handlers")
    (tmp_path / "broken.sql").write_text("""
CREATE SOURCE records (n BIGINT, kind VARCHAR) WITH (connector = 'file', path = 'records.ndjson');
CREATE SINK lake WITH (connector = 'file', path = 'lake', format = 'json', transform_buffer_size = '1 B',
    transform = 'handlers/contract_breaker.py:lambda_handler', prefix = 'kind=!{partitionKeyFromLambda:kind}/');
INSERT INTO lake SELECT n, kind FROM records;
""")
    result = run_cli("run", "broken.sql", "--summary-json", "summary.json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    lake = tmp_path / "lake"
    assert sorted(json.loads(r)["n"] for _, r in delivered_records(lake)) == [0, 7, 14]
    assert {folder for folder, _ in delivered_records(lake)} == {"kind=ok"}
    failed = {json.loads(base64.b64decode(e["rawData"]))["n"]: e for e in error_documents(lake, "processing-failed")}
    reasons = {
        "twice": ("answered twice", 4),
        "forgotten": ("1 of 1 records are not answered", 4),
        "stranger": ("was not in the event", 4),
        "unknown-result": ("'Maybe' is not Ok", 1),
        "not-base64": ("data is not base64", 1),
    }
    assert len(failed) == 3 * len(reasons)
    for n, error in failed.items():
        message, attempts = reasons[kinds[n % len(kinds)]]
        assert message in error["errorMessage"] and error["attemptsMade"] == attempts, error
    missing_key = error_documents(lake, "partitioning-failed")
    assert sorted(json.loads(base64.b64decode(e["rawData"]))["n"] for e in missing_key) == [6, 13, 20]
    assert all("no partition key 'kind'" in e["errorMessage"] for e in missing_key)


def test_a_handler_that_always_raises_sends_every_row_to_the_error_output(tmp_path: Path) -> None:
    (tmp_path / "rows.ndjson").write_text("".join(json.dumps({"id": i}) + "\n" for i in range(500)))
    shutil.copytree(HANDLERS, tmp_path / "handlers")
    (tmp_path / "down.sql").write_text("""
CREATE SOURCE rows (id BIGINT) WITH (connector = 'file', path = 'rows.ndjson', chunk_size = '1 KB');
CREATE SINK lake WITH (connector = 'file', path = 'lake', transform = 'handlers/always_fails.py:lambda_handler',
    transform_buffer_size = '2 KB', transform_retries = 2, buffer_interval = '0 s');
INSERT INTO lake SELECT id FROM rows;
""")
    calls = tmp_path / "calls.txt"
    result = run_cli("run", "down.sql", "--summary-json", "summary.json", cwd=tmp_path, env={"CALLS_FILE": str(calls)})
    assert result.code == 0, result.stderr  # the run goes on; no crash and no restart loop
    errors = error_documents(tmp_path / "lake", "processing-failed")
    assert sorted(json.loads(base64.b64decode(e["rawData"]))["id"] for e in errors) == list(range(500))
    assert all(
        e["attemptsMade"] == 3 and "ConnectionError: lookup service unavailable" in e["errorMessage"] for e in errors
    )
    assert not list((tmp_path / "lake").rglob("*.parquet"))
    invocations = json.loads((tmp_path / "summary.json").read_text())["sinks"]["lake"]["invocations"]
    lines = calls.read_text().splitlines()
    assert len(lines) == 3 * invocations  # each invocation tried 1 + transform_retries times
    assert all(count == 3 for count in Counter(line.split()[0] for line in lines).values())
    assert sum(int(line.split()[1]) for line in lines) == 3 * 500


def test_explain_shows_the_handler_and_bad_options_name_the_key(tmp_path: Path) -> None:
    prepare(tmp_path, 10, pipeline_text())
    result = run_cli("explain", "orders.sql", cwd=tmp_path)
    assert result.code == 0, result.stderr
    where = str((tmp_path / "handlers" / "enrich_orders.py").resolve())
    assert f"transform: {where}:lambda_handler called as Firehose calls a transformation Lambda" in result.stdout
    handler = "transform = 'handlers/enrich_orders.py:lambda_handler'"
    bad = [  # (text replaced, by what, the option named, what the message says)
        (handler, "transform = 'handlers/missing.py:lambda_handler'", "option 'transform'", "does not exist"),
        (handler, "transform = 'handlers/enrich_orders.py:handler'", "option 'transform'", "no function 'handler'"),
        (handler, "transform = 'no_such_module:handler'", "option 'transform'", "no module 'no_such_module'"),
        ("'32 KB'", "'7 MB'", "option 'transform_buffer_size'", "at most 6,000,000 bytes"),
        ("'32 KB'", "'32 KB', transform_retries = 301", "option 'transform_retries'", "0 to 300"),
        ("'32 KB'", "'32 KB', transform_schema = 'id NUMBERISH'", "option 'transform_schema'", "column list"),
    ]
    text = pipeline_text()
    for old, new, key, message in bad:
        (tmp_path / "orders.sql").write_text(text.replace(old, new))
        result = run_cli("validate", "orders.sql", cwd=tmp_path)
        assert result.code == 2 and key in result.stderr and message in result.stderr, (new, result.stderr)
    (tmp_path / "orders.sql").write_text(text.replace("transform = 'handlers/enrich_orders.py:lambda_handler',", ""))
    result = run_cli("validate", "orders.sql", cwd=tmp_path)
    assert result.code == 2 and "needs a transformation handler" in result.stderr


def test_module_handler_found_beside_the_pipeline(tmp_path: Path) -> None:
    orders = prepare(
        tmp_path,
        400,
        pipeline_text().replace("handlers/enrich_orders.py:lambda_handler", "enrich_orders:lambda_handler"),
    )
    shutil.copy(HANDLERS / "enrich_orders.py", tmp_path / "enrich_orders.py")
    result = run_cli("run", "orders.sql", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert delivered_records(tmp_path / "lake") == expected_outcome(orders)[0]


def test_s3_sink_runs_the_handler_and_keys_objects_by_its_partition_keys(
    tmp_path: Path, s3: Any, bucket: str, moto_endpoint: str
) -> None:
    text = pipeline_text().replace(
        "connector = 'file', path = 'lake'", f"connector = 's3', bucket = '{bucket}', endpoint_url = '{moto_endpoint}'"
    )
    orders = prepare(tmp_path, 1_000, text)
    result = run_cli("run", "orders.sql", cwd=tmp_path)
    assert result.code == 0, result.stderr
    keys = download(s3, bucket, tmp_path / "lake")
    assert not [k for k in keys if k.startswith(".flowsql-staging/")]
    delivered, failed, _ = expected_outcome(orders)
    assert delivered_records(tmp_path / "lake") == delivered
    errors = error_documents(tmp_path / "lake", "processing-failed")
    assert {json.loads(base64.b64decode(e["rawData"]))["order_id"] for e in errors} == failed


def start(folder: Path) -> subprocess.Popen[bytes]:
    # stderr to a file: the handler prints a line per failed order, more than a pipe holds unread.
    with (folder / "stderr.txt").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "flowsql", "run", "orders.sql", "--state-dir", "state", "--quiet"],
            cwd=folder,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def committed_sink_state(state: Path) -> dict[str, Any] | None:
    """The sink's part of the checkpoint committed last, or None before the first."""
    checkpoint = committed_state(state)
    return checkpoint["sinks"]["lake"] if checkpoint is not None else None


def wait_for_checkpoint(state: Path, process: subprocess.Popen[bytes], records_in: int) -> bool:
    """True once a committed checkpoint holds rows still waiting for the handler and transformed
    rows waiting for delivery, after `records_in` rows reached the sink; False if the run ended."""

    def holds_waiting_records() -> bool:
        sink = committed_sink_state(state)
        return bool(
            sink is not None
            and sink["transform"]["records_in"] >= records_in
            and sink["transform"]["pending"]
            and sink.get("rows")
        )

    wait_until(
        lambda: process.poll() is not None or holds_waiting_records(),
        120,
        "a checkpoint with records waiting for the handler",
    )
    return holds_waiting_records()


def comparable_errors(lake: Path) -> Counter[tuple[str, str, str]]:
    return Counter((e["position"], e["errorMessage"], e["rawData"]) for e in error_documents(lake, "processing-failed"))


@pytest.mark.slow
def test_kill_9_in_the_middle_gives_the_uninterrupted_result(tmp_path: Path) -> None:
    count, kills_at = 40_000, (6_000, 16_000, 26_000)
    # Checkpoints often, and buffers that hold records between them: each kill comes after a
    # checkpoint holding rows waiting for the handler and transformed rows waiting for delivery.
    text = "SET checkpoint_interval = '0.05 s';\n" + pipeline_text(
        ", transform_buffer_size = '256 KB', transform_buffer_interval = '1 s'", chunk="8 KB"
    ).replace("transform_buffer_size = '32 KB',", "").replace("buffer_interval = '0 s'", "buffer_size = '1 MB'")
    orders = prepare(tmp_path / "whole", count, text)
    prepare(tmp_path / "killed", count, text)
    whole = run_cli("run", "orders.sql", "--state-dir", "state", cwd=tmp_path / "whole")
    assert whole.code == 0, whole.stderr
    killed = tmp_path / "killed"
    kills = 0
    while True:
        process = start(killed)
        if kills < len(kills_at) and wait_for_checkpoint(killed / "state", process, kills_at[kills]):
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills += 1
            continue
        assert process.wait(timeout=300) == 0, (killed / "stderr.txt").read_text()[-3000:]
        break
    assert kills == len(kills_at)
    delivered, failed, _ = expected_outcome(orders)
    assert delivered_records(tmp_path / "whole" / "lake") == delivered
    assert delivered_records(killed / "lake") == delivered  # none lost, none twice
    assert comparable_errors(killed / "lake") == comparable_errors(tmp_path / "whole" / "lake")
    assert len(comparable_errors(killed / "lake")) == len(failed)
