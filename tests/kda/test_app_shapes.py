"""Shapes real KDA applications use, each run through the CLI on generated ticks and checked
against an independent DuckDB query under KDA's rules (one row per group per window; one row
per input row for sliding windows; columns by position)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT, run_cli

TICKERS = ["AMZN", "WMT", "XTC", "NFLX"]


@pytest.fixture(scope="module")
def ticks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 ticks, 1 to 3 s apart (every ROWTIME distinct), over about 20 minutes."""
    rng = random.Random(19)
    path = tmp_path_factory.mktemp("ticks") / "ticks.json"
    at = datetime(2024, 5, 1, 10, 0, 0)
    with path.open("w") as out:
        for _ in range(600):
            at += timedelta(seconds=rng.randint(1, 3), milliseconds=rng.randint(0, 999))
            out.write(
                json.dumps(
                    {
                        "arrival_time": at.isoformat(sep=" "),
                        "ticker_symbol": rng.choice(TICKERS),
                        "price": round(rng.uniform(10, 200), 2),
                    }
                )
                + "\n"
            )
    return path


def _run(tmp_path: Path, ticks: Path, code: str) -> list[tuple[object, ...]]:
    """The application's output rows, columns by position."""
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(f"""
CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR, "price" DOUBLE)
    WITH (connector = 'file', path = '{ticks}', chunk_size = 2000);
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
{code}
""")
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    return [tuple(json.loads(line).values()) for line in result.stdout.splitlines() if line.strip()]


def _expected(ticks: Path, query: str) -> list[tuple[object, ...]]:
    with duckdb.connect() as con:
        con.execute(
            f"CREATE TABLE ticks AS SELECT CAST(arrival_time AS TIMESTAMP) AS t, ticker_symbol AS ticker, "
            f"CAST(price AS DOUBLE) AS price FROM read_json('{ticks}')"
        )
        return [tuple(row) for row in con.execute(query).fetchall()]


def _same(got: list[tuple[object, ...]], expected: list[tuple[object, ...]]) -> None:
    def norm(rows: list[tuple[object, ...]]) -> list[str]:
        return sorted(repr(tuple(round(v, 6) if isinstance(v, float) else v for v in r)) for r in rows)

    assert len(expected) > 0
    assert norm(got) == norm(expected)


def test_first_and_last_value_as_aggregates_in_a_tumbling_window(tmp_path: Path, ticks: Path) -> None:
    got = _run(
        tmp_path,
        ticks,
        """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), first_price DOUBLE, last_price DOUBLE, n INTEGER);
CREATE OR REPLACE PUMP "SESSIONS" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker_symbol", FIRST_VALUE("price") AS first_price, LAST_VALUE("price") AS last_price, COUNT(*)
    FROM "SOURCE_SQL_STREAM_001"
    GROUP BY "ticker_symbol", STEP("SOURCE_SQL_STREAM_001".ROWTIME BY INTERVAL '60' SECOND);""",
    )
    _same(
        got,
        _expected(
            ticks,
            "SELECT ticker, first(price ORDER BY t), last(price ORDER BY t), count(*) FROM ticks "
            "GROUP BY ticker, time_bucket(INTERVAL 60 SECOND, t)",
        ),
    )


def test_first_and_last_value_in_a_stagger_window(tmp_path: Path, ticks: Path) -> None:
    """A stagger window per ticker opens at its first row and holds a minute: first and last
    of each window, computed here by walking the rows as the reference describes."""
    got = _run(
        tmp_path,
        ticks,
        """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), first_price DOUBLE, last_price DOUBLE);
CREATE OR REPLACE PUMP "SESSIONS" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker_symbol", FIRST_VALUE("price"), LAST_VALUE("price")
    FROM "SOURCE_SQL_STREAM_001"
    WINDOWED BY STAGGER (PARTITION BY "ticker_symbol" RANGE INTERVAL '1' MINUTE);""",
    )
    rows = _expected(ticks, "SELECT ticker, t, price FROM ticks ORDER BY t")
    windows: dict[str, list[list[object]]] = {}
    for ticker, at, price in rows:
        opened = windows.setdefault(str(ticker), [])
        if not opened or at >= opened[-1][0] + timedelta(minutes=1):  # type: ignore[operator]
            opened.append([at, price, price])
        opened[-1][2] = price
    _same(got, [(ticker, w[1], w[2]) for ticker, ws in windows.items() for w in ws])


