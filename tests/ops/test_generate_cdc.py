"""`flowsql generate cdc-orders` writes the generator's Debezium feed: read back through a CDC
table from a file, it gives the same current state as the generator source itself."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

TABLE = """CREATE TABLE orders (order_id BIGINT, customer_id VARCHAR, region VARCHAR, status VARCHAR,
    amount DECIMAL(10, 2), updated_at TIMESTAMP, PRIMARY KEY (order_id)) WITH ({connector}, format = 'debezium-json');
CREATE SINK out WITH (connector = 'file', path = '{out}', format = 'json');
INSERT INTO out SELECT region, status, count(*) AS orders, sum(amount) AS amount FROM orders
GROUP BY region, status EMIT EVERY INTERVAL '1' HOUR;
"""


def final_snapshot(out: Path) -> list[tuple]:
    rows = [
        json.loads(line) for f in out.rglob("*.json") if "errors" not in f.parts for line in f.read_text().splitlines()
    ]
    last = max(r["snapshot_time"] for r in rows)
    return sorted((r["region"], r["status"], r["orders"], r["amount"]) for r in rows if r["snapshot_time"] == last)


def test_generated_feed_replays_to_the_generator_state(tmp_path: Path) -> None:
    feed = tmp_path / "orders.ndjson"
    generated = run_cli("generate", "cdc-orders", "--count", "3200", "--seed", "5", "--quiet")
    assert generated.code == 0, generated.stderr
    feed.write_text(generated.stdout)
    lines = generated.stdout.splitlines()
    assert len(lines) >= 3200  # duplicates come on top of the 3,200 changes
    assert {json.loads(line)["op"] for line in lines} == {"c", "u", "d"}

    from_file = tmp_path / "from_file.sql"
    from_file.write_text(TABLE.format(connector=f"connector = 'file', path = '{feed}'", out=tmp_path / "a"))
    direct = tmp_path / "direct.sql"
    direct.write_text(
        TABLE.format(
            connector="connector = 'generator', kind = 'cdc-orders', count = 3200, seed = 5", out=tmp_path / "b"
        )
    )
    for pipeline in (from_file, direct):
        result = run_cli("run", str(pipeline), "--no-checkpoint")
        assert result.code == 0, result.stderr
    assert final_snapshot(tmp_path / "a") == final_snapshot(tmp_path / "b")
    assert final_snapshot(tmp_path / "a")
