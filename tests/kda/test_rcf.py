"""RANDOM_CUT_FOREST and RANDOM_CUT_FOREST_WITH_EXPLANATION run through the CLI: injected
spikes score well above the rest, runs are repeatable, the explanation adds up to the score,
and a run killed with SIGKILL and restarted from its checkpoints gives the scores of one
uninterrupted run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.waiting import wait_until

SPIKES = {400, 555, 730, 910}


def _write_series(path: Path, count: int, spikes: set[int] = SPIKES, seed: int = 3) -> None:
    """A reading per second around 50 with noise; readings at `spikes` jump to 95..105."""
    rng = random.Random(seed)
    start = datetime(2024, 5, 1, 10, 0, 0)
    with path.open("w") as out:
        for number in range(count):
            value = rng.uniform(95, 105) if number in spikes else rng.gauss(50, 2)
            at = (start + timedelta(seconds=number)).isoformat(sep=" ")
            out.write(json.dumps({"arrival_time": at, "id": number, "sensor": "s1", "value": round(value, 3)}) + "\n")


def _pipeline(
    tmp_path: Path, data: Path, call: str, sink: str = "connector = 'stdout', format = 'json'", extra: str = ""
) -> Path:
    text = f"""
CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "id" BIGINT, "sensor" VARCHAR, "value" DOUBLE)
    WITH (connector = 'file', path = '{data}'{extra});