def test_floor_of_seconds_since_the_epoch_is_a_tumbling_window(tmp_path: Path, ticks: Path) -> None:
    got = _run(
        tmp_path,
        ticks,
        """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), n INTEGER, top DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker_symbol", COUNT(*), MAX("price") FROM "SOURCE_SQL_STREAM_001"
    GROUP BY "ticker_symbol",
             FLOOR(("SOURCE_SQL_STREAM_001".ROWTIME - TIMESTAMP '1970-01-01 00:00:00') SECOND / 10 TO SECOND);""",
    )
    _same(got, _expected(ticks, "SELECT ticker, count(*), max(price) FROM ticks GROUP BY ticker, floor(epoch(t) / 10)"))


def test_create_stream_and_pump_without_or_replace(tmp_path: Path, ticks: Path) -> None:
    got = _run(
        tmp_path,
        ticks,
        """
CREATE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), price DOUBLE);
CREATE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker_symbol", "price" FROM "SOURCE_SQL_STREAM_001" WHERE "price" > 100;""",
    )
    _same(got, _expected(ticks, "SELECT ticker, price FROM ticks WHERE price > 100"))


def test_partition_by_an_alias_qualified_column(tmp_path: Path, ticks: Path) -> None:
    got = _run(
        tmp_path,
        ticks,
        """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), last_two DOUBLE, minute_avg DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "s"."ticker_symbol",
           SUM("s"."price") OVER (PARTITION BY "s"."ticker_symbol" ROWS 1 PRECEDING),
           AVG("s"."price") OVER (PARTITION BY "s"."ticker_symbol" RANGE INTERVAL '1' MINUTE PRECEDING)
    FROM "SOURCE_SQL_STREAM_001" AS "s";""",
    )
    _same(
        got,
        _expected(
            ticks,
            "SELECT ticker, sum(price) OVER (PARTITION BY ticker ORDER BY t ROWS 1 PRECEDING), "
            "avg(price) OVER (PARTITION BY ticker ORDER BY t RANGE BETWEEN INTERVAL 1 MINUTE "
            "PRECEDING AND CURRENT ROW) FROM ticks",
        ),
    )


def test_sliding_window_inside_a_from_subquery(tmp_path: Path, ticks: Path) -> None:
    got = _run(
        tmp_path,
        ticks,
        """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), price DOUBLE, avg_price DOUBLE);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM t, p, a FROM (
        SELECT STREAM "ticker_symbol" AS t, "price" AS p,
               AVG("price") OVER (PARTITION BY "ticker_symbol" RANGE INTERVAL '1' MINUTE PRECEDING) AS a
        FROM "SOURCE_SQL_STREAM_001") AS x
    WHERE p > a;""",
    )
    _same(
        got,
        _expected(
            ticks,
            "SELECT * FROM (SELECT ticker, price, avg(price) OVER (PARTITION BY ticker ORDER BY t "
            "RANGE BETWEEN INTERVAL 1 MINUTE PRECEDING AND CURRENT ROW) AS a FROM ticks) "
            "WHERE price > a",
        ),
    )


def test_top_k_items_over_a_cursor_that_joins(tmp_path: Path, ticks: Path) -> None:
    companies = ROOT / "pipelines" / "kda" / "data" / "companies.csv"
    got = _run(
        tmp_path,
        ticks,
        f"""
CREATE REFERENCE TABLE "CompanyName" ("Ticker" VARCHAR, "Company" VARCHAR) WITH (path = '{companies}', format = 'csv');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (company VARCHAR(20), most_frequent BIGINT);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM * FROM TABLE(TOP_K_ITEMS_TUMBLING(CURSOR(
        SELECT STREAM c."Company", s."price" FROM "SOURCE_SQL_STREAM_001" AS s
        JOIN "CompanyName" AS c ON s."ticker_symbol" = c."Ticker"), 'Company', 2, 60));""",
    )
    _same(
        got,
        _expected(
            ticks,
            f"""
        SELECT company, n FROM (
            SELECT c.Company AS company, count(*) AS n, time_bucket(INTERVAL 60 SECOND, t) AS w
            FROM ticks AS k JOIN read_csv('{companies}') AS c ON k.ticker = c.Ticker GROUP BY ALL)
        QUALIFY row_number() OVER (PARTITION BY w ORDER BY n DESC, company) <= 2""",
        ),
    )


def test_shard_id_is_refused_with_its_reason(tmp_path: Path, ticks: Path) -> None:
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(f"""CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "ticker_symbol" VARCHAR)
    WITH (connector = 'file', path = '{ticks}');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), shard VARCHAR(64));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker_symbol", SHARD_ID FROM "SOURCE_SQL_STREAM_001";
""")
    result = run_cli("validate", str(pipeline))
    assert result.code == 2
    assert "app.sql:6:36: SHARD_ID is not a column of this pump's input" in result.stderr, result.stderr
    assert "shard_column = 'SHARD_ID'" in result.stderr
