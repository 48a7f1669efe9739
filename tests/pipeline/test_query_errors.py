"""A record the query fails on (a cast it rejects, a division by zero, error()) does not end the
run: it goes to the error output as `query-failed` with DuckDB's reason, the output is the query's
answer over the other records, and a restart does not meet it again. `on_query_error = 'fail'`
ends the run at it with exit 1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import duckdb

from tests.conftest import run_cli

SOURCE = """CREATE SOURCE events (id BIGINT, name VARCHAR, x BIGINT, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = '{path}', chunk_size = '4 KB');
CREATE SINK out WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
CREATE SINK windows WITH (connector = 'file', path = '{out}-windows', format = 'json', buffer_interval = '0 s');
INSERT INTO out SELECT id, CAST(name AS INTEGER) AS number, 1000 // x AS share,
    CASE WHEN name = '13' THEN error('thirteen is unlucky') ELSE name END AS name FROM events;
INSERT INTO windows SELECT window_start, count(*) AS n, list(CAST(name AS INTEGER) ORDER BY id) AS numbers,
    max(1000 // x) AS top FROM TUMBLE(events, ts, INTERVAL '10 seconds') GROUP BY ALL;
"""
BAD = {
    7: "Could not convert string 'oops' to INT32",
    13: "thirteen is unlucky",
    150: "Division by zero",
    151: "Could not convert string 'x1' to INT32",
    399: "Division by zero",
}


def write_input(tmp_path: Path, setting: str = "") -> tuple[Path, list[dict]]:
    rows = []
    for i in range(400):
        name = "oops" if i == 7 else "x1" if i == 151 else str(i)
        rows.append(
            {
                "id": i,
                "name": name,
                "x": 0 if i in (150, 399) else 1 + i % 9,
                "ts": f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}",
            }
        )
    data = tmp_path / "events.ndjson"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(setting + SOURCE.format(path=data, out=tmp_path / "out"))
    return pipeline, rows


def read_json(folder: Path, errors: bool = False) -> list[dict]:
    files = [f for f in sorted(folder.rglob("*.json")) if ("errors" in f.parts) == errors]
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def expected(rows: list[dict], query: str, bad: dict[int, str]) -> list[tuple]:
    con = duckdb.connect()
    good = [r for r in rows if r["id"] not in bad]
    con.execute("CREATE TABLE events (id BIGINT, name VARCHAR, x BIGINT, ts TIMESTAMP)")
    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", [[r["id"], r["name"], r["x"], r["ts"]] for r in good])
    return sorted(con.execute(query).fetchall())


def test_records_the_query_fails_on_go_to_the_error_output_and_the_run_goes_on(tmp_path: Path) -> None:
    pipeline, rows = write_input(tmp_path)
    result = run_cli("run", str(pipeline))
    assert result.code == 0, result.stderr
    assert "__flowsql" not in result.stderr

    out = sorted(tuple(r.values()) for r in read_json(tmp_path / "out"))
    assert out == expected(rows, "SELECT id, CAST(name AS INTEGER), 1000 // x, name FROM events", BAD)
    # The window query calls no error(): record 13 is good there.
    window_bad = {i: m for i, m in BAD.items() if i != 13}
    windows = sorted((r["n"], r["numbers"], r["top"]) for r in read_json(tmp_path / "out-windows"))
    assert windows == expected(
        rows,
        "SELECT count(*), list(CAST(name AS INTEGER) ORDER BY id), max(1000 // x) "
        "FROM events GROUP BY time_bucket(INTERVAL '10 seconds', ts)",
        window_bad,
    )

    # A source's bad records go to the error output of the first sink it feeds: both queries' here.
    assert not (tmp_path / "out-windows" / "errors").exists()
    errors = read_json(tmp_path / "out", errors=True)
    assert {e["errorCode"] for e in errors} == {"query-failed"}
    assert (tmp_path / "out" / "errors" / "query-failed").is_dir()
    for target, wanted in (("out", BAD), ("windows", window_bad)):
        mine = [e for e in errors if e["errorMessage"].startswith(f"the query into '{target}' failed: ")]
        by_id = {json.loads(base64.b64decode(e["rawData"]))["id"]: e for e in mine}
        assert sorted(by_id) == sorted(wanted) and len(mine) == len(wanted)
        for record_id, error in by_id.items():
            assert wanted[record_id] in error["errorMessage"]
            assert "__flowsql" not in error["errorMessage"] and "LINE 1" not in error["errorMessage"]
            assert error["source"] == "events"
            assert json.loads(base64.b64decode(error["rawData"]))["name"] == rows[record_id]["name"]
    assert len(errors) == len(BAD) + len(window_bad)
    assert f"{len(BAD) + len(window_bad)} errors" in result.stderr
    assert "made the query into 'out' (" in result.stderr


def test_a_restart_does_not_meet_the_bad_record_again(tmp_path: Path) -> None:
    pipeline, rows = write_input(tmp_path)
    state = tmp_path / "state"
    assert run_cli("run", str(pipeline), "--state-dir", str(state)).code == 0
    again = run_cli("run", str(pipeline), "--state-dir", str(state))
    assert again.code == 0, again.stderr
    assert "resumed from checkpoint" in again.stderr and "made the query" not in again.stderr
    assert len(read_json(tmp_path / "out", errors=True)) == 2 * len(BAD) - 1  # both queries' bad records, once


def test_on_query_error_fail_ends_the_run_with_a_clear_message(tmp_path: Path) -> None:
    pipeline, _ = write_input(tmp_path, "SET on_query_error = 'fail';\n")
    result = run_cli("run", str(pipeline))
    assert result.code == 1
    assert "p.sql:7:1: the query into 'out' failed on a record of source 'events'" in result.stderr
    assert "Could not convert string 'oops' to INT32" in result.stderr
    assert '"name": "oops"' in result.stderr or '"name":"oops"' in result.stderr
    assert "on_query_error = 'skip'" in result.stderr
    assert "__flowsql" not in result.stderr and "SELECT" not in result.stderr


def test_on_query_error_takes_skip_or_fail(tmp_path: Path) -> None:
    pipeline, _ = write_input(tmp_path, "SET on_query_error = 'ignore';\n")
    result = run_cli("validate", str(pipeline))
    assert result.code == 2
    assert "on_query_error" in result.stderr and "skip" in result.stderr and "fail" in result.stderr
