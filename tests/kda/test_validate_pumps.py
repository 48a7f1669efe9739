"""`flowsql validate` binds every pump's SQL in DuckDB, whatever operator runs it: a pump whose
SQL cannot run is refused at the pump, before any data is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

SOURCE = """CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" DOUBLE)
    WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), v DOUBLE);
"""
BAD = "\"ticker_symbol\" - TIMESTAMP '2024-01-01 00:00:00'"  # VARCHAR minus TIMESTAMP binds nowhere
PUMPS = {
    "per row": f"""SELECT STREAM "ticker_symbol", {BAD} FROM "SOURCE_SQL_STREAM_001";""",
    "tumbling": f"""SELECT STREAM "ticker_symbol", MAX({BAD}) FROM "SOURCE_SQL_STREAM_001"
    GROUP BY "ticker_symbol", STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);""",
    "sliding": f"""SELECT STREAM "ticker_symbol", MAX({BAD}) OVER (PARTITION BY "ticker_symbol" ROWS 2 PRECEDING)
    FROM "SOURCE_SQL_STREAM_001";""",
    "stagger": f"""SELECT STREAM "ticker_symbol", MAX({BAD}) FROM "SOURCE_SQL_STREAM_001"
    WINDOWED BY STAGGER (PARTITION BY "ticker_symbol" RANGE INTERVAL '1' MINUTE);""",
}


@pytest.mark.parametrize("kind", list(PUMPS))
def test_a_pump_whose_sql_cannot_bind_is_refused_at_validate(tmp_path: Path, kind: str) -> None:
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(
        SOURCE + 'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"\n    ' + PUMPS[kind] + "\n"
    )
    result = run_cli("validate", str(pipeline))
    assert result.code == 2, result.stdout + result.stderr
    assert "app.sql:5:1:" in result.stderr and "-(VARCHAR, TIMESTAMP)" in result.stderr, result.stderr


def test_a_join_pump_whose_sql_cannot_bind_is_refused_at_validate(tmp_path: Path) -> None:
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(
        SOURCE
        + """CREATE OR REPLACE STREAM "A" ("ticker_symbol" VARCHAR(4));
CREATE OR REPLACE PUMP "PA" AS INSERT INTO "A" SELECT STREAM "ticker_symbol" FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE PUMP "J" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM a."ticker_symbol", a."""
        + BAD
        + """
    FROM "A" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS a
    JOIN "A" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS b ON a."ticker_symbol" = b."ticker_symbol";
"""
    )
    result = run_cli("validate", str(pipeline))
    assert result.code == 2, result.stdout + result.stderr
    assert "app.sql:7:1:" in result.stderr and "-(VARCHAR, TIMESTAMP)" in result.stderr, result.stderr
