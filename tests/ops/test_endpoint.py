"""The Prometheus endpoint read while `flowsql run` follows a growing file: the figures match
what the test wrote (events in, decode errors, rows out, objects delivered)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ops.helpers import scrape, value, wait_for
from tests.servers.ports import free_port, wait_for_port

PIPELINE = """
CREATE SOURCE clicks (user_id VARCHAR, price DOUBLE, ts TIMESTAMP)
WITH (connector = 'file', path = '{data}', follow = true, poll_interval = '50 ms');
CREATE SINK big WITH (connector = 'file', path = '{lake}', format = 'json', buffer_interval = '0 s');
INSERT INTO big SELECT user_id, price FROM clicks WHERE price > 10;
"""


def _lines(first: int, count: int, bad_every: int) -> tuple[bytes, int, int]:
    """`count` records from number `first`; every `bad_every`-th is broken JSON."""
    out, bad, big = [], 0, 0
    for n in range(first, first + count):
        if n % bad_every == 0:
            out.append(f'{{"user_id": "u{n}", "price": ')
            bad += 1
            continue
        price = float(n % 25)
        big += price > 10
        out.append(json.dumps({"user_id": f"u{n}", "price": price, "ts": f"2024-01-01 00:00:{n % 60:02d}"}))
    return ("\n".join(out) + "\n").encode(), bad, big


@pytest.mark.slow
def test_metrics_endpoint_counts_what_was_sent(tmp_path: Path) -> None:
    data = tmp_path / "clicks.ndjson"
    data.write_bytes(b"")
    lake = tmp_path / "lake"
    pipeline = tmp_path / "follow.sql"
    pipeline.write_text(PIPELINE.format(data=data, lake=lake))
    port = free_port()
    summary_file = tmp_path / "summary.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowsql",
            "run",
            str(pipeline),
            "--metrics-port",
            str(port),
            "--summary-json",
            str(summary_file),
            "--status-interval",
            "0",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process=process)
        sent, bad, big = 0, 0, 0
        for first, count in ((0, 120), (120, 300)):
            payload, more_bad, more_big = _lines(first, count, bad_every=7)
            with data.open("ab") as out:
                out.write(payload)
            sent, bad, big = sent + count, bad + more_bad, big + more_big

            def caught_up(sent: int = sent, big: int = big) -> bool:
                samples = scrape(port)[1]
                return (
                    value(samples, "flowsql_events_in_total", source="clicks") == sent
                    and value(samples, "flowsql_sink_rows_total", sink="big") == big
                )

            wait_for(caught_up, what=f"{sent} events in and {big} rows out on the endpoint")
            text, samples = scrape(port)
            assert value(samples, "flowsql_errors_total", source="clicks") == bad
            assert value(samples, "flowsql_bytes_in_total", source="clicks") == data.stat().st_size
            assert value(samples, "flowsql_late_records_total", source="clicks") == 0
            assert value(samples, "flowsql_sink_retries_total", sink="big") == 0
            assert value(samples, "flowsql_sink_buffer_bytes", sink="big") == 0
            assert "# TYPE flowsql_events_in_total counter" in text
            assert "# TYPE flowsql_sink_buffer_bytes gauge" in text
        objects = value(samples, "flowsql_sink_objects_total", sink="big")
        assert objects is not None and objects >= 2  # at least one object per appended chunk
        assert value(samples, "flowsql_uptime_seconds") > 0
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr.decode()
    objects_written = sorted(lake.rglob("*.json"))
    written = [
        json.loads(line)
        for f in objects_written
        if f.relative_to(lake).parts[0] != "errors"
        for line in f.read_text().splitlines()
    ]
    rejected = [
        json.loads(line)
        for f in objects_written
        if f.relative_to(lake).parts[0] == "errors"
        for line in f.read_text().splitlines()
    ]
    assert len(written) == big and len(rejected) == bad
    summary = json.loads(summary_file.read_text())
    assert summary["events_in"] == sent and summary["errors"] == bad
    assert summary["sinks"]["big"]["rows"] == big
    series = summary["metrics"]["flowsql_events_in_total"] + summary["metrics"]["flowsql_sink_rows_total"]
    metric_values = {s["labels"].get("source") or s["labels"].get("sink"): s["value"] for s in series}
    assert metric_values == {"clicks": sent, "big": big}
    assert summary["delivery"][0]["objects"] == objects


def test_metrics_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    import socket

    from tests.conftest import run_cli

    data = tmp_path / "in.ndjson"
    data.write_text('{"user_id": "u1", "price": 12.5}\n')
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(PIPELINE.format(data=data, lake=tmp_path / "lake").replace("follow = true", "follow = false"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("run", str(pipeline), "--metrics-port", str(port))
    assert result.code == 2
    assert f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert not (tmp_path / "lake").exists()  # nothing ran


@pytest.mark.slow
def test_failing_checkpoint_is_counted_and_logged(tmp_path: Path) -> None:
    data = tmp_path / "clicks.ndjson"
    data.write_bytes(b"")
    state = tmp_path / "state"
    pipeline = tmp_path / "checkpointed.sql"
    pipeline.write_text("SET checkpoint_interval = '200 ms';\n" + PIPELINE.format(data=data, lake=tmp_path / "lake"))
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowsql",
            "run",
            str(pipeline),
            "--metrics-port",
            str(port),
            "--state-dir",
            str(state),
            "--status-interval",
            "0",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process=process)
        data.write_bytes(_lines(1, 20, bad_every=1000)[0])

        def figure(name: str) -> float:
            return value(scrape(port)[1], name) or 0.0

        wait_for(
            lambda: (
                figure("flowsql_checkpoints_total") >= 1
                and value(scrape(port)[1], "flowsql_events_in_total", source="clicks") == 20
            ),
            what="a first checkpoint after the records",
        )
        # The checkpoint folder turns into a file: the next commits fail.
        state.rename(tmp_path / "state.saved")
        state.write_text("not a folder")
        wait_for(lambda: figure("flowsql_checkpoint_failures_total") >= 3, what="failed checkpoints")
        committed = figure("flowsql_checkpoints_total")
        epoch = figure("flowsql_checkpoint_epoch")
        state.unlink()
        (tmp_path / "state.saved").rename(state)
        wait_for(lambda: figure("flowsql_checkpoints_total") > committed, what="checkpoints to resume")
        assert figure("flowsql_checkpoint_epoch") > epoch
        assert 0 <= figure("flowsql_checkpoint_age_seconds") < 30
        process.send_signal(signal.SIGINT)
        _, stderr_bytes = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    stderr = stderr_bytes.decode()
    assert process.returncode == 0, stderr
    failures = [line for line in stderr.splitlines() if "failed (" in line]
    assert len(failures) == 1, stderr  # repeated failures within 10 s are not repeated in the log
    assert failures[0].startswith("flowsql: checkpoint ") and "the next checkpoint retries" in failures[0]
    assert "1 failed attempts so far" in failures[0] and str(state) in failures[0]
    assert re.search(r"flowsql: checkpoint \d+ committed after \d+ failed attempts", stderr), stderr
