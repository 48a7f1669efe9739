"""Zero-width sliding windows of the KDA reference's window examples: ROWS CURRENT ROW holds
the row alone, RANGE CURRENT ROW the rows of the same ROWTIME that arrived so far."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

PIPELINE = """CREATE SOURCE "WEATHERSTREAM" (arrival_time TIMESTAMP, "city" VARCHAR, "temp" INTEGER)
WITH (connector = 'file', path = 'pipelines/kda/data/weather.json');
CREATE SINK "OUT" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "OUT" (city VARCHAR(16), same_time_count BIGINT, just_me BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT"
SELECT STREAM city, COUNT(*) OVER (RANGE CURRENT ROW), COUNT(*) OVER (ROWS CURRENT ROW) FROM WEATHERSTREAM;
"""


def test_zero_width_windows(tmp_path: Path) -> None:
    pipeline = tmp_path / "zero.sql"
    pipeline.write_text(PIPELINE)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    # Readings 1-2, 10-11 and 17-18 share a ROWTIME: the second of each pair sees two rows.
    assert [r["SAME_TIME_COUNT"] for r in rows] == [1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2]
    assert {r["JUST_ME"] for r in rows} == {1}