CREATE SINK "DESTINATION_SQL_STREAM" WITH ({sink});
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("id" BIGINT, "value" DOUBLE, ANOMALY_SCORE DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "id", "value", ANOMALY_SCORE
    FROM TABLE({call});
"""
    pipeline = tmp_path / "rcf.sql"
    pipeline.write_text(text)
    return pipeline


def _run(pipeline: Path) -> list[dict[str, object]]:
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_spikes_score_well_above_the_rest_and_runs_repeat(tmp_path: Path) -> None:
    data = tmp_path / "series.json"
    _write_series(data, 1000)
    # The forest scores the cursor's numeric columns only: "id" goes through it as text.
    pipeline = _pipeline(
        tmp_path,
        data,
        'RANDOM_CUT_FOREST(CURSOR(SELECT STREAM "value", CAST("id" AS VARCHAR) '
        'AS "id_text" FROM "SOURCE_SQL_STREAM_001"), 100, 256, 100000, 1)',
    )
    text = pipeline.read_text().replace(
        'SELECT STREAM "id", "value", ANOMALY_SCORE', 'SELECT STREAM CAST("id_text" AS BIGINT), "value", ANOMALY_SCORE'
    )
    pipeline.write_text(text)
    rows = _run(pipeline)
    assert [r["id"] for r in rows] == list(range(1000))
    # The forest gives 0 until it has seen 1 + 256/4 points, as KDA shows zeros at first.
    assert all(r["ANOMALY_SCORE"] == 0 for r in rows[:65]) and rows[65]["ANOMALY_SCORE"] > 0
    normal = [r["ANOMALY_SCORE"] for r in rows[100:] if r["id"] not in SPIKES]
    spikes = [r["ANOMALY_SCORE"] for r in rows if r["id"] in SPIKES]
    assert min(spikes) > 2 * max(normal), (spikes, max(normal))
    assert _run(pipeline) == rows  # a fixed seed: the same scores every run


def test_shingles_and_parameters(tmp_path: Path) -> None:
    """A level that alternates 50/60 every reading; with shingles of 2 the pattern is learnt and
    a repeat of the same level (two 50s in a row) stands out, which a single reading cannot show."""
    data = tmp_path / "alternating.json"
    start = datetime(2024, 5, 1, 10, 0, 0)
    with data.open("w") as out:
        for number in range(800):
            value = 50.0 if number % 2 == 0 else 60.0
            if number == 601:  # breaks the alternation with a value seen all the time
                value = 50.0
            at = (start + timedelta(seconds=number)).isoformat(sep=" ")
            out.write(json.dumps({"arrival_time": at, "id": number, "sensor": "s", "value": value}) + "\n")
    cursor = 'CURSOR(SELECT STREAM "value" FROM "SOURCE_SQL_STREAM_001")'
    pipeline = _pipeline(tmp_path, data, f"RANDOM_CUT_FOREST({cursor}, 50, 128, 10000, 2)")
    pipeline.write_text(pipeline.read_text().replace('SELECT STREAM "id", "value"', 'SELECT STREAM 0, "value"'))
    rows = _run(pipeline)
    shingled = [r["ANOMALY_SCORE"] for r in rows]
    assert all(s == 0 for s in shingled[:33])  # 1 + 128/4 shingles before the first score
    assert shingled[601] > 2 * max(shingled[200:601] + shingled[603:])
    pipeline.write_text(pipeline.read_text().replace("10000, 2)", "10000, 1)"))
    single = [r["ANOMALY_SCORE"] for r in _run(pipeline)]
    assert single[601] < 2 * max(single[200:601])  # one reading alone shows nothing unusual


@pytest.mark.parametrize(
    ("call", "message", "at"),
    [
        (
            'RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 0)',
            "numberOfTrees must be between 1 and 1000, not 0",
            "0)",
        ),
        (
            'RANDOM_CUT_FOREST(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 100, 256, 100000, 31)',
            "shingleSize must be between 1 and 30, not 31",
            "31",
        ),
        (
            'RANDOM_CUT_FOREST(CURSOR(SELECT STREAM "sensor" FROM "SOURCE_SQL_STREAM_001"))',
            "gives no numeric column",
            '"sensor"',
        ),
        (
            'RANDOM_CUT_FOREST_WITH_EXPLANATION(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), '
            "100, 256, 100000, 1, 1)",
            "withDirectionality must be true or false",
            "1)",
        ),
        (
            'HOTSPOTS(CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 1000, 0.2, 17)',
            "HOTSPOTS is not supported by flowsql's KDA front end: the reference names",
            "CURSOR",
        ),
    ],
)
def test_refusals_name_their_place(tmp_path: Path, call: str, message: str, at: str) -> None:
    """Each refusal points at the argument (or the cursor column) that is wrong, exit code 2."""
    data = tmp_path / "series.json"
    _write_series(data, 10)
    pipeline = _pipeline(tmp_path, data, call)
    result = run_cli("validate", str(pipeline))
    assert result.code == 2, result.stdout + result.stderr
    assert message in result.stderr
    line = pipeline.read_text().splitlines()[7]
    assert f"rcf.sql:8:{line.rfind(at) + 1}:" in result.stderr, result.stderr


# -- kill -9 and restart ---------------------------------------------------------------------


def _epoch(state: Path) -> int:
    """The epoch of the last committed checkpoint (0 before the first)."""
    for current in state.glob("*/CURRENT"):
        try:
            return int(current.read_text().strip().split("-")[1])
        except (FileNotFoundError, IndexError, ValueError):
            return 0
    return 0


def _run_killed_at_checkpoints(pipeline: Path, state: Path, kills: int) -> int:
    """Run; SIGKILL the run once it has committed two more checkpoints than it started from;
    restart; until a run finishes. Returns the kills done."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = 0
    for _ in range(kills + 1):
        start = _epoch(state)
        process = subprocess.Popen(
            [sys.executable, "-m", "flowsql", "run", str(pipeline), "--state-dir", str(state), "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if done < kills:
            wait_until(
                lambda process=process, start=start: process.poll() is not None or _epoch(state) >= start + 2,
                120,
                "two more checkpoints or the run's end",
            )
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                done += 1
                continue
        process.wait(timeout=300)
        assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""
        return done
    raise AssertionError("the run never finished")


def _delivered(out: Path) -> list[dict[str, object]]:
    rows = [json.loads(line) for f in out.rglob("*.json") for line in f.read_text().splitlines() if line.strip()]
    return sorted(rows, key=lambda r: int(r["id"]))  # type: ignore[call-overload]


@pytest.mark.slow
def test_restart_after_sigkill_continues_the_same_forest(tmp_path: Path) -> None:
    data = tmp_path / "series.json"
    _write_series(data, 6000, spikes={1000, 2500, 4000, 5500})
    call = (
        'RANDOM_CUT_FOREST(CURSOR(SELECT STREAM "value", CAST("id" AS VARCHAR) AS "key" '
        'FROM "SOURCE_SQL_STREAM_001"), 30, 64, 5000, 3)'
    )

    def pipeline(name: str) -> tuple[Path, Path]:
        out = tmp_path / name
        sink = f"connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s'"
        path = _pipeline(tmp_path, data, call, sink=sink, extra=", chunk_size = '4 KB'")
        text = path.read_text().replace('SELECT STREAM "id", "value"', 'SELECT STREAM CAST("key" AS BIGINT), "value"')
        named = tmp_path / f"{name}.sql"
        named.write_text(text + "\nSET checkpoint_interval = '0.05 s';\n")
        return named, out

    reference, reference_out = pipeline("reference")
    result = run_cli("run", "--quiet", "--no-checkpoint", str(reference))
    assert result.code == 0, result.stderr
    expected = _delivered(reference_out)
    assert [r["id"] for r in expected] == list(range(6000))

    crashed, crashed_out = pipeline("crashed")
    kills = _run_killed_at_checkpoints(crashed, tmp_path / "state", kills=3)
    assert kills == 3
    assert _delivered(crashed_out) == expected  # every score as in the uninterrupted run, none twice
