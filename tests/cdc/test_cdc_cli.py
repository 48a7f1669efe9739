"""CDC tables driven through the `flowsql` command: EMIT CHANGES changelogs, the cdc-orders demo
pipeline's output, and the errors a user meets writing such pipelines."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tests.cdc.test_replay import START_US, source_state
from tests.conftest import ROOT, run_cli

CHANGELOG_PIPELINE = """
CREATE TABLE orders (id BIGINT, region VARCHAR, status VARCHAR, amount DECIMAL(10, 2), note VARCHAR,
                     PRIMARY KEY (id))
WITH (connector = 'file', path = 'feed/*.json', format = 'changes-json');
CREATE SINK open_by_region WITH (connector = 'file', path = 'out', format = 'json');
INSERT INTO open_by_region
SELECT region, count(*) AS orders, sum(amount) AS total
FROM orders WHERE status = 'open' GROUP BY region
EMIT CHANGES;
"""


def _change(op: str, position: int, after: dict | None = None, key: int | None = None) -> dict:  # type: ignore[type-arg]
    record: dict = {"op": op, "position": position, "ts_ms": 1_700_000_000_000 + position}  # type: ignore[type-arg]
    if after is not None:
        record["after"] = after
    if key is not None:
        record["key"] = {"id": key}
    return record


def _row(id: int, region: str, status: str, amount: str, note: str = "") -> dict:  # type: ignore[type-arg]
    return {"id": id, "region": region, "status": status, "amount": amount, "note": note}


# Each file is one micro-batch: the changelog after each shows only the groups that changed.
FEED = [
    [
        _change("c", 1, _row(1, "eu", "open", "10.00")),
        _change("c", 2, _row(2, "eu", "open", "5.00")),
        _change("c", 3, _row(3, "us", "open", "7.00")),
    ],
    [
        _change("u", 4, _row(3, "us", "closed", "7.00")),
        _change("u", 5, _row(2, "eu", "open", "5.00", "gift")),
        _change("c", 1, _row(1, "eu", "open", "10.00")),
    ],  # a duplicate of the first change
    [_change("u", 6, _row(2, "us", "open", "5.00", "gift")), _change("d", 7, key=1)],
    [_change("u", 3, _row(1, "eu", "open", "99.00"))],  # older than the delete: ignored
]


def read_json_lines(folder: Path) -> list[dict]:  # type: ignore[type-arg]
    rows = []
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        rows += [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
    return rows


def test_emit_changes_lists_only_groups_whose_aggregate_changed(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    feed.mkdir()
    for number, records in enumerate(FEED):
        (feed / f"{number:02d}.json").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "changes.sql").write_text(CHANGELOG_PIPELINE)
    result = run_cli("run", "changes.sql", cwd=tmp_path)
    assert result.code == 0, result.stderr
    rows = read_json_lines(tmp_path / "out")
    changes = [(r["op"], r["region"], r["orders"], r["total"]) for r in rows]
    # batch 1: two groups appear; batch 2: us empties, eu is unchanged by the note and the
    # duplicate; batch 3: order 2 moves to us and order 1 is deleted, so eu empties
    assert sorted(changes[:2]) == [("insert", "eu", 2, 15.0), ("insert", "us", 1, 7.0)]
    assert changes[2] == ("delete", "us", 1, 7.0)
    assert sorted(changes[3:]) == [("delete", "eu", 2, 15.0), ("insert", "us", 1, 5.0)]
    assert len(changes) == 5  # batch 4 changed nothing
    times = [r["snapshot_time"] for r in rows]
    assert all(times) and times == sorted(times)


@pytest.mark.slow
def test_cdc_orders_report_pipeline_output(tmp_path: Path) -> None:
    result = run_cli(
        "run",
        str(ROOT / "pipelines" / "cdc_orders_report.sql"),
        "--quiet",
        "--state-dir",
        str(tmp_path / "state"),
        cwd=tmp_path,
    )
    assert result.code == 0, result.stderr
    truth = source_state(seed=7, count=20000, rate=50.0)
    con = duckdb.connect()
    con.register("truth", pa.Table.from_pylist(list(truth.values())))

    snapshots = read_json_lines(tmp_path / "lake" / "revenue_by_status")
    final_time = max(r["snapshot_time"] for r in snapshots)
    final = sorted(
        (r["status"], r["orders"], Decimal(str(r["revenue"])).quantize(Decimal("0.01")))
        for r in snapshots
        if r["snapshot_time"] == final_time
    )
    expected = sorted(con.sql("SELECT status, count(*), round(sum(amount), 2) FROM truth GROUP BY status").fetchall())
    assert final == [(s, n, Decimal(str(v)).quantize(Decimal("0.01"))) for s, n, v in expected]
    assert sorted({r["snapshot_time"] for r in snapshots}) == ["2024-01-01 00:00:00", "2024-01-01 00:05:00", final_time]

    # Replaying the changelog gives the final per-region figures of the open orders.
    changelog = read_json_lines(tmp_path / "lake" / "open_orders_changes")
    assert {r["op"] for r in changelog} <= {"insert", "update", "delete"}
    latest: dict[str, tuple[int, float]] = {}
    for row in changelog:
        if row["op"] == "delete":
            latest.pop(row["region"], None)
        else:
            latest[row["region"]] = (row["open_orders"], round(row["open_amount"], 2))
    open_now = con.sql(
        "SELECT region, count(*), round(sum(amount), 2) FROM truth WHERE status IN ('pending', 'paid') GROUP BY region"
    ).fetchall()
    assert latest == {region: (n, round(float(v), 2)) for region, n, v in open_now}

    # Per-minute counts of the changes themselves, each change counted once despite duplicates.
    minutes = read_json_lines(tmp_path / "lake" / "orders_per_minute")
    from flowsql.sources import cdc_orders

    events = cdc_orders.change_events(7, 0, 20000, START_US, 50.0, 500, 0.2)
    minute = (events["ts_us"] - START_US) // 60_000_000
    for row in minutes:
        index = int(row["window_start"][14:16])
        for op, column in (("c", "created"), ("u", "updated"), ("d", "deleted")):
            assert row[column] == int(((minute == index) & (events["op"] == op)).sum()), (row, op)
    assert sum(r["created"] + r["updated"] + r["deleted"] for r in minutes) == 20000


def _pipeline_error(tmp_path: Path, text: str) -> str:
    (tmp_path / "bad.sql").write_text(text)
    result = run_cli("validate", "bad.sql", cwd=tmp_path)
    assert result.code == 2, result.stdout + result.stderr
    return result.stderr


TABLE = """CREATE TABLE orders (id BIGINT, status VARCHAR, PRIMARY KEY (id))
WITH (connector = 'stdin', format = 'changes-json');
CREATE SINK out WITH (connector = 'stdout');
"""


def test_a_query_over_a_table_needs_emit(tmp_path: Path) -> None:
    error = _pipeline_error(tmp_path, TABLE + "INSERT INTO out SELECT status, count(*) FROM orders GROUP BY status;\n")
    assert "bad.sql:4:1: a query over table 'orders' needs an EMIT clause" in error
    assert "EMIT EVERY INTERVAL" in error


def test_emit_on_a_windowed_query_is_refused(tmp_path: Path) -> None:
    error = _pipeline_error(
        tmp_path,
        TABLE + "INSERT INTO out SELECT window_start, window_end, count(*) AS n "
        "FROM TUMBLE(orders, arrival_time, INTERVAL '1' MINUTE) GROUP BY ALL EMIT CHANGES;\n",
    )
    assert "EMIT applies to a query over a CDC table" in error


def test_table_without_primary_key_or_format(tmp_path: Path) -> None:
    error = _pipeline_error(
        tmp_path, "CREATE TABLE t (id BIGINT) WITH (connector = 'stdin', format = 'changes-json');\n"
    )
    assert "bad.sql:1:1: table 't' needs a PRIMARY KEY" in error
    error = _pipeline_error(
        tmp_path, TABLE.replace("'changes-json'", "'avro'") + "INSERT INTO out SELECT * FROM orders EMIT CHANGES;\n"
    )
    assert "bad value 'avro' for option 'format' of table 'orders'" in error
    assert "debezium-json, dynamodb-json, changes-json" in error


def test_bad_emit_interval_points_at_it(tmp_path: Path) -> None:
    error = _pipeline_error(
        tmp_path, TABLE + "INSERT INTO out SELECT status, count(*) FROM orders GROUP BY status\nEMIT EVERY soon;\n"
    )
    assert "bad.sql:5:12: EMIT EVERY needs a positive INTERVAL, found 'soon'" in error


def test_debezium_tombstones_are_set_aside_not_fatal(tmp_path: Path) -> None:
    from tests.cdc import fixtures

    create, update, delete = (json.dumps(r) for r in fixtures.DEBEZIUM_POSTGRES)
    # Kafka Connect writes a tombstone (a null value) after each delete; a file of the topic has
    # it as a line of its own, here also as the first line of the file.
    (tmp_path / "customers.json").write_text("\n".join(["null", create, update, delete, "null", create]) + "\n")
    (tmp_path / "p.sql").write_text("""
