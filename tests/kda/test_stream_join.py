"""KDA stream-to-stream joins, run through the CLI on pipelines/kda/data/orders_trades.json:
pairs inside and outside the window with either side arriving first, an outer join's
unmatched rows, bounded state, checkpoints, and the errors for join forms not supported."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from flowsql.checkpoint.state import table_from_bytes, table_to_bytes
from tests.conftest import ROOT, run_cli
from tests.kda.helpers import EXAMPLES, run_example, unordered
from tests.kda.test_checkpoint import _batches, _engine
from tests.kda.test_errors import BINDINGS

DATA = EXAMPLES / "data" / "orders_trades.json"


def _pair(
    at: str, order: str, ticker: str, order_price: float, trade: str | None, trade_price: float | None
) -> dict[str, Any]:
    return {
        "pair_time": f"2024-05-01 {at}",
        "order_id": order,
        "ticker": ticker,
        "order_price": order_price,
        "trade_id": trade,
        "trade_price": trade_price,
    }


# By hand: o1 (10:00:00) pairs with t1 (10:00:10) and t3 (10:00:40) but not t4 (10:01:05, 65 s
# later); t2 (10:00:20) comes before its order o2 (10:00:50) and pairs when o2 arrives; t5 is
# 70 s after o3; o5 arrives 65 s after t7; o6 and t8 share a ROWTIME.
INNER = [
    _pair("10:00:10", "o1", "AMZN", 100.0, "t1", 100.5),
    _pair("10:00:40", "o1", "AMZN", 100.0, "t3", 100.25),
    _pair("10:00:50", "o2", "WMT", 50.0, "t2", 50.25),
    _pair("10:02:40", "o4", "AMZN", 102.0, "t6", 102.5),
    _pair("10:04:10", "o6", "XTC", 21.0, "t8", 21.0),
]


def _duckdb_inner() -> list[dict[str, Any]]:
    """The same pairs from DuckDB: equal order_id, ROWTIMEs at most a minute apart."""
    sql = f"""
        WITH r AS (SELECT * FROM read_json('{DATA}', format = 'newline_delimited',
                   columns = {{arrival_time: 'TIMESTAMP', kind: 'VARCHAR', order_id: 'VARCHAR', trade_id: 'VARCHAR',
                               ticker: 'VARCHAR', price: 'DOUBLE'}}))
        SELECT strftime(greatest(o.arrival_time, t.arrival_time), '%Y-%m-%d %H:%M:%S') AS pair_time,
               o.order_id, o.ticker, o.price AS order_price, t.trade_id, t.price AS trade_price
        FROM r AS o JOIN r AS t ON o.order_id = t.order_id
        WHERE o.kind = 'order' AND t.kind = 'trade'
          AND abs(epoch(o.arrival_time) - epoch(t.arrival_time)) <= 60
        ORDER BY 1, trade_id"""
    with duckdb.connect() as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.mark.parametrize("chunk_size", [None, 60, 250])
def test_pairs_within_the_window_either_side_first(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("stream_join", tmp_path, chunk_size)
    assert rows == INNER  # each pair once, in ROWTIME order
    assert unordered(rows) == unordered(_duckdb_inner())


@pytest.mark.parametrize("chunk_size", [None, 60])
def test_left_outer_join_emits_unmatched_orders_at_their_window_end(tmp_path: Path, chunk_size: int | None) -> None:
    rows = run_example("stream_join_outer", tmp_path, chunk_size)
    # TRADES has no window: t2 (before o2) and t7 (before o5) pair with nothing. Orders with
    # no trade in their minute come out at ROWTIME + 1 minute with NULL trade columns.
    assert unordered(rows) == unordered(
        [
            _pair("10:00:10", "o1", "AMZN", 100.0, "t1", 100.5),
            _pair("10:00:40", "o1", "AMZN", 100.0, "t3", 100.25),
            _pair("10:02:40", "o4", "AMZN", 102.0, "t6", 102.5),
            _pair("10:04:10", "o6", "XTC", 21.0, "t8", 21.0),
            _pair("10:01:30", "o3", "XTC", 20.0, None, None),
            _pair("10:01:50", "o2", "WMT", 50.0, None, None),
            _pair("10:05:05", "o5", "WMT", 30.5, None, None),
        ]
    )


@pytest.mark.parametrize("name", ["stream_join", "stream_join_outer"])
def test_restart_from_any_checkpoint_loses_and_repeats_no_pair(name: str) -> None:
    run, batches = _batches(name)
    source = next(iter(run.sources))
    whole: list[dict[str, object]] = []
    engine = _engine(run, whole)
    for batch in batches:
        engine.push(source, batch)
    engine.finish()
    assert len(whole) >= 5
    for split in range(len(batches) + 1):
        resumed: list[dict[str, object]] = []
        first = _engine(run, resumed)
        for batch in batches[:split]:
            first.push(source, batch)
        data, tables = first.snapshot()
        stored = {n: table_from_bytes(table_to_bytes(t)) for n, t in tables.items()}  # as a checkpoint keeps them
        second = _engine(run, resumed)
        second.restore(json.loads(json.dumps(data)), stored)
        for batch in batches[split:]:
            second.push(source, batch)
        second.finish()
        assert resumed == whole, f"restarted after {split} records"


def test_join_state_keeps_only_rows_the_window_can_reach() -> None:
    from flowsql.kda.join_operator import StreamJoinOperator

    run, batches = _batches("stream_join")
    source = next(iter(run.sources))
    engine = _engine(run, [])
    join = next(op for _, op in engine.operators if isinstance(op, StreamJoinOperator))
    for batch in batches:
        engine.push(source, batch)
    # At 10:04:10 only o5 (10:04:05), o6 and t8 (10:04:10) are within a minute; 11 rows are gone.
    assert join.buffered_rows == 3
    engine.finish()
    assert join.buffered_rows == 0


def _validate(tmp_path: Path, pump: str) -> str:
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(
        BINDINGS
        + """CREATE OR REPLACE STREAM "A" (ticker_symbol VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "PA" AS INSERT INTO "A" SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001";
CREATE OR REPLACE STREAM "B" (ticker_symbol VARCHAR(4), price REAL);
CREATE OR REPLACE PUMP "PB" AS INSERT INTO "B" SELECT STREAM ticker_symbol, price FROM "SOURCE_SQL_STREAM_001";
"""
        + pump
    )
    result = run_cli("validate", str(pipeline))
    assert result.code == 2, result.stdout + result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("join", "where", "words"),
    [
        (
            'FROM "A" OVER (RANGE INTERVAL \'1\' MINUTE PRECEDING) AS a JOIN "B" AS b ON a.price > b.price',
            ":12:",
            "needs an equality between a column of each stream",
        ),
        (
            'FROM "A" AS a JOIN "B" AS b ON a.ticker_symbol = b.ticker_symbol',
            ":12:",
            "needs a window on at least one stream",
        ),
        (
            'FROM "A" OVER (ROWS 10 PRECEDING) AS a JOIN "B" AS b ON a.ticker_symbol = b.ticker_symbol',
            ":12:16:",
            "ROWS n PRECEDING",
        ),
        (
            'FROM "A" OVER (RANGE INTERVAL \'1\' MINUTE PRECEDING) AS a CROSS JOIN "B" AS b',
            ":12:",
            "CROSS JOIN of streams is not supported",
        ),
        (
            'FROM "A" OVER (RANGE INTERVAL \'1\' MINUTE PRECEDING) AS a JOIN "B" AS b USING (ticker_symbol)',
            ":12:",
            "needs ON with an equality",
        ),
        ("FROM \"A\" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS a", ":12:6:", "belongs to a stream-to-stream join"),
        (
            'FROM "A" OVER W AS a JOIN "B" AS b ON a.ticker_symbol = b.ticker_symbol',
            ":12:10:",
            "join window is OVER (RANGE INTERVAL",
        ),
    ],
)
def test_unsupported_join_forms_are_named_with_their_place(tmp_path: Path, join: str, where: str, words: str) -> None:
    message = _validate(
        tmp_path,
        f"""CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM a.ticker_symbol, 1
{join};""",
    )
    assert where in message and words in message, message


def test_explain_shows_the_join_translation() -> None:
    result = run_cli("explain", str(ROOT / "pipelines" / "kda" / "stream_join.sql"))
    assert result.code == 0, result.stderr
    assert "ORDERS, TRADES -> sink DESTINATION_SQL_STREAM" in result.stdout
    assert (
        'kda pump "JOIN_PUMP": stream-to-stream INNER JOIN of ORDERS (RANGE 60 s PRECEDING) and '
        "TRADES (RANGE 60 s PRECEDING)"
    ) in result.stdout
    assert 'FROM "ORDERS" AS "o" INNER JOIN "TRADES" AS "t" ON (o."order_id" = t."order_id") AND' in result.stdout
    assert "joins 2 inputs" in result.stdout


def test_flink_compile_turns_a_stream_join_into_an_interval_join(tmp_path: Path) -> None:
    # Its rows equal flowsql's on Flink: tests/compile/test_flink_conformance.py runs the job.
    result = run_cli(
        "compile", "--target", "flink", "-o", str(tmp_path / "job"), str(ROOT / "pipelines" / "kda" / "stream_join.sql")
    )
    assert result.code == 0, result.stderr
    job = " ".join((tmp_path / "job" / "job.sql").read_text().split())
    assert "ON ( `o`.`order_id` = `t`.`order_id` )" in job
    assert (
        "AND `o`.`arrival_time` BETWEEN `t`.`arrival_time` - INTERVAL '1' MINUTE "
        "AND `t`.`arrival_time` + INTERVAL '1' MINUTE"
    ) in job


def _join_then_count(tmp_path: Path, name: str, chunk_size: int) -> str:
    """The example with its join into an in-application stream that a tumbling pump counts."""
    text = (EXAMPLES / f"{name}.sql").read_text()
    text = text.replace(
        "path = 'pipelines/kda/data/orders_trades.json'",
        f"path = 'pipelines/kda/data/orders_trades.json', chunk_size = {chunk_size}",
    )
    text = text.replace('CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (', 'CREATE OR REPLACE STREAM "PAIRS" (')
    text = text.replace(
        'INSERT INTO "DESTINATION_SQL_STREAM"\n    SELECT STREAM ROWTIME',
        'INSERT INTO "PAIRS"\n    SELECT STREAM ROWTIME',
    )
    text += """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("ticker" VARCHAR(4), "pairs" INTEGER, "last_pair" TIMESTAMP);
CREATE OR REPLACE PUMP "COUNT_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker", COUNT(*), MAX("pair_time") FROM "PAIRS"
    GROUP BY "ticker", STEP("PAIRS".ROWTIME BY INTERVAL '1' MINUTE);
"""
    pipeline = tmp_path / f"{name}_count.sql"
    pipeline.write_text(text)
    result = run_cli("run", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    assert ", 0 late" in result.stderr  # no joined row is behind the windows downstream
    return result.stdout


@pytest.mark.parametrize("chunk_size", [60, 1000])
def test_joined_stream_feeds_a_windowed_pump(tmp_path: Path, chunk_size: int) -> None:
    def counts(stdout: str) -> list[str]:
        return unordered([json.loads(line) for line in stdout.splitlines() if line.startswith("{")])

    def row(ticker: str, pairs: int, last: str) -> dict[str, Any]:
        return {"ticker": ticker, "pairs": pairs, "last_pair": f"2024-05-01 {last}"}

    assert counts(_join_then_count(tmp_path, "stream_join", chunk_size)) == unordered(
        [row("AMZN", 2, "10:00:40"), row("WMT", 1, "10:00:50"), row("AMZN", 1, "10:02:40"), row("XTC", 1, "10:04:10")]
    )
    # The outer join's unmatched orders fall in the minute of their window's end.
    assert counts(_join_then_count(tmp_path, "stream_join_outer", chunk_size)) == unordered(
        [
            row("AMZN", 2, "10:00:40"),
            row("XTC", 1, "10:01:30"),
            row("WMT", 1, "10:01:50"),
            row("AMZN", 1, "10:02:40"),
            row("XTC", 1, "10:04:10"),
            row("WMT", 1, "10:05:05"),
        ]
    )


def test_full_outer_self_join_of_the_input(tmp_path: Path) -> None:
    """FULL JOIN of the ticks with themselves: a (30 s window) pairs with a later or equal b of
    its ticker at a higher price; unmatched a rows come out 30 s on, unmatched b rows at once."""
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(
        BINDINGS.split("CREATE OR REPLACE STREAM")[0]
        + """
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (
    t TIMESTAMP, a_time TIMESTAMP, b_time TIMESTAMP, a_price REAL, b_price REAL);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM ROWTIME, a.ROWTIME, b.ROWTIME, a.price, b.price
FROM "SOURCE_SQL_STREAM_001" OVER (RANGE INTERVAL '30' SECOND PRECEDING) AS a
FULL OUTER JOIN "SOURCE_SQL_STREAM_001" AS b ON a.ticker_symbol = b.ticker_symbol AND a.price < b.price;"""
    )
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    ticks = [json.loads(line) for line in (EXAMPLES / "data" / "stock_ticks.json").read_text().splitlines()]
    # The one pair: WMT 51 at 10:01:00 and WMT 52 at 10:01:30 (30 s apart, higher price).
    pair = {
        "T": "2024-05-01 10:01:30",
        "A_TIME": "2024-05-01 10:01:00",
        "B_TIME": "2024-05-01 10:01:30",
        "A_PRICE": 51.0,
        "B_PRICE": 52.0,
    }
    expected = [pair]
    for tick in ticks:
        at = datetime.fromisoformat(tick["arrival_time"])
        if tick["arrival_time"] != pair["A_TIME"]:
            expected.append(
                {
                    "T": str(at + timedelta(seconds=30)),
                    "A_TIME": tick["arrival_time"],
                    "B_TIME": None,
                    "A_PRICE": tick["price"],
                    "B_PRICE": None,
                }
            )
        if tick["arrival_time"] != pair["B_TIME"]:
            expected.append(
                {
                    "T": tick["arrival_time"],
                    "A_TIME": None,
                    "B_TIME": tick["arrival_time"],
                    "A_PRICE": None,
                    "B_PRICE": tick["price"],
                }
            )
    assert unordered(rows) == unordered(expected)
    assert [r["T"] for r in rows] == sorted(r["T"] for r in rows)  # one batch: in ROWTIME order
