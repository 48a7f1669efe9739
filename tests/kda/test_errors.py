"""What flowsql says about KDA code it cannot run: the construct, its line and column, exit 2;
and what `flowsql explain` shows of each pump."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

BINDINGS = """CREATE SOURCE "SOURCE_SQL_STREAM_001" (
    arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" REAL
) WITH (connector = 'file', path = 'pipelines/kda/data/stock_ticks.json');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker_symbol VARCHAR(4), n INTEGER);
"""


def _check(tmp_path: Path, pump: str) -> str:
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(BINDINGS + pump)
    result = run_cli("validate", str(pipeline))
    assert result.code == 2, result.stdout + result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("pump", "where", "words"),
    [
        (
            """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, COUNT(*) FROM "SOURCE_SQL_STREAM_001"
WINDOWED BY STAGGER (PARTITION BY ticker_symbol);""",
            ":8:1:",
            "a stagger window needs RANGE INTERVAL",
        ),
        (
            """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, COUNT(*) FROM "SOURCE_SQL_STREAM_001" GROUP BY ticker_symbol;""",
            ":7:",
            "needs STEP or FLOOR on ROWTIME",
        ),
        (
            """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM a.ticker_symbol, 1 FROM "SOURCE_SQL_STREAM_001" AS a JOIN "SOURCE_SQL_STREAM_001" AS b
ON a.ticker_symbol = b.ticker_symbol;""",
            ":7:",
            "stream-to-stream join needs a window on at least one stream",
        ),
        (
            """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, SUM(price) OVER (PARTITION BY ticker_symbol ROWS UNBOUNDED PRECEDING)
FROM "SOURCE_SQL_STREAM_001";""",
            ":7:",
            "sliding window needs RANGE INTERVAL",
        ),
        (
            """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol FROM "SOURCE_SQL_STREAM_001";""",
            ":7:",
            "the SELECT gives 1 columns",
        ),
        (
            """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, NO_SUCH_FUNCTION(price) FROM "SOURCE_SQL_STREAM_001";""",
            ":7:",
            "no_such_function",
        ),
        (
            """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, 1 FROM "NOT_A_STREAM";""",
            ":7:",
            "no stream or reference table",
        ),
    ],
)
def test_unsupported_or_wrong_pump_is_named_with_its_place(tmp_path: Path, pump: str, where: str, words: str) -> None:
    message = _check(tmp_path, pump)
    assert where in message and words.lower() in message.lower()


def test_stagger_range_must_be_an_interval(tmp_path: Path) -> None:
    message = _check(
        tmp_path,
        """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, COUNT(*) FROM "SOURCE_SQL_STREAM_001"
WINDOWED BY STAGGER (PARTITION BY ticker_symbol RANGE 5);""",
    )
    assert "app.sql:8:" in message and "RANGE must be a fixed INTERVAL" in message


def test_explain_shows_each_pump_by_name() -> None:
    result = run_cli("explain", str(ROOT / "pipelines" / "kda" / "chained_pumps.sql"))
    assert result.code == 0, result.stderr
    assert 'kda pump "FILTER_PUMP": per row' in result.stdout
    assert 'kda pump "AGGREGATE_PUMP": tumbling window' in result.stdout
    assert "INTERMEDIATE_SQL_STREAM -> sink DESTINATION_SQL_STREAM" in result.stdout
    assert "window: TUMBLE on arrival_time, size 60 s" in result.stdout


def test_explain_shows_the_sliding_operator_sql() -> None:
    result = run_cli("explain", str(ROOT / "pipelines" / "kda" / "sliding_average.sql"))
    assert result.code == 0, result.stderr
    assert 'kda pump "STREAM_PUMP": sliding window (RANGE 60 s)' in result.stdout
    assert "RANGE BETWEEN __kda_span_60000000 PRECEDING AND CURRENT ROW" in result.stdout


def test_hotspots_is_named_as_unsupported(tmp_path: Path) -> None:
    message = _check(
        tmp_path,
        """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM * FROM TABLE(HOTSPOTS(
    CURSOR(SELECT STREAM * FROM "SOURCE_SQL_STREAM_001"), 1000, 0.2, 17));""",
    )
    assert "app.sql:8:5:" in message and "HOTSPOTS is not supported" in message


def test_bad_json_path_mapping_is_placed(tmp_path: Path) -> None:
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(BINDINGS.replace('"price" REAL', "\"price\" REAL MAPPING 'data.price'"))
    result = run_cli("validate", str(pipeline))
    assert result.code == 2
    assert "app.sql:2:75:" in result.stderr and "MAPPING takes a quoted JSON path" in result.stderr


def test_reading_an_output_stream_before_any_pump_fills_it_is_refused(tmp_path: Path) -> None:
    message = _check(
        tmp_path,
        """CREATE OR REPLACE STREAM "AGAIN" (ticker_symbol VARCHAR(4));
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "AGAIN"
SELECT STREAM ticker_symbol FROM "DESTINATION_SQL_STREAM";""",
    )
    assert "app.sql:8:34:" in message and "bound to a sink and read before any pump fills it" in message


def test_current_row_timestamp_is_the_processing_time(tmp_path: Path) -> None:
    import json
    from datetime import UTC, datetime, timedelta

    pipeline = tmp_path / "app.sql"
    bindings = BINDINGS.replace("(ticker_symbol VARCHAR(4), n INTEGER)", "(ticker_symbol VARCHAR(4), t TIMESTAMP)")
    pipeline.write_text(
        bindings
        + """
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ticker_symbol, CURRENT_ROW_TIMESTAMP FROM "SOURCE_SQL_STREAM_001";"""
    )
    before = datetime.now(UTC).replace(tzinfo=None)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    after = datetime.now(UTC).replace(tzinfo=None)
    assert result.code == 0, result.stderr
    times = [datetime.fromisoformat(json.loads(line)["T"]) for line in result.stdout.splitlines()]
    assert len(times) == 8
    assert all(before - timedelta(seconds=1) <= t <= after for t in times)


def test_windowed_join_of_the_input_stream_with_itself_runs(tmp_path: Path) -> None:
    import json
    from collections import Counter

    pipeline = tmp_path / "app.sql"
    pipeline.write_text(
        BINDINGS
        + """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM o.ticker_symbol, 1 FROM "SOURCE_SQL_STREAM_001" AS o
JOIN "SOURCE_SQL_STREAM_001" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS t ON o.ticker_symbol = t.ticker_symbol;"""
    )
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    # Each tick pairs with the ticks of its ticker in the minute up to it, itself included:
    # AMZN 1 + 2 + 3 + 2 (10:00:40 is 65 s before 10:01:45), WMT 1 + 2 + 2, XTC 1.
    counts = Counter(json.loads(line)["TICKER_SYMBOL"] for line in result.stdout.splitlines())
    assert counts == {"AMZN": 8, "WMT": 5, "XTC": 1}


def test_setting_rowtime_is_named_as_unsupported(tmp_path: Path) -> None:
    message = _check(
        tmp_path,
        """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM arrival_time AS ROWTIME, ticker_symbol, 1 FROM "SOURCE_SQL_STREAM_001";""",
    )
    assert "app.sql:7:31:" in message and "AS ROWTIME" in message