CREATE TABLE customers (id BIGINT, first_name VARCHAR, last_name VARCHAR, email VARCHAR, PRIMARY KEY (id))
WITH (connector = 'file', path = 'customers.json', format = 'debezium-json');
CREATE SINK out WITH (connector = 'file', path = 'out', format = 'json');
INSERT INTO out SELECT count(*) AS customers FROM customers EMIT EVERY INTERVAL '1' HOUR;
""")
    result = run_cli("run", "p.sql", "--summary-json", "summary.json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    # The create replayed after the delete is older than it: the customer stays deleted.
    rows = read_json_lines(tmp_path / "out")
    assert [r["customers"] for r in rows if "customers" in r] == [0]
    errors = [(r["errorMessage"], base64.b64decode(r["rawData"])) for r in rows if "errorCode" in r]
    assert errors == [("JSON null is not a record", b"null")] * 2
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["errors"] == 2


def test_dynamodb_records_through_a_file_feed(tmp_path: Path) -> None:
    from tests.cdc import fixtures

    (tmp_path / "music.json").write_text(fixtures.ndjson(fixtures.DYNAMODB_KINESIS).decode())
    (tmp_path / "p.sql").write_text("""
CREATE TABLE music (Artist VARCHAR, SongTitle VARCHAR, AlbumTitle VARCHAR, Awards INTEGER,
                    PRIMARY KEY (Artist, SongTitle))
