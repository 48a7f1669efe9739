"""KDA operators (sliding, stagger, stream join) set apart the records their query fails on: the
output equals a run over the input without them, and they land in the error output."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

SOURCE = """CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "kind" VARCHAR, "ticker" VARCHAR,
    "qty" VARCHAR, "order_id" VARCHAR) WITH (connector = 'file', path = '{data}', chunk_size = '1 KB');
CREATE SINK "DESTINATION_SQL_STREAM"
    WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
"""
PUMPS = {
    "sliding": """CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), total INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker", SUM(CAST("qty" AS INTEGER)) OVER W AS total FROM "SOURCE_SQL_STREAM_001"
    WINDOW W AS (PARTITION BY "ticker" RANGE INTERVAL '1' MINUTE PRECEDING);""",
    "stagger": """CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (ticker VARCHAR(4), total INTEGER);
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "ticker", SUM(CAST("qty" AS INTEGER)) AS total FROM "SOURCE_SQL_STREAM_001"
    WINDOWED BY STAGGER (PARTITION BY "ticker" RANGE INTERVAL '1' MINUTE);""",
    "join": """CREATE OR REPLACE STREAM "ORDERS" ("order_id" VARCHAR(8), "qty" VARCHAR(8));
CREATE OR REPLACE PUMP "O" AS INSERT INTO "ORDERS" SELECT STREAM "order_id", "qty" FROM "SOURCE_SQL_STREAM_001"
    WHERE "kind" = 'order';
CREATE OR REPLACE STREAM "TRADES" ("order_id" VARCHAR(8), "qty" VARCHAR(8));
CREATE OR REPLACE PUMP "T" AS INSERT INTO "TRADES" SELECT STREAM "order_id", "qty" FROM "SOURCE_SQL_STREAM_001"
    WHERE "kind" = 'trade';
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (order_id VARCHAR(8), total INTEGER);
CREATE OR REPLACE PUMP "J" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM o."order_id", CAST(o."qty" AS INTEGER) + CAST(t."qty" AS INTEGER) AS total
    FROM "ORDERS" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS o
    JOIN "TRADES" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS t ON o."order_id" = t."order_id";""",
}
BAD_ID = "o7"


def records() -> list[dict]:
    rows = []
    for n in range(40):
        at = f"2024-05-01 10:{n // 4:02d}:{(n % 4) * 15:02d}"
        qty = "lots" if n == 7 else str(n)  # record 7 (an order) is the one the CAST rejects
        kind = "order" if n % 2 else "trade"
        order_id = f"o{n if kind == 'order' else n + 1 if n != 6 else 7}"
        rows.append(
            {"arrival_time": at, "kind": kind, "ticker": ["AMZN", "WMT"][n % 3 == 0], "qty": qty, "order_id": order_id}
        )
    return rows


def run(tmp_path: Path, name: str, kind: str, rows: list[dict]) -> tuple[list[dict], list[dict], str]:
    data = tmp_path / f"{name}.json"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / name
    pipeline = tmp_path / f"{name}.sql"
    pipeline.write_text(SOURCE.format(data=data, out=out) + PUMPS[kind])
    result = run_cli("run", str(pipeline), "--no-checkpoint")
    assert result.code == 0, result.stderr
    files = sorted(out.rglob("*.json"))
    output = [json.loads(line) for f in files if "errors" not in f.parts for line in f.read_text().splitlines()]
    errors = [json.loads(line) for f in files if "errors" in f.parts for line in f.read_text().splitlines()]
    return output, errors, result.stderr


@pytest.mark.parametrize("kind", list(PUMPS))
def test_a_kda_query_sets_apart_the_record_it_fails_on(tmp_path: Path, kind: str) -> None:
    rows = records()
    output, errors, stderr = run(tmp_path, "with-bad", kind, rows)
    expected, none, _ = run(tmp_path, "without", kind, [r for r in rows if r["qty"] != "lots"])
    assert none == []
    assert len(expected) > 3
    assert sorted(map(repr, output)) == sorted(map(repr, expected))
    assert [e["errorCode"] for e in errors] == ["query-failed"]
    assert "Could not convert string 'lots' to INT32" in errors[0]["errorMessage"]
    bad = json.loads(base64.b64decode(errors[0]["rawData"]))
    assert bad["order_id"] == BAD_ID
    # A join fails on a pair; it is set down to the row whose arrival made the pair (here the
    # trade, after its order): the inner join's output is the same either way.
    assert bad["qty"] == ("6" if kind == "join" else "lots")
    assert "__flowsql" not in stderr and "__kda" not in errors[0]["errorMessage"]
