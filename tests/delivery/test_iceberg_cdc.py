"""A CDC table's EMIT CHANGES reports into Iceberg tables keyed by primary_key: after a feed of
inserts, updates, deletes, duplicates and reordering, each table equals the source's final state."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.conftest import run_cli
from tests.delivery.iceberg_helpers import flowsql_marks, load, scan

PIPELINE = """
CREATE TABLE orders (
    order_id BIGINT, customer_id VARCHAR, region VARCHAR, status VARCHAR, amount DECIMAL(10, 2),
    updated_at TIMESTAMP, PRIMARY KEY (order_id)
) WITH (connector = 'file', path = '{feed}', format = 'debezium-json', chunk_size = '64 KB');

CREATE SINK mirror WITH (connector = 'iceberg', table = 'shop.orders', warehouse = 'lake/',
    primary_key = 'order_id', partition_by = 'region', buffer_interval = '0 s');
CREATE SINK open_by_region WITH (connector = 'iceberg', table = 'shop.open_by_region', warehouse = 'lake/',
    primary_key = 'region', buffer_interval = '0 s');

INSERT INTO mirror SELECT order_id, customer_id, region, status, amount, updated_at FROM orders EMIT CHANGES;

INSERT INTO open_by_region
SELECT region, count(*) AS open_orders, sum(amount) AS open_amount
FROM orders WHERE status IN ('pending', 'paid') GROUP BY region
EMIT CHANGES;
"""

FINAL_STATE = """
SELECT after.order_id, after.customer_id, after.region, after.status, CAST(after.amount AS DECIMAL(10, 2)) AS amount,
       CAST(after.updated_at AS TIMESTAMP)
FROM (SELECT *, row_number() OVER (PARTITION BY coalesce(after.order_id, before.order_id)
                                   ORDER BY source.lsn DESC) AS latest
      FROM read_json('{feed}', format = 'newline_delimited'))
WHERE latest = 1 AND op <> 'd'
"""


def test_changelog_upserts_and_deletes_mirror_the_final_source_state(tmp_path: Path) -> None:
    feed = tmp_path / "orders.ndjson"
    generated = run_cli("generate", "cdc-orders", "--count", "6000", "--seed", "4", "--quiet")
    assert generated.code == 0, generated.stderr
    feed.write_text(generated.stdout)
    ops = (
        duckdb.connect()
        .execute(
            f"SELECT count(*) FILTER (WHERE op = 'u'), count(*) FILTER (WHERE op = 'd') "
            f"FROM read_json('{feed}', format = 'newline_delimited')"
        )
        .fetchone()
    )
    assert ops[0] > 1000 and ops[1] > 100  # the feed updates and deletes plenty

    pipeline = tmp_path / "cdc.sql"
    pipeline.write_text(PIPELINE.format(feed=feed))
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr

    con = duckdb.connect()
    expected = sorted(con.execute(FINAL_STATE.format(feed=feed)).fetchall())
    columns = ["order_id", "customer_id", "region", "status", "amount", "updated_at"]
    got = scan(tmp_path / "lake", "shop.orders", columns)
    assert len(got) == len(expected) and got == expected
    assert len(flowsql_marks(load(tmp_path / "lake", "shop.orders"))) >= 3  # changes applied over many commits

    con.execute(f"CREATE TABLE final AS {FINAL_STATE.format(feed=feed)}")
    by_region = sorted(
        con.execute(
            "SELECT region, count(*), sum(amount) FROM final WHERE status IN ('pending', 'paid') GROUP BY region"
        ).fetchall()
    )
    assert scan(tmp_path / "lake", "shop.open_by_region", ["region", "open_orders", "open_amount"]) == by_region


def test_snapshot_reports_replace_the_table_and_plain_rows_upsert_by_key(tmp_path: Path) -> None:
    feed = tmp_path / "orders.ndjson"
    generated = run_cli("generate", "cdc-orders", "--count", "3000", "--seed", "6", "--quiet")
    assert generated.code == 0, generated.stderr
    feed.write_text(generated.stdout)
    clicks = tmp_path / "clicks.ndjson"
    # Each user 50 times over many chunks: the last row of each key is what the table keeps.
    lines = [f'{{"user_id": "u{i % 40}", "page": "/p{i}", "seq": {i}}}' for i in range(2000)]
    clicks.write_text("\n".join(lines) + "\n")
    pipeline = tmp_path / "keyed.sql"
    pipeline.write_text(f"""
CREATE TABLE orders (
    order_id BIGINT, customer_id VARCHAR, region VARCHAR, status VARCHAR, amount DECIMAL(10, 2),
    updated_at TIMESTAMP, PRIMARY KEY (order_id),
    WATERMARK FOR change_time AS change_time - INTERVAL '1' SECOND
) WITH (connector = 'file', path = '{feed}', format = 'debezium-json', chunk_size = '16 KB');
CREATE SOURCE visits (user_id VARCHAR, page VARCHAR, seq BIGINT)
WITH (connector = 'file', path = '{clicks}', chunk_size = '4 KB');

CREATE SINK by_status WITH (connector = 'iceberg', table = 'shop.by_status', warehouse = 'lake/',
    primary_key = 'status', buffer_interval = '0 s');
CREATE SINK last_visit WITH (connector = 'iceberg', table = 'web.last_visit', warehouse = 'lake/',
    primary_key = 'user_id', buffer_interval = '0 s');

INSERT INTO by_status SELECT status, count(*) AS orders FROM orders GROUP BY status
EMIT EVERY INTERVAL '1' SECOND;
INSERT INTO last_visit SELECT user_id, page, seq FROM visits;
""")
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr

    expected = sorted(
        duckdb.connect()
        .execute(f"SELECT status, count(*) FROM ({FINAL_STATE.format(feed=feed)}) GROUP BY status")
        .fetchall()
    )
    assert scan(tmp_path / "lake", "shop.by_status", ["status", "orders"]) == expected
    for identifier in ("shop.by_status", "web.last_visit"):  # several flushes, each on the last one's table
        assert len(flowsql_marks(load(tmp_path / "lake", identifier))) >= 2, identifier
    assert scan(tmp_path / "lake", "web.last_visit") == sorted(
        (f"u{u}", f"/p{i}", i) for u in range(40) for i in [max(j for j in range(2000) if j % 40 == u)]
    )