WITH (connector = 'file', path = 'music.json', format = 'dynamodb-json');
CREATE SINK out WITH (connector = 'file', path = 'out', format = 'json');
INSERT INTO out SELECT AlbumTitle, sum(Awards) AS awards FROM music GROUP BY AlbumTitle EMIT CHANGES;
""")
    result = run_cli("run", "p.sql", cwd=tmp_path)
    assert result.code == 0, result.stderr
    rows = read_json_lines(tmp_path / "out")
    assert [(r["op"], r["AlbumTitle"], r["awards"]) for r in rows] == [("insert", "Somewhat Famous", 10)]


def test_the_generator_writes_debezium_records_only(tmp_path: Path) -> None:
    (tmp_path / "bad.sql").write_text("""
CREATE TABLE orders (order_id BIGINT, status VARCHAR, PRIMARY KEY (order_id))
WITH (connector = 'generator', kind = 'cdc-orders', count = 10, format = 'dynamodb-json');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT status, count(*) AS n FROM orders GROUP BY status EMIT CHANGES;
""")
    result = run_cli("validate", "bad.sql", cwd=tmp_path)
    assert result.code == 2
    assert "the cdc-orders generator has no column 'op'" in result.stderr
    assert "format = 'debezium-json'" in result.stderr


def test_a_restart_neither_loses_nor_double_counts_a_change(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    feed.mkdir()
    (tmp_path / "changes.sql").write_text(CHANGELOG_PIPELINE)
    outputs = []
    for run, files in enumerate((FEED[:2], FEED[2:])):
        for number, records in enumerate(files, start=run * 2):
            (feed / f"{number:02d}.json").write_text("".join(json.dumps(r) + "\n" for r in records))
        result = run_cli("run", "changes.sql", "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
        assert result.code == 0, result.stderr
        outputs.append(read_json_lines(tmp_path / "out"))
    first = [(r["op"], r["region"], r["orders"], r["total"]) for r in outputs[0]]
    assert sorted(first[:2]) == [("insert", "eu", 2, 15.0), ("insert", "us", 1, 7.0)]
    assert first[2:] == [("delete", "us", 1, 7.0)]
    # The second run goes on from the checkpointed table and changelog: the same changes as
    # one run over the whole feed, nothing repeated.
    second = [(r["op"], r["region"], r["orders"], r["total"]) for r in outputs[1][len(outputs[0]) :]]
    assert sorted(second) == [("delete", "eu", 2, 15.0), ("insert", "us", 1, 5.0)]
