"""Lambda tumbling-window handlers run unchanged on a Kinesis source (kinesalite): per shard and
window, the state of one call passed to the next, the final call's state as a row; records the
handler fails on go to the error output; a kill -9 in the middle gives the uninterrupted result."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.checkpoints import committed_state
from tests.conftest import ROOT, run_cli
from tests.kinesis.conftest import KinesisServer
from tests.waiting import wait_until

HANDLERS = Path(__file__).parent / "handlers"
WINDOW_MS = 4000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PIPELINE = """
CREATE SOURCE sums (shard_id VARCHAR, window_start TIMESTAMP, window_end TIMESTAMP, total BIGINT, count BIGINT,
                    window_terminated_early BOOLEAN)
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{url}', region = 'us-east-1',
      idle_interval = '100 ms', get_records_interval = '50 ms',
      handler = 'handlers/{handler}', tumbling_window = '{window_s} s', batch_size = 7{extra});
CREATE SINK out WITH (connector = 'file', path = 'out', format = 'json', buffer_interval = '0 s');
INSERT INTO out SELECT * FROM sums;
"""


def prepare(
    folder: Path, server: KinesisServer, stream: str, handler: str, extra: str = "", window_ms: int = WINDOW_MS
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(HANDLERS, folder / "handlers", dirs_exist_ok=True)
    (folder / "p.sql").write_text(
        PIPELINE.format(stream=stream, url=server.url, handler=handler, extra=extra, window_s=window_ms // 1000)
    )


def write_waves(
    server: KinesisServer,
    stream: str,
    waves: int,
    per_wave: int,
    bad: set[int],
    first_id: int = 0,
    window_ms: int = WINDOW_MS,
) -> None:
    """Orders in `waves` bursts, each in the next window of the clock (so in its own window)."""
    client = server.client()
    for wave in range(waves):
        if wave:
            wait_for_next_window(window_ms, 50)
        records = []
        for i in range(first_id + wave * per_wave, first_id + (wave + 1) * per_wave):
            amount: object = "n/a" if i in bad else i % 13 + 1
            records.append({"Data": json.dumps({"id": i, "amount": amount}).encode(), "PartitionKey": f"k{i % 17}"})
        answer = client.put_records(StreamName=stream, Records=records)
        assert answer["FailedRecordCount"] == 0


def stream_records(server: KinesisServer, stream: str) -> dict[str, list[dict[str, Any]]]:
    """Every record of every shard, read directly (the independent side of the comparison)."""
    client = server.client()
    found: dict[str, list[dict[str, Any]]] = {}
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records: list[dict[str, Any]] = []
        while iterator:
            answer = client.get_records(ShardIterator=iterator, Limit=10_000)
            records += answer["Records"]
            if not answer["Records"]:
                break
            iterator = answer.get("NextShardIterator")
        found[shard["ShardId"]] = records
    return found


def expected_windows(
    records: dict[str, list[dict[str, Any]]], bad: set[int], window_ms: int = WINDOW_MS
) -> dict[tuple[str, str], tuple[int, int]]:
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for shard, shard_records in records.items():
        for record in shard_records:
            order = json.loads(record["Data"])
            arrival = record["ApproximateArrivalTimestamp"].astimezone(UTC)
            start_ms = (arrival - EPOCH) // timedelta(milliseconds=1) // window_ms * window_ms
            start = datetime.fromtimestamp(start_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
            window = sums[(shard, start)]
            if order["id"] not in bad:
                window[0] += order["amount"]
                window[1] += 1
    return {key: (total, count) for key, (total, count) in sums.items()}


def wait_for_next_window(window_ms: int, margin_ms: int) -> None:
    """Until the arrival clock is `margin_ms` into the next window: the windows follow the
    stream's arrival times, so what the test waits for is the clock crossing a boundary."""
    boundary = (time.time() * 1000 // window_ms + 1) * window_ms + margin_ms
    wait_until(lambda: time.time() * 1000 >= boundary, window_ms / 1000 + 5, "the next window on the arrival clock")


def wait_past_last_window(window_ms: int = WINDOW_MS) -> None:
    """Every written record's window has ended on the clock (so a run sees each one close)."""
    wait_for_next_window(window_ms, 100)


def read_json(folder: Path, errors: bool = False) -> list[dict[str, Any]]:
    files = [f for f in sorted(folder.rglob("*.json")) if ("errors" in f.parts) == errors]
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def output_windows(folder: Path, window_ms: int = WINDOW_MS) -> dict[tuple[str, str], tuple[int, int]]:
    rows = read_json(folder)
    windows = {(r["shard_id"], r["window_start"]): (r["total"], r["count"]) for r in rows}
    assert len(windows) == len(rows), "a window was written twice"
    for row in rows:
        start = datetime.fromisoformat(row["window_start"])
        assert datetime.fromisoformat(row["window_end"]) - start == timedelta(milliseconds=window_ms)
        assert row["window_terminated_early"] is False
    return windows


def test_a_window_handler_sums_per_shard_and_window_and_failed_records_go_to_the_error_output(
    kinesalite: KinesisServer, tmp_path: Path
) -> None:
    stream = kinesalite.create_stream(2)
    bad = {5, 61, 62, 140}
    write_waves(kinesalite, stream, waves=3, per_wave=60, bad=bad)
    prepare(
        tmp_path,
        kinesalite,
        stream,
        "window_sums.py:lambda_handler",
        ", bisect_batch_on_function_error = true, maximum_retry_attempts = 1",
    )
    wait_past_last_window()
    result = run_cli("run", "p.sql", "--until-caught-up", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stdout == "" and "{'total': " in result.stderr  # the handler's print() went to the log

    expected = expected_windows(stream_records(kinesalite, stream), bad)
    assert len({start for _, start in expected}) == 3  # three windows, on both shards
    assert output_windows(tmp_path / "out") == expected

    errors = read_json(tmp_path / "out", errors=True)
    assert {e["errorCode"] for e in errors} == {"handler-failed"}
    assert sorted(json.loads(base64.b64decode(e["rawData"]))["id"] for e in errors) == sorted(bad)
    for error in errors:
        assert "ValueError: order" in error["errorMessage"] and "has no numeric amount" in error["errorMessage"]
        assert error["source"] == "sums" and error["position"].startswith("shardId-")


@pytest.mark.slow
def test_one_minute_windows_sum_per_shard_as_on_lambda(kinesalite: KinesisServer, tmp_path: Path) -> None:
    """The window length of the service's documented example: two bursts a minute apart, each
    summed per shard in its own 1-minute window."""
    minute = 60_000
    stream = kinesalite.create_stream(2)
    write_waves(kinesalite, stream, waves=2, per_wave=50, bad=set(), window_ms=minute)
    prepare(tmp_path, kinesalite, stream, "window_sums.py:lambda_handler", window_ms=minute)
    wait_past_last_window(minute)
    result = run_cli("run", "p.sql", "--until-caught-up", cwd=tmp_path)
    assert result.code == 0, result.stderr

    expected = expected_windows(stream_records(kinesalite, stream), set(), minute)
    assert len({start for _, start in expected}) == 2
    assert sum(total for total, _ in expected.values()) == sum(i % 13 + 1 for i in range(100))
    assert output_windows(tmp_path / "out", minute) == expected


def committed_windows(state: Path) -> dict[str, Any] | None:
    """The source's window state in the checkpoint committed last, or None before the first."""
    checkpoint = committed_state(state)
    if checkpoint is None or "sums" not in checkpoint["positions"]:
        return None
    return {
        "windows": checkpoint["positions"]["sums"].get("windows", {}),
        "rows": checkpoint["sinks"]["out"]["rows_taken"],
    }


def wait_for_open_window(state: Path, process: subprocess.Popen[bytes]) -> None:
    """Until a committed checkpoint holds closed windows' rows and an open window's state."""

    def open_window_committed() -> bool:
        committed = committed_windows(state)
        return bool(committed and committed["rows"] and any(w["state"] for w in committed["windows"].values()))

    wait_until(open_window_committed, 60, "a checkpoint with closed windows' rows and an open window", process)


@pytest.mark.slow
def test_kill_9_with_a_window_open_gives_the_uninterrupted_result(kinesalite: KinesisServer, tmp_path: Path) -> None:
    stream = kinesalite.create_stream(2)
    bad = {3, 70}
    prepare(
        tmp_path,
        kinesalite,
        stream,
        "window_sums.py:lambda_handler",
        ", bisect_batch_on_function_error = true, maximum_retry_attempts = 0",
    )
    (tmp_path / "p.sql").write_text("SET checkpoint_interval = '0.05 s';\n" + (tmp_path / "p.sql").read_text())
    # Two windows written; the second still open on the clock when the run starts, so the first
    # closes (a record of the next window arrived) while the second's state is only in checkpoints.
    write_waves(kinesalite, stream, waves=2, per_wave=60, bad=bad)
    with (tmp_path / "stderr.txt").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowsql", "run", "p.sql", "--quiet"],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        wait_for_open_window(tmp_path / "p.flowsql-state", process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    wait_past_last_window()
    write_waves(kinesalite, stream, waves=1, per_wave=40, bad=set(), first_id=120)
    wait_past_last_window()
    result = run_cli("run", "p.sql", "--until-caught-up", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert "resumed from checkpoint" in result.stderr
    expected = expected_windows(stream_records(kinesalite, stream), bad)
    assert output_windows(tmp_path / "out") == expected  # no window lost, none twice, sums whole
    errors = read_json(tmp_path / "out", errors=True)
    assert sorted(json.loads(base64.b64decode(e["rawData"]))["id"] for e in errors) == sorted(bad)


def test_explain_shows_the_handler_and_bad_settings_are_refused_naming_the_option(tmp_path: Path) -> None:
    server = KinesisServer("kinesalite", "http://127.0.0.1:1")  # never called: validate reads nothing
    prepare(tmp_path, server, "orders", "window_sums.py:lambda_handler", ", maximum_retry_attempts = 2")
    explained = run_cli("explain", "p.sql", cwd=tmp_path)
    assert explained.code == 0, explained.stderr
    assert (
        "tumbling-window handler handlers/window_sums.py:lambda_handler: called per shard with 4 s windows"
        in explained.stdout
    )
    assert (
        "batch size 7, batching window 0 s" in explained.stdout
        and "2 retries, then to the error output" in explained.stdout
    )
    text = (tmp_path / "p.sql").read_text()
    for change, named in (
        ("tumbling_window = '4 s'", "tumbling_window must be whole seconds from 1 s to 900 s"),
        ("batch_size = 7", "batch_size must be 1 to 10000"),
        ("handlers/window_sums.py:lambda_handler", "handler"),
    ):
        wrong = {
            "tumbling_window = '4 s'": "tumbling_window = '901 s'",
            "batch_size = 7": "batch_size = 0",
            "handlers/window_sums.py:lambda_handler": "handlers/window_sums.py:handle",
        }[change]
        (tmp_path / "p.sql").write_text(text.replace(change, wrong))
        result = run_cli("validate", "p.sql", cwd=tmp_path)
        assert result.code == 2 and named in result.stderr, result.stderr
    assert "defines no function 'handle'" in result.stderr
    (tmp_path / "p.sql").write_text(text.replace("handler = 'handlers/window_sums.py:lambda_handler', ", ""))
    result = run_cli("validate", "p.sql", cwd=tmp_path)
    assert result.code == 2 and "tumbling_window applies to a tumbling-window handler" in result.stderr
