"""Kill `flowsql run` with SIGKILL at random moments, restart it with the same state each time,
and compare the final output with one uninterrupted run: equal rows, none twice."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT, run_cli
from tests.pipeline.test_examples import generated_clicks

PIPELINE = """
CREATE SOURCE clicks (event_id BIGINT, user_id VARCHAR, page VARCHAR, event_type VARCHAR, price DOUBLE,
    ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '3 seconds')
WITH (connector = 'file', path = '{data}', chunk_size = '{chunk}');

CREATE SINK raw WITH (connector = 'file', path = '{out}/raw', format = 'parquet',
    prefix = 'event_type=!{{partitionKeyFromQuery:event_type}}/', buffer_interval = '0 s');
CREATE SINK minutes WITH (connector = 'file', path = '{out}/minutes', format = 'json', compression = 'gzip',
    buffer_interval = '0 s');
CREATE SINK sessions WITH (connector = 'file', path = '{out}/sessions', format = 'parquet', buffer_interval = '0 s');

INSERT INTO raw SELECT event_id, user_id, page, event_type, price, ts FROM clicks WHERE price >= 0;

INSERT INTO minutes
SELECT window_start, window_end, page, count(*) AS views, count(DISTINCT user_id) AS visitors, round(sum(price), 4) AS revenue
FROM HOP(clicks, ts, INTERVAL '20 seconds', INTERVAL '1 minute') GROUP BY ALL;

INSERT INTO sessions
SELECT window_start, window_end, user_id, count(*) AS events
FROM SESSION(clicks, ts, INTERVAL '30 seconds') WHERE user_id < 'u2' GROUP BY ALL;
"""


def prepare(tmp_path: Path, name: str, events: int, chunk: str) -> tuple[Path, Path]:
    data = tmp_path / "clicks.ndjson"
    if not data.exists():
        con = duckdb.connect()
        con.register("clicks", generated_clicks(events, seed=11, rate=2000))
        con.execute(f"COPY (SELECT * EXCLUDE (arrival_time, country) FROM clicks) TO '{data}' (FORMAT json)")
    out = tmp_path / name
    pipeline = tmp_path / f"{name}.sql"
    pipeline.write_text(PIPELINE.format(data=data, out=out, chunk=chunk))
    return pipeline, out


def output_rows(out: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect()
    rows = {
        "raw": con.sql(f"SELECT * FROM read_parquet('{out}/raw/**/*.parquet', hive_partitioning = true) ORDER BY ALL").fetchall(),
        "minutes": con.sql(f"SELECT * FROM read_json('{out}/minutes/**/*.json.gz') ORDER BY ALL").fetchall(),
        "sessions": con.sql(f"SELECT * FROM read_parquet('{out}/sessions/**/*.parquet') ORDER BY ALL").fetchall(),
    }
    return rows


def run_with_kills(pipeline: Path, state: Path, kills: int, seed: int) -> int:
    """Start the run, SIGKILL it after a random moment, restart; until it finishes. Returns kills done."""
    rng = random.Random(seed)
    done = 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(kills + 50):
        process = subprocess.Popen([sys.executable, "-m", "flowsql", "run", str(pipeline), "--state-dir", str(state),
                                    "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done < kills:
            try:
                process.wait(timeout=rng.uniform(0.6, 2.5))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
                done += 1
                continue
        else:
            process.wait(timeout=300)
        assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""
        return done
    raise AssertionError("the run never finished")


def check_crashes(tmp_path: Path, events: int, kills: int, chunk: str) -> int:
    reference_pipeline, reference_out = prepare(tmp_path, "reference", events, chunk)
    result = run_cli("run", str(reference_pipeline), "--no-checkpoint")
    assert result.code == 0, result.stderr
    expected = output_rows(reference_out)
    assert all(expected.values())

    crashed_pipeline, crashed_out = prepare(tmp_path, "crashed", events, chunk)
    survived = run_with_kills(crashed_pipeline, tmp_path / "state", kills, seed=events)
    got = output_rows(crashed_out)
    for name in expected:
        assert len(got[name]) == len(expected[name]), name
        assert got[name] == expected[name], name
    raw_ids = [r[0] for r in got["raw"]]
    assert len(raw_ids) == len(set(raw_ids)) == events
    return survived


def test_restart_after_sigkill_gives_the_uninterrupted_output(tmp_path: Path) -> None:
    survived = check_crashes(tmp_path, events=120_000, kills=4, chunk="256 KB")
    assert survived == 4


@pytest.mark.slow
def test_many_random_sigkills(tmp_path: Path) -> None:
    survived = check_crashes(tmp_path, events=600_000, kills=25, chunk="512 KB")
    print(f"survived {survived} kills")
    assert survived == 25


def test_sigterm_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    pipeline, out = prepare(tmp_path, "stopped", 150_000, "128 KB")
    reference_pipeline, reference_out = prepare(tmp_path, "reference", 150_000, "128 KB")
    assert run_cli("run", str(reference_pipeline), "--no-checkpoint").code == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    state = tmp_path / "state"
    process = subprocess.Popen([sys.executable, "-m", "flowsql", "run", str(pipeline), "--state-dir", str(state)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (state / "stopped.flowsql-state" / "CURRENT").exists() and time.monotonic() < deadline:
        time.sleep(0.05)  # running, with a first checkpoint behind it
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert time.monotonic() - started < 10
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert "stopping" in stderr
    assert (state / "stopped.flowsql-state" / "CURRENT").exists()
    resumed = run_cli("run", str(pipeline), "--state-dir", str(state))
    assert resumed.code == 0, resumed.stderr
    assert "resumed from checkpoint epoch" in resumed.stderr
    assert output_rows(out) == output_rows(reference_out)


def test_reset_says_what_it_discards_and_starts_over(tmp_path: Path) -> None:
    pipeline, out = prepare(tmp_path, "p", 5_000, "64 KB")
    state = tmp_path / "state"
    assert run_cli("run", str(pipeline), "--state-dir", str(state)).code == 0
    again = run_cli("run", str(pipeline), "--state-dir", str(state))
    assert "resumed from checkpoint" in again.stderr and "0 events" in again.stderr
    reset = run_cli("run", str(pipeline), "--state-dir", str(state), "--reset")
    assert reset.code == 0
    assert "--reset discards checkpoint epoch" in reset.stderr
    assert "source clicks at" in reset.stderr
    assert "5,000 events" in reset.stderr


def test_a_changed_query_refuses_the_old_state(tmp_path: Path) -> None:
    pipeline, out = prepare(tmp_path, "p", 2_000, "64 KB")
    state = tmp_path / "state"
    assert run_cli("run", str(pipeline), "--state-dir", str(state)).code == 0
    pipeline.write_text(pipeline.read_text().replace("INTERVAL '30 seconds'", "INTERVAL '40 seconds'"))
    result = run_cli("run", str(pipeline), "--state-dir", str(state))
    assert result.code == 2
    assert "cannot be reused safely" in result.stderr and "--reset" in result.stderr
    json.dumps(result.stderr)
