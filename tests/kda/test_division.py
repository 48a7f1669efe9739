"""KDA's division: integers divide to an integer truncated toward zero, anything else as DOUBLE."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

ROWS = [
    {"arrival_time": f"2024-05-01 10:00:0{n}", "a": a, "b": b, "x": x}
    for n, (a, b, x) in enumerate([(7, 2, 7.5), (-7, 2, -7.5), (9, 4, 1.0), (1, 3, 3.0)])
]


def test_integer_division_truncates_and_other_division_does_not(tmp_path: Path) -> None:
    data = tmp_path / "rows.json"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(f"""
CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "a" INTEGER, "b" BIGINT, "x" DOUBLE)
    WITH (connector = 'file', path = '{data}');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ints DOUBLE, lit DOUBLE, mixed DOUBLE, floats DOUBLE, casted DOUBLE, millis DOUBLE, nested DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "a" / "b", "a" / 2, "a" / 2.0, "x" / "b", CAST("a" AS DOUBLE) / "b",
                  TSDIFF(ROWTIME, TIMESTAMP '2024-05-01 09:59:58') / 1000, ("a" - 1) / ("b" + 1)
    FROM "SOURCE_SQL_STREAM_001";
""")
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    rows = [list(json.loads(line).values()) for line in result.stdout.splitlines() if line.strip()]
    assert rows == [
        [3.0, 3.0, 3.5, 3.75, 3.5, 2.0, 2.0],
        [-3.0, -3.0, -3.5, -3.75, -3.5, 3.0, -2.0],
        [2.0, 4.0, 4.5, 0.25, 2.25, 4.0, 1.0],
        [0.0, 0.0, 0.5, 1.0, 1 / 3, 5.0, 0.0],
    ]


def test_integer_division_in_a_join_pump(tmp_path: Path) -> None:
    data = tmp_path / "rows.json"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(f"""
CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "a" INTEGER, "b" BIGINT, "x" DOUBLE)
    WITH (connector = 'file', path = '{data}');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "L" ("k" INTEGER, "a" INTEGER);
CREATE OR REPLACE PUMP "PL" AS INSERT INTO "L" SELECT STREAM 1, "a" FROM "SOURCE_SQL_STREAM_001" WHERE "a" > 0;
CREATE OR REPLACE STREAM "R" ("k" INTEGER, "b" BIGINT, "x" DOUBLE);
CREATE OR REPLACE PUMP "PR" AS INSERT INTO "R" SELECT STREAM 1, "b", "x" FROM "SOURCE_SQL_STREAM_001" WHERE "a" < 0;
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (a INTEGER, ints DOUBLE, floats DOUBLE);
CREATE OR REPLACE PUMP "J" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM l."a", l."a" / r."b", l."a" / r."x"
    FROM "L" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS l
    JOIN "R" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS r ON l."k" = r."k";
""")
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    rows = sorted(tuple(json.loads(line).values()) for line in result.stdout.splitlines() if line.strip())
    # the one right row: b = 2, x = -7.5
    assert rows == [(1, 0.0, 1 / -7.5), (7, 3.0, 7 / -7.5), (9, 4.0, 9 / -7.5)]
