"""Rows the engine turns away (late, or a record a query fails on) reach the error output as
they were read: the record's own bytes and its file@offset, so they can be replayed."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


def errors_in(out: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((out / "errors").rglob("*.json")) for line in f.read_text().splitlines()]


@pytest.mark.parametrize("form", ["json", "csv"])
def test_late_and_failing_records_keep_their_bytes_and_position(tmp_path: Path, form: str) -> None:
    if form == "json":
        lines = [f'{{"id": {i},   "code": "{i}", "ts": "2024-01-01 00:{i:02d}:00"}}' for i in range(16)]
        late = '{"id":  99, "code": "99",  "ts": "2024-01-01 00:00:30"}'
        oops = '{"id": 50, "code": "oops", "ts": "2024-01-01 00:10:30"}'
    else:
        lines = [f"{i},{i},2024-01-01 00:{i:02d}:00" for i in range(16)]
        late, oops = '99,"99",2024-01-01 00:00:30', "50,oops,2024-01-01 00:10:30"
    # A record a chunk (each is longer than a chunk), and twelve of them before the late one:
    # however micro-batches are joined (at most five), the 00:00 window has closed by then.
    lines[11:11] = [oops, late]
    data = "\n".join(lines) + "\n"
    path = tmp_path / f"in.{form}"
    path.write_text(data)
    out = tmp_path / "out"
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(f"""
CREATE SOURCE s (id BIGINT, code VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '10' SECOND)
WITH (connector = 'file', path = '{path}', format = '{form}', chunk_size = '16 B');
CREATE SINK o WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
INSERT INTO o SELECT window_start, count(*) AS n, sum(CAST(code AS INTEGER)) AS total
FROM TUMBLE(s, ts, INTERVAL '1' MINUTE) GROUP BY ALL;
""")
    result = run_cli("run", str(pipeline), "--no-checkpoint")
    assert result.code == 0, result.stderr
    errors = {e["errorCode"]: e for e in errors_in(out)}
    assert set(errors) == {"late", "query-failed"}
    for code, line in (("late", late), ("query-failed", oops)):
        assert base64.b64decode(errors[code]["rawData"]).decode() == line
        assert errors[code]["position"] == f"{path}@{data.index(line)}"


def test_the_late_log_lines_add_up_to_the_summary(tmp_path: Path) -> None:
    """Two window queries over one source: each late record is counted once per query that
    turned it away, in the log lines (per query) and in the summary alike."""
    lines = [f'{{"id": {i}, "ts": "2024-01-01 00:{i:02d}:00"}}' for i in range(20)]
    # A record a chunk, and ten records before the first late one: however micro-batches are
    # joined (at most five), the windows of 00:00 have closed by then, for both queries.
    for at in (10, 13, 16):
        lines.insert(at, '{"id": 99, "ts": "2024-01-01 00:00:10"}')
    path = tmp_path / "in.json"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(f"""
CREATE SOURCE s (id BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'file', path = '{path}', chunk_size = '16 B');
CREATE SINK a WITH (connector = 'file', path = '{out}/a', format = 'json', buffer_interval = '0 s');
CREATE SINK b WITH (connector = 'file', path = '{out}/b', format = 'json', buffer_interval = '0 s');
INSERT INTO a SELECT window_start, count(*) AS n FROM TUMBLE(s, ts, INTERVAL '1' MINUTE) GROUP BY ALL;
INSERT INTO b SELECT window_start, max(id) AS top FROM TUMBLE(s, ts, INTERVAL '2' MINUTE) GROUP BY ALL;
""")
    result = run_cli("run", str(pipeline), "--no-checkpoint", "--summary-json", str(tmp_path / "s.json"))
    assert result.code == 0, result.stderr
    import re

    logged = [(int(n), target) for n, target in re.findall(r"dropped (\d+) late records for '(\w+)'", result.stderr)]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["late"] == sum(n for n, _ in logged) == 6
    assert {target for _, target in logged} == {"a", "b"}
    assert len(errors_in(out / "a")) == 6  # a source's error output is its first sink's
