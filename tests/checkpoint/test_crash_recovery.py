"""Kill `flowsql run` with SIGKILL at random points of its progress, restart it with the same state
each time, and compare the final output with one uninterrupted run: equal rows, none twice.

The killed runs follow a file the test feeds part by part, so a run never ends by itself and
every kill lands mid-run, whatever the machine's speed; kills wait for objects to be written."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.conftest import ROOT, run_cli
from tests.pipeline.test_examples import generated_clicks
from tests.waiting import wait_until

PIPELINE = """
SET checkpoint_interval = '0.5 s';
CREATE SOURCE clicks (event_id BIGINT, user_id VARCHAR, page VARCHAR, event_type VARCHAR, price DOUBLE,
    ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '3 seconds')
WITH (connector = 'file', path = '{data}', chunk_size = '{chunk}', {follow});

CREATE SINK raw WITH (connector = 'file', path = '{out}/raw', format = 'parquet',
    prefix = 'event_type=!{{partitionKeyFromQuery:event_type}}/', buffer_interval = '0 s');
CREATE SINK minutes WITH (connector = 'file', path = '{out}/minutes', format = 'json', compression = 'gzip',
    buffer_interval = '0 s');
CREATE SINK sessions WITH (connector = 'file', path = '{out}/sessions', format = 'parquet', buffer_interval = '0 s');

INSERT INTO raw SELECT event_id, user_id, page, event_type, price, ts FROM clicks WHERE price >= 0;

INSERT INTO minutes
SELECT window_start, window_end, page, count(*) AS views, count(DISTINCT user_id) AS visitors,
       round(sum(price), 4) AS revenue
FROM HOP(clicks, ts, INTERVAL '20 seconds', INTERVAL '1 minute') GROUP BY ALL;

INSERT INTO sessions
SELECT window_start, window_end, user_id, count(*) AS events
FROM SESSION(clicks, ts, INTERVAL '30 seconds') WHERE user_id < 'u2' GROUP BY ALL;
"""


FOLLOW = "follow = true, poll_interval = '50 ms'"
NO_FOLLOW = "follow = false, poll_interval = '50 ms'"
DEADLINE = 180.0  # seconds a run may take to make the progress a kill waits for


def prepare(
    tmp_path: Path, name: str, events: int, chunk: str, data: Path | None = None, follow: bool = False
) -> tuple[Path, Path]:
    """The pipeline `name` over the generated clicks (written once to clicks.ndjson), or over
    `data` when given (a file the test feeds)."""
    everything = tmp_path / "clicks.ndjson"
    if not everything.exists():
        con = duckdb.connect()
        con.register("clicks", generated_clicks(events, seed=11, rate=2000))
        con.execute(f"COPY (SELECT * EXCLUDE (arrival_time, country) FROM clicks) TO '{everything}' (FORMAT json)")
    out = tmp_path / name
    pipeline = tmp_path / f"{name}.sql"
    pipeline.write_text(
        PIPELINE.format(data=data or everything, out=out, chunk=chunk, follow=FOLLOW if follow else NO_FOLLOW)
    )
    return pipeline, out


def output_rows(out: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect()
    rows = {
        "raw": con.sql(
            f"SELECT * FROM read_parquet('{out}/raw/**/*.parquet', hive_partitioning = true) ORDER BY ALL"
        ).fetchall(),
        "minutes": con.sql(f"SELECT * FROM read_json('{out}/minutes/**/*.json.gz') ORDER BY ALL").fetchall(),
        "sessions": con.sql(f"SELECT * FROM read_parquet('{out}/sessions/**/*.parquet') ORDER BY ALL").fetchall(),
    }
    return rows


def object_count(out: Path) -> int:
    return sum(1 for f in out.rglob("*") if f.is_file()) if out.exists() else 0


def line_parts(content: bytes, parts: int, rng: random.Random) -> list[bytes]:
    """`content` cut at random line ends into `parts` pieces, none empty."""
    ends = (np.flatnonzero(np.frombuffer(content, np.uint8) == ord("\n")) + 1).tolist()
    cuts = sorted(rng.sample(ends[:-1], parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, len(content)]
    return [content[a:b] for a, b in pairwise(bounds)]


def run_with_kills(pipeline: Path, data: Path, content: bytes, out: Path, state: Path, kills: int, seed: int) -> int:
    """Feed `content` to the followed file `data` in kills + 1 parts. With each part but the last a
    run starts, and is SIGKILLed once 1 to 3 more objects have reached `out` (its progress: a
    followed file never ends, so the kill always lands mid-run). The last part is read by a run
    that does not follow, which must finish. Returns the kills done."""
    rng = random.Random(seed)
    parts = line_parts(content, kills + 1, rng)
    data.write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "flowsql", "run", str(pipeline), "--state-dir", str(state), "--quiet"]
    done = 0
    for part in parts[:-1]:
        before = object_count(out)
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with data.open("ab") as feed:
            feed.write(part)
        target = before + rng.randint(1, 3)
        try:
            wait_until(
                lambda target=target: object_count(out) >= target, DEADLINE, f"{target - before} new objects", process
            )
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
        done += 1
    with data.open("ab") as feed:
        feed.write(parts[-1])
    pipeline.write_text(pipeline.read_text().replace(FOLLOW, NO_FOLLOW))
    final = subprocess.run(command, env=env, capture_output=True, timeout=600)
    assert final.returncode == 0, final.stderr.decode()
    return done


def check_crashes(tmp_path: Path, events: int, kills: int, chunk: str) -> int:
    reference_pipeline, reference_out = prepare(tmp_path, "reference", events, chunk)
    result = run_cli("run", str(reference_pipeline), "--no-checkpoint")
    assert result.code == 0, result.stderr
    expected = output_rows(reference_out)
    assert all(expected.values())

    fed = tmp_path / "fed.ndjson"
    crashed_pipeline, crashed_out = prepare(tmp_path, "crashed", events, chunk, data=fed, follow=True)
    content = (tmp_path / "clicks.ndjson").read_bytes()
    survived = run_with_kills(crashed_pipeline, fed, content, crashed_out, tmp_path / "state", kills, seed=events)
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
    reference_pipeline, reference_out = prepare(tmp_path, "reference", 150_000, "128 KB")
    pipeline, out = prepare(tmp_path, "stopped", 150_000, "128 KB", follow=True)
    assert run_cli("run", str(reference_pipeline), "--no-checkpoint").code == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "flowsql", "run", str(pipeline), "--state-dir", str(state)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Running, with a first checkpoint behind it; a followed file keeps it running until the signal.
    wait_until(lambda: (state / "stopped.flowsql-state" / "CURRENT").exists(), 60, "first checkpoint", process)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert time.monotonic() - started < 10
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert "stopping" in stderr
    assert (state / "stopped.flowsql-state" / "CURRENT").exists()
    pipeline.write_text(pipeline.read_text().replace(FOLLOW, NO_FOLLOW))
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
