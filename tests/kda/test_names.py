"""KDA's naming rules: unquoted names upper-cased, quoted kept; APPROXIMATE_ARRIVAL_TIME;
INSERT INTO a stream with a column list fills the others with NULL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

PIPELINE = """CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    ticker_symbol VARCHAR(4), "lowerCase" DOUBLE, arrived TIMESTAMP, "unset" INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM" (ticker_symbol, arrived, "lowerCase")
SELECT STREAM "ticker_symbol", "APPROXIMATE_ARRIVAL_TIME", price * 2 FROM "SOURCE_SQL_STREAM_001"
WHERE "ticker_symbol" = 'WMT';
"""


def test_names_arrival_time_and_insert_column_list(tmp_path: Path) -> None:
    pipeline = tmp_path / "names.sql"
    pipeline.write_text(PIPELINE)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        {"TICKER_SYMBOL": "WMT", "lowerCase": 100.0, "ARRIVED": "2024-05-01 10:00:20", "unset": None},
        {"TICKER_SYMBOL": "WMT", "lowerCase": 102.0, "ARRIVED": "2024-05-01 10:01:00", "unset": None},
        {"TICKER_SYMBOL": "WMT", "lowerCase": 104.0, "ARRIVED": "2024-05-01 10:01:30", "unset": None},
    ]
