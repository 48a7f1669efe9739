"""Pumps that read what other pumps write: a chain through in-application streams, one stream
read by two pumps, and an application output (a stream bound to a sink) read by further pumps.
Expected rows come from DuckDB queries over the same input."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT, run_cli
from tests.kda.helpers import run_example, unordered

TICKS = ROOT / "pipelines" / "kda" / "data" / "stock_ticks.json"
SOURCE = f"""CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR,
    "sector" VARCHAR, "change" REAL, "price" REAL) WITH (connector = 'file', path = '{TICKS}', chunk_size = 150);
"""


def _run(tmp_path: Path, sinks: list[str], code: str) -> dict[str, list[tuple[object, ...]]]:
    """Each sink's rows, columns by position."""
    declared = "".join(
        f"""CREATE SINK "{name}" WITH (connector = 'file', path = '{tmp_path / name}',
    format = 'json', buffer_interval = '0 s');\n"""
        for name in sinks
    )
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(SOURCE + declared + code)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    out: dict[str, list[tuple[object, ...]]] = {}
    for name in sinks:
        files = sorted(f for f in (tmp_path / name).rglob("*.json") if "errors" not in f.parts)
        out[name] = [tuple(json.loads(line).values()) for f in files for line in f.read_text().splitlines()]
    return out


def _expected(query: str) -> list[tuple[object, ...]]:
    with duckdb.connect() as con:
        con.execute(
            f"CREATE TABLE ticks AS SELECT CAST(arrival_time AS TIMESTAMP) AS t, ticker_symbol AS ticker, "
            f"CAST(change AS REAL) AS change, CAST(price AS REAL) AS price FROM read_json('{TICKS}')"
        )
        return [tuple(row) for row in con.execute(query).fetchall()]


def _same(got: list[tuple[object, ...]], expected: list[tuple[object, ...]]) -> None:
    def norm(rows: list[tuple[object, ...]]) -> list[str]:
        return sorted(repr(tuple(round(v, 4) if isinstance(v, float) else v for v in row)) for row in rows)

    assert expected
    assert norm(got) == norm(expected)


def test_a_chain_of_pumps_through_an_intermediate_stream(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        ["DESTINATION_SQL_STREAM"],
        """
CREATE OR REPLACE STREAM "INTERMEDIATE_STREAM" (ticker VARCHAR(4), price REAL, move REAL);
CREATE OR REPLACE PUMP "STREAM_PUMP_001" AS INSERT INTO "INTERMEDIATE_STREAM"
    SELECT STREAM "ticker_symbol", "price", ABS("change") FROM "SOURCE_SQL_STREAM_001" WHERE "price" > 40;
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), moves INTEGER, top REAL);
CREATE OR REPLACE PUMP "STREAM_PUMP_002" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker, COUNT(*), MAX(price) FROM "INTERMEDIATE_STREAM"
    WHERE move >= 0.5
    GROUP BY ticker, STEP("INTERMEDIATE_STREAM".ROWTIME BY INTERVAL '1' MINUTE);""",
    )
    _same(
        out["DESTINATION_SQL_STREAM"],
        _expected(
            "SELECT ticker, count(*), max(price) FROM ticks WHERE price > 40 AND abs(change) >= 0.5 "
            "GROUP BY ticker, time_bucket(INTERVAL 1 MINUTE, t)"
        ),
    )


def test_one_stream_read_by_two_pumps(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        ["COUNTS", "CHEAP"],
        """
CREATE OR REPLACE STREAM "TICKS" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "P0" AS INSERT INTO "TICKS" SELECT STREAM "ticker_symbol", "price" FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE STREAM "COUNTS" (ticker VARCHAR(4), n INTEGER);
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "COUNTS"
    SELECT STREAM ticker, COUNT(*) FROM "TICKS" GROUP BY ticker, STEP("TICKS".ROWTIME BY INTERVAL '1' MINUTE);
CREATE OR REPLACE STREAM "CHEAP" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "CHEAP" SELECT STREAM ticker, price FROM "TICKS" WHERE price < 60;""",
    )
    _same(
        out["COUNTS"],
        _expected("SELECT ticker, count(*) FROM ticks GROUP BY ticker, time_bucket(INTERVAL 1 MINUTE, t)"),
    )
    _same(out["CHEAP"], _expected("SELECT ticker, price FROM ticks WHERE price < 60"))


