"""`SET state_memory`: session state larger than the budget spills to disk and the run goes on,
with the batch answer; a run killed mid-way and restarted from its checkpoint gives it too.
Bad budgets are refused naming the key."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from flowsql.engine import Engine, plan_pipeline
from flowsql.pipeline import parse_text
from tests.checkpoint.test_crash_recovery import FOLLOW, NO_FOLLOW, run_with_kills
from tests.conftest import run_cli

ROWS = 60_000
NOTE_CHARS = 1_600  # ~100 MB of open-session rows in all: more than the 64 MB budget
START = datetime(2024, 1, 1)

# The greatest md5 of a session's notes. By arg_max, sessions keep their rows; by max, whose
# partials merge, they keep partial aggregates (far under the budget).
ROWS_KEPT = "arg_max(md5(note), md5(note))"
PARTIALS_KEPT = "max(md5(note))"
PIPELINE = """
SET state_memory = '64 MB';
SET checkpoint_interval = '1 s';
CREATE SOURCE s (id BIGINT, user_id VARCHAR, amount BIGINT, note VARCHAR, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = '{data}', chunk_size = '4 MB', {follow});
CREATE SINK ids WITH (connector = 'file', path = '{out}/ids', format = 'json', buffer_interval = '0 s');
CREATE SINK sessions WITH (connector = 'file', path = '{out}/sessions', format = 'json', buffer_interval = '0 s');
INSERT INTO ids SELECT id FROM s;
INSERT INTO sessions
SELECT window_start, window_end, user_id, count(*) AS n, sum(amount) AS total,
    {top} AS top_note
FROM SESSION(s, ts, INTERVAL '1 hour') GROUP BY ALL;
"""


def row(i: int) -> dict:
    # Ten minutes of events over 300 users: no session closes before the end of the input.
    digest = hashlib.md5(str(i).encode()).hexdigest()
    return {
        "id": i,
        "user_id": f"u{i % 300}",
        "amount": i % 97,
        "note": digest * (NOTE_CHARS // 32),
        "ts": (START + timedelta(milliseconds=i * 10)).isoformat(sep=" "),
    }


def write_input(path: Path) -> bytes:
    content = "".join(json.dumps(row(i)) + "\n" for i in range(ROWS)).encode()
    path.write_bytes(content)
    return content


def batch_answer(data: Path) -> list[tuple]:
    con = duckdb.connect()
    return con.execute(f"""
        SELECT min(ts) AS window_start, max(ts) + INTERVAL 1 HOUR AS window_end, user_id, count(*) AS n,
               sum(amount) AS total, max(md5(note)) AS top_note
        FROM read_json('{data}', columns = {{id: 'BIGINT', user_id: 'VARCHAR', amount: 'BIGINT',
                                             note: 'VARCHAR', ts: 'TIMESTAMP'}})
        GROUP BY user_id ORDER BY ALL""").fetchall()


def delivered(out: Path) -> list[tuple]:
    con = duckdb.connect()
    return con.execute(f"""
        SELECT window_start::TIMESTAMP, window_end::TIMESTAMP, user_id, n, total, top_note
        FROM read_json('{out}/sessions/**/*.json') ORDER BY ALL""").fetchall()


@pytest.mark.slow
@pytest.mark.parametrize("top", [ROWS_KEPT, PARTIALS_KEPT])
def test_sessions_past_the_budget_spill_and_survive_a_kill(tmp_path: Path, top: str) -> None:
    data = tmp_path / "all.ndjson"
    content = write_input(data)
    expected = batch_answer(data)
    assert len(expected) == 300

    pipeline = tmp_path / "p.sql"
    pipeline.write_text(PIPELINE.format(data=data, out=tmp_path / "whole", follow=NO_FOLLOW, top=top))
    result = run_cli("run", str(pipeline), "--no-checkpoint")
    assert result.code == 0, result.stderr
    assert delivered(tmp_path / "whole") == expected

    fed = tmp_path / "fed.ndjson"
    killed = tmp_path / "killed.sql"
    killed.write_text(PIPELINE.format(data=fed, out=tmp_path / "killed", follow=FOLLOW, top=top))
    run_with_kills(killed, fed, content, tmp_path / "killed" / "ids", tmp_path / "state", kills=1, seed=5)
    assert delivered(tmp_path / "killed") == expected


def test_open_sessions_larger_than_the_budget_spill_to_disk() -> None:
    text = PIPELINE.format(data="unused", out="unused", follow=NO_FOLLOW, top=ROWS_KEPT)
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("user_id", pa.string()),
            ("amount", pa.int64()),
            ("note", pa.string()),
            ("ts", pa.timestamp("us")),
            ("arrival_time", pa.timestamp("us")),
        ]
    )
    outputs: list[pa.Table] = []
    engine = Engine(
        plan_pipeline(parse_text(text), {"s": schema}),
        lambda sink, table: outputs.append(table) if sink == "sessions" else None,
        lambda op, rejected: None,
        state_memory=64 * 1024**2,
    )
    assert engine.spill_directory is not None
    spilled = 0
    for first in range(0, ROWS, 5_000):
        rows = [
            dict(row(i), ts=START + timedelta(milliseconds=i * 10), arrival_time=START)
            for i in range(first, first + 5_000)
        ]
        engine.push("s", pa.Table.from_pylist(rows, schema))
        spilled = max(spilled, sum(f.stat().st_size for f in Path(engine.spill_directory).rglob("*") if f.is_file()))
    assert engine.buffered_rows() == ROWS
    assert spilled > 0, "state past the budget must go to the spill directory"
    engine.finish()
    assert sum(r["n"] for t in outputs for r in t.to_pylist()) == ROWS


@pytest.mark.parametrize(
    ("value", "detail"),
    [("'lots'", "a size is a number with a unit"), ("'1 MB'", "at least 16 MiB"), ("'0 MB'", "greater than 0")],
)
def test_a_bad_budget_is_refused_naming_the_key(tmp_path: Path, value: str, detail: str) -> None:
    (tmp_path / "x.ndjson").write_text(json.dumps(row(0)) + "\n")
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(
        PIPELINE.replace("'64 MB'", value).format(
            data=tmp_path / "x.ndjson", out=tmp_path, follow=NO_FOLLOW, top=ROWS_KEPT
        )
    )
    result = run_cli("validate", str(pipeline))
    assert result.code == 2, result.stderr
    assert "state_memory" in result.stderr and detail in result.stderr
