"""Pumps that fill one stream together: UNION ALL in a pump, and several pumps into one
in-application stream. Expected rows are worked out by hand from pipelines/kda/data/stock_ticks.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.kda.helpers import run_example, unordered
from tests.kda.test_errors import BINDINGS

# |change| >= 1.0: AMZN 10:00:05, 10:00:40, 10:00:59; WMT 10:01:30; XTC 10:02:10.
MOVES = [
    ("2024-05-01 10:00:05", "AMZN", 100.0),
    ("2024-05-01 10:00:40", "AMZN", 102.0),
    ("2024-05-01 10:00:59", "AMZN", 101.0),
    ("2024-05-01 10:01:30", "WMT", 52.0),
    ("2024-05-01 10:02:10", "XTC", 20.0),
]
# price < 60: WMT 10:00:20, 10:01:00, 10:01:30; XTC 10:02:10.
CHEAP = [
    ("2024-05-01 10:00:20", "WMT", 50.0),
    ("2024-05-01 10:01:00", "WMT", 51.0),
    ("2024-05-01 10:01:30", "WMT", 52.0),
    ("2024-05-01 10:02:10", "XTC", 20.0),
]


@pytest.mark.parametrize("chunk_size", [None, 130])
def test_union_all_pump_gives_the_rows_of_both_branches(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("union_all", tmp_path, chunk_size)
    expected = [{"TICK_TIME": t, "TICKER_SYMBOL": s, "REASON": "MOVE", "PRICE": p} for t, s, p in MOVES]
    expected += [{"TICK_TIME": t, "TICKER_SYMBOL": s, "REASON": "CHEAP", "PRICE": p} for t, s, p in CHEAP]
    assert unordered(rows) == unordered(expected)
    assert len(rows) == 9  # the XTC and WMT 10:01:30 ticks are in both branches, so twice


@pytest.mark.parametrize("chunk_size", [None, 130])
def test_two_pumps_fill_one_in_application_stream(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("multiple_pumps", tmp_path, chunk_size)
    # Per ticker and minute over MOVES + CHEAP: 10:00 AMZN 3 (max 102), WMT 1 (50);
    # 10:01 WMT 3 (10:01:00 cheap, 10:01:30 both; max 52); 10:02 XTC 2 (both pumps).
    assert unordered(rows) == unordered(
        [
            {"TICKER_SYMBOL": "AMZN", "FLAG_COUNT": 3, "MAX_PRICE": 102.0},
            {"TICKER_SYMBOL": "WMT", "FLAG_COUNT": 1, "MAX_PRICE": 50.0},
            {"TICKER_SYMBOL": "WMT", "FLAG_COUNT": 3, "MAX_PRICE": 52.0},
            {"TICKER_SYMBOL": "XTC", "FLAG_COUNT": 2, "MAX_PRICE": 20.0},
        ]
    )


def _validate(tmp_path: Path, text: str) -> tuple[int, str]:
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(BINDINGS + text)
    result = run_cli("validate", str(pipeline))
    return result.code, result.stderr


@pytest.mark.parametrize("keyword", ["UNION", "UNION DISTINCT", "EXCEPT"])
def test_distinct_union_of_streams_is_refused_at_its_keyword(tmp_path: Path, keyword: str) -> None:
    code, message = _validate(
        tmp_path,
        f"""CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, 1 FROM "SOURCE_SQL_STREAM_001"
  {keyword} SELECT STREAM ticker_symbol, 2 FROM "SOURCE_SQL_STREAM_001";""",
    )
    assert code == 2
    assert "app.sql:8:3:" in message and "is not supported" in message and "UNION ALL" in message


def test_pumps_giving_one_stream_different_rowtimes_are_refused(tmp_path: Path) -> None:
    code, message = _validate(
        tmp_path,
        """CREATE OR REPLACE STREAM "MID" (ticker_symbol VARCHAR(4), n INTEGER);
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "MID"
SELECT STREAM ticker_symbol, 1 FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "MID"
SELECT STREAM ticker_symbol, COUNT(*) FROM "SOURCE_SQL_STREAM_001"
GROUP BY ticker_symbol, STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '1' MINUTE);
CREATE OR REPLACE PUMP "OUT" AS INSERT INTO "DESTINATION_SQL_STREAM" SELECT STREAM * FROM "MID";""",
    )
    assert code == 2
    assert "app.sql:9:44:" in message and "give its ROWTIME differently" in message


def test_explain_shows_each_union_branch_and_each_pump() -> None:
    result = run_cli("explain", str(ROOT / "pipelines" / "kda" / "union_all.sql"))
    assert result.code == 0, result.stderr
    assert 'kda pump "FLAG_PUMP": UNION ALL branch 1 of 2: per row' in result.stdout
    assert 'kda pump "FLAG_PUMP": UNION ALL branch 2 of 2: per row' in result.stdout
    assert "WHERE ABS(change) >= 1.0" in result.stdout and "WHERE price < 60" in result.stdout
    result = run_cli("explain", str(ROOT / "pipelines" / "kda" / "multiple_pumps.sql"))
    assert result.code == 0, result.stderr
    assert result.stdout.count("-> view FLAGGED_TICKS") == 2
    assert 'kda pump "BIG_MOVE_PUMP"' in result.stdout and 'kda pump "CHEAP_PUMP"' in result.stdout


def test_a_pump_reading_what_its_stream_feeds_is_refused(tmp_path: Path) -> None:
    code, message = _validate(
        tmp_path,
        """CREATE OR REPLACE STREAM "MID" (ticker_symbol VARCHAR(4), n INTEGER);
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "MID"
SELECT STREAM ticker_symbol, 1 FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE STREAM "LATER" (ticker_symbol VARCHAR(4), n INTEGER);
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "LATER" SELECT STREAM ticker_symbol, n FROM "MID";
CREATE OR REPLACE PUMP "P3" AS INSERT INTO "MID" SELECT STREAM ticker_symbol, n + 1 FROM "LATER";
CREATE OR REPLACE PUMP "OUT" AS INSERT INTO "DESTINATION_SQL_STREAM" SELECT STREAM * FROM "MID";""",
    )
    assert code == 2
    assert "app.sql:11:" in message and "filled from 'MID'" in message and "loop" in message


def test_flink_compile_makes_one_view_of_the_pumps_into_a_stream() -> None:
    from flowsql.compile import compile_flink
    from flowsql.pipeline import load_pipeline
    from tests.kda.helpers import EXAMPLES

    script = compile_flink(load_pipeline(EXAMPLES / "multiple_pumps.sql")).script
    assert script.count("CREATE TEMPORARY VIEW `FLAGGED_TICKS` AS") == 1
    view = script.split("CREATE TEMPORARY VIEW `FLAGGED_TICKS` AS")[1].split(";")[0]
    assert view.count("UNION ALL") == 1 and "'MOVE'" in view and "'CHEAP'" in view


@pytest.mark.parametrize("chunk_size", [None, 130])
def test_pumps_from_two_sources_into_one_stream_close_windows_when_both_have_passed(
    tmp_path: Path, chunk_size: int | None
) -> None:
    """The merged stream's clock is the slower source's: no row of either is late downstream."""
    chunk = f", chunk_size = {chunk_size}" if chunk_size else ""
    pipeline = tmp_path / "two_sources.sql"
    pipeline.write_text(f"""
CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" REAL)
    WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json'{chunk});
CREATE SOURCE "SOURCE_SQL_STREAM_002" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" REAL)
    WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json'{chunk});
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "ALL_TICKS" (ticker_symbol VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "ALL_TICKS" SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "ALL_TICKS" SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_002";
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), ticks INTEGER);
CREATE OR REPLACE PUMP "COUNT" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker_symbol, COUNT(*) FROM "ALL_TICKS"
    GROUP BY ticker_symbol, STEP("ALL_TICKS".ROWTIME BY INTERVAL '1' MINUTE);
""")
    result = run_cli("run", "--no-checkpoint", str(pipeline), cwd=ROOT)
    assert result.code == 0, result.stderr
    assert ", 0 late" in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    # Each minute's counts of tests/kda/test_examples.py::test_tumbling_count..., twice over.
    assert unordered(rows) == unordered(
        [
            {"TICKER_SYMBOL": "AMZN", "TICKS": 6},
            {"TICKER_SYMBOL": "WMT", "TICKS": 2},
            {"TICKER_SYMBOL": "WMT", "TICKS": 4},
            {"TICKER_SYMBOL": "AMZN", "TICKS": 2},
            {"TICKER_SYMBOL": "XTC", "TICKS": 2},
        ]
    )