def test_an_application_output_read_by_further_pumps(tmp_path: Path) -> None:
    """DESTINATION_SQL_STREAM goes to its sink and feeds two more pumps; a pump into it declared
    after its readers reaches them too."""
    out = _run(
        tmp_path,
        ["DESTINATION_SQL_STREAM", "SUMMARY_STREAM"],
        """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker_symbol", "price" FROM "SOURCE_SQL_STREAM_001" WHERE "price" > 40;
CREATE OR REPLACE STREAM "SUMMARY_STREAM" (ticker VARCHAR(4), n INTEGER);
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "SUMMARY_STREAM"
    SELECT STREAM d.ticker, COUNT(*) FROM "DESTINATION_SQL_STREAM" AS d
    GROUP BY d.ticker, STEP(d.ROWTIME BY INTERVAL '1' MINUTE);
CREATE OR REPLACE PUMP "P3" AS INSERT INTO "SUMMARY_STREAM"
    SELECT STREAM ticker, -1 FROM "DESTINATION_SQL_STREAM" WHERE price > 100;
CREATE OR REPLACE PUMP "P4" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM 'LOW', "price" FROM "SOURCE_SQL_STREAM_001" WHERE "price" <= 40;""",
    )
    _same(
        out["DESTINATION_SQL_STREAM"],
        _expected(
            "SELECT ticker, price FROM ticks WHERE price > 40 "
            "UNION ALL SELECT 'LOW', price FROM ticks WHERE price <= 40"
        ),
    )
    _same(
        out["SUMMARY_STREAM"],
        _expected(
            "SELECT CASE WHEN price > 40 THEN ticker ELSE 'LOW' END AS k, count(*) FROM ticks "
            "GROUP BY k, time_bucket(INTERVAL 1 MINUTE, t) "
            "UNION ALL SELECT ticker, -1 FROM ticks WHERE price > 100"
        ),
    )


def test_a_pump_may_not_read_what_it_feeds_through_an_output(tmp_path: Path) -> None:
    pipeline = tmp_path / "loop.sql"
    pipeline.write_text(
        SOURCE
        + """CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "P1" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker_symbol", "price" FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE PUMP "P2" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM ticker, price FROM "DESTINATION_SQL_STREAM";"""
    )
    result = run_cli("validate", str(pipeline))
    assert result.code == 2
    assert "loop.sql:8:38:" in result.stderr and "in a loop" in result.stderr


@pytest.mark.parametrize("chunk_size", [None, 130])
def test_output_read_by_pumps_example(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("output_read_by_pumps", tmp_path, chunk_size)
    outputs = [r for r in rows if "PRICE" in r and "TICKER_SYMBOL" in r]
    summaries = [r for r in rows if "SUMMARY_TICKER" in r]
    assert len(outputs) + len(summaries) == len(rows)
    # AMZN ticks: 10:00:05 100, 10:00:40 102, 10:00:59 101, 10:01:45 101.5.
    assert outputs == [{"TICKER_SYMBOL": "AMZN", "PRICE": p} for p in (100.0, 102.0, 101.0, 101.5)]
    assert unordered(summaries) == unordered(
        [
            {"SUMMARY_TICKER": "AMZN", "TICK_COUNT": 3, "TOTAL": 303.0},
            {"SUMMARY_TICKER": "AMZN", "TICK_COUNT": 1, "TOTAL": 101.5},
            {"SUMMARY_TICKER": "HIGH", "TICK_COUNT": 1, "TOTAL": 102.0},
            {"SUMMARY_TICKER": "HIGH", "TICK_COUNT": 1, "TOTAL": 101.5},
        ]
    )
