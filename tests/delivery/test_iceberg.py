"""The iceberg sink against the embedded SQLite catalog: partitioned appends read back with
PyIceberg and DuckDB, commit marks, schema evolution, errors at validate, explain and ddl."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from flowsql.cli import main
from tests.conftest import ROOT, run_cli
from tests.delivery.conftest import clicks_source
from tests.delivery.iceberg_helpers import arrow_rows, flowsql_marks, load, scan
from tests.pipeline.test_examples import generated_clicks

RAW_COLUMNS = ["event_id", "user_id", "page", "event_type", "country", "price", "ts"]


def sink_text(name: str = "raw", table: str = "web.raw", extra: str = "") -> str:
    return (
        f"CREATE SINK {name} WITH (connector = 'iceberg', table = '{table}', warehouse = 'lake/', "
        f"buffer_interval = '0 s'{extra});\n"
    )


def write_pipeline(folder: Path, text: str, name: str = "p.sql") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_partitioned_appends_read_back_with_pyiceberg_and_duckdb(tmp_path: Path) -> None:
    pipeline = write_pipeline(
        tmp_path,
        clicks_source(20_000, seed=3, batch_size=4_000)
        + sink_text(extra=", partition_by = 'day(ts), event_type'")
        + f"INSERT INTO raw SELECT {', '.join(RAW_COLUMNS)} FROM clicks;\n",
    )
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr

    expected = arrow_rows(generated_clicks(20_000, seed=3).select(RAW_COLUMNS))
    assert scan(tmp_path / "lake", "web.raw", RAW_COLUMNS) == expected

    table = load(tmp_path / "lake", "web.raw")
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [("ts_day", "day"), ("event_type", "identity")]
    # Every data file holds one day and one event type, the ones its partition names.
    files = table.inspect.files().to_pylist()
    assert len(files) > 5
    for entry in files:
        rows = pq.read_table(entry["file_path"].removeprefix("file://"))
        days = {ts.date() for ts in rows.column("ts").to_pylist()}
        assert days == {entry["partition"]["ts_day"]}
        assert set(rows.column("event_type").to_pylist()) == {entry["partition"]["event_type"]}

    # One snapshot per flush, each marked with its pipeline, run, checkpoint epoch and sequence.
    marks = flowsql_marks(table)
    assert len(marks) >= 2 and len(set(marks)) == len(marks)
    assert all(sink == "raw" and int(epoch) >= 1 and seq == "1" for sink, _, epoch, seq in marks)
    assert table.metadata.snapshots[0].summary.get("flowsql.pipeline") == "p"

    # DuckDB reads the same Parquet files the table lists.
    paths = [e["file_path"].removeprefix("file://") for e in files]
    count, users = (
        duckdb.connect().execute("SELECT count(*), count(DISTINCT user_id) FROM read_parquet(?)", [paths]).fetchone()
    )
    assert count == 20_000 and users == len({r[1] for r in expected})


def test_a_second_run_resumes_and_commits_nothing_again(tmp_path: Path) -> None:
    pipeline = write_pipeline(
        tmp_path, clicks_source(3_000) + sink_text() + "INSERT INTO raw SELECT event_id, page FROM clicks;\n"
    )
    assert run_cli("run", str(pipeline), cwd=tmp_path).code == 0
    snapshots = len(load(tmp_path / "lake", "web.raw").metadata.snapshots)
    again = run_cli("run", str(pipeline), cwd=tmp_path)
    assert again.code == 0 and "resumed from checkpoint" in again.stderr
    assert len(load(tmp_path / "lake", "web.raw").metadata.snapshots) == snapshots
    assert len(scan(tmp_path / "lake", "web.raw")) == 3_000

    # Without checkpoints each run is its own: the rows are appended again, under a new run id.
    assert run_cli("run", str(pipeline), "--no-checkpoint", cwd=tmp_path).code == 0
    table = load(tmp_path / "lake", "web.raw")
    assert len(table.scan().to_arrow()) == 6_000
    assert len({run for _, run, _, _ in flowsql_marks(table)}) == 2


def test_new_columns_are_added_and_an_incompatible_type_is_refused_at_validate(tmp_path: Path) -> None:
    first = write_pipeline(
        tmp_path,
        clicks_source(1_000)
        + sink_text()
        + "INSERT INTO raw SELECT event_id, CAST(price AS FLOAT) AS price FROM clicks;\n",
        "a.sql",
    )
    assert run_cli("run", str(first), cwd=tmp_path).code == 0

    # A new column is added (optional; old rows read NULL), float widens to double.
    second = write_pipeline(
        tmp_path,
        clicks_source(1_000, seed=8)
        + sink_text()
        + "INSERT INTO raw SELECT event_id + 1000000 AS event_id, price, page FROM clicks;\n",
        "b.sql",
    )
    assert run_cli("validate", str(second), cwd=tmp_path).code == 0
    result = run_cli("run", str(second), cwd=tmp_path)
    assert result.code == 0, result.stderr
    table = load(tmp_path / "lake", "web.raw")
    assert [(f.name, str(f.field_type), f.required) for f in table.schema().fields] == [
        ("event_id", "long", False),
        ("price", "double", False),
        ("page", "string", False),
    ]
    rows = table.scan().to_arrow()
    old = rows.filter(rows.column("event_id").to_numpy() < 1_000_000)
    new = rows.filter(rows.column("event_id").to_numpy() >= 1_000_000)
    assert old.num_rows == new.num_rows == 1_000
    assert old.column("page").null_count == 1_000 and new.column("page").null_count == 0
    expected_prices = sorted(generated_clicks(1_000, seed=8).column("price").to_pylist())
    assert sorted(new.column("price").to_pylist()) == expected_prices

    # A type Iceberg cannot change into: refused before anything runs, where the table is named.
    third = write_pipeline(
        tmp_path,
        clicks_source(10) + sink_text() + "INSERT INTO raw SELECT event_id, page AS price FROM clicks;\n",
        "c.sql",
    )
    for command in ("validate", "run"):
        refused = run_cli(command, str(third), cwd=tmp_path)
        assert refused.code == 2, refused.stderr
        line = third.read_text().splitlines().index(sink_text().strip()) + 1
        assert f"c.sql:{line}:" in refused.stderr
        assert "'price' is double in the table and string in the query" in refused.stderr
    assert len(load(tmp_path / "lake", "web.raw").scan().to_arrow()) == 2_000


def test_bad_catalog_table_and_partition_names_exit_2_with_their_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    cases = {
        "catalog = 'hive'": "option 'catalog'",
        "table = 'no_namespace'": "'no_namespace' is not a table name",
        "table = 'web.bad-name'": "'web.bad-name' is not a table name",
        "partition_by = 'day(nope)'": "names no column",
        "partition_by = 'week(ts)'": "unknown partition transform 'week'",
        "partition_by = 'day(page)'": "cannot partition column 'page'",
        "primary_key = 'order_id'": "'order_id' is not a column",
        "uri = 'http://127.0.0.1:1'": "add catalog = 'rest'",
    }
    for option, message in cases.items():
        key = option.split(" ")[0]
        options = {"catalog": "'embedded'", "table": "'web.raw'", "warehouse": "'lake/'"}
        options[key] = option.split(" = ")[1]
        text = (
            clicks_source(10)
            + "CREATE SINK raw WITH (connector = 'iceberg',\n"
            + ",\n".join(f"    {k} = {v}" for k, v in options.items())
            + ");\n"
            + "INSERT INTO raw SELECT event_id, page, ts FROM clicks;\n"
        )
        pipeline = write_pipeline(tmp_path, text)
        code = main(["validate", str(pipeline)])  # the command in this process: eight starts cost too much
        stderr = capsys.readouterr().err
        assert code == 2, (option, stderr)
        line = next(i for i, t in enumerate(text.splitlines(), 1) if t.strip().startswith(f"{key} ="))
        assert f"p.sql:{line}:5:" in stderr, (option, stderr)
        assert message in stderr, (option, stderr)
    assert not (tmp_path / "lake").exists()  # validate created nothing


def test_explain_and_ddl_describe_the_table(tmp_path: Path) -> None:
    pipeline = write_pipeline(
        tmp_path,
        clicks_source(10)
        + sink_text(extra=", partition_by = 'hour(ts), page'")
        + "INSERT INTO raw SELECT event_id, page, ts FROM clicks;\n",
    )
    explained = run_cli("explain", str(pipeline), cwd=tmp_path)
    assert explained.code == 0, explained.stderr
    assert "iceberg table web.raw, catalog: embedded SQLite catalog" in explained.stdout
    assert "partition spec: hour(ts), page" in explained.stdout
    assert "one Iceberg commit per flush" in explained.stdout and "flowsql.epoch" in explained.stdout

    ddl = run_cli("ddl", str(pipeline), cwd=tmp_path)
    assert ddl.code == 0, ddl.stderr
    assert "CREATE TABLE web.raw (" in ddl.stdout
    assert "PARTITIONED BY (hour(ts), page)" in ddl.stdout
    assert "'table_type' = 'ICEBERG'" in ddl.stdout
    assert "Athena cannot read a local warehouse" in ddl.stderr


def test_bad_records_are_written_beside_the_table(tmp_path: Path) -> None:
    data = tmp_path / "clicks.ndjson"
    data.write_text(
        '{"event_id": 1, "page": "/a"}\nnot json\n{"event_id": 2, "page": "/b"}\n{"event_id": "three", "page": "/c"}\n'
    )
    pipeline = write_pipeline(
        tmp_path,
        f"CREATE SOURCE clicks (event_id BIGINT, page VARCHAR) WITH "
        f"(connector = 'file', path = '{data}');\n"
        + sink_text()
        + "INSERT INTO raw SELECT event_id, page FROM clicks;\n",
    )
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert scan(tmp_path / "lake", "web.raw") == [(1, "/a"), (2, "/b")]
    written = list((tmp_path / "lake" / "web" / "raw" / "flowsql-errors").glob("p-raw-*.json"))
    assert len(written) == 1
    records = [json.loads(line) for line in written[0].read_text().splitlines()]
    assert sorted(base64.b64decode(r["rawData"]) for r in records) == [
        b"not json",
        b'{"event_id": "three", "page": "/c"}',
    ]
    assert "2 error records" in result.stderr


def test_the_example_pipelines_run_as_they_are(tmp_path: Path) -> None:
    result = run_cli(
        "run", str(ROOT / "pipelines" / "clickstream_to_iceberg.sql"), "--state-dir", str(tmp_path), cwd=tmp_path
    )
    assert result.code == 0, result.stderr
    clicks = generated_clicks(100_000, seed=11)
    assert scan(tmp_path / "lake", "clickstream.raw_events", RAW_COLUMNS) == arrow_rows(clicks.select(RAW_COLUMNS))
    con = duckdb.connect()
    con.register("clicks", clicks)
    expected = con.execute(
        "SELECT time_bucket(INTERVAL 1 MINUTE, ts), page, count(*), count(DISTINCT user_id) "
        "FROM clicks GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    minutes = scan(tmp_path / "lake", "clickstream.page_minutes", ["window_start", "page", "views", "visitors"])
    assert minutes == expected

    cdc = run_cli(
        "run", str(ROOT / "pipelines" / "cdc_orders_to_iceberg.sql"), "--state-dir", str(tmp_path), cwd=tmp_path
    )
    assert cdc.code == 0, cdc.stderr
    # Two tables kept apart, one by row upserts and deletes, one by a grouped changelog, agree.
    orders = load(tmp_path / "lake", "shop.orders").scan().to_arrow()
    assert 0 < orders.num_rows < 20_000 and len(set(orders.column("order_id").to_pylist())) == orders.num_rows
    con.register("orders", orders)
    open_by_region = con.execute(
        "SELECT region, count(*), sum(amount) FROM orders "
        "WHERE status IN ('pending', 'paid') GROUP BY region ORDER BY ALL"
    ).fetchall()
    assert (
        scan(tmp_path / "lake", "shop.open_orders_by_region", ["region", "open_orders", "open_amount"])
        == open_by_region
    )
