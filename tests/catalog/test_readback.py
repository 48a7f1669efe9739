"""The written lake read back as Athena would see it: through pyarrow datasets with Hive
partitioning and through DuckDB, with the partition columns and types the DDL declares."""

from __future__ import annotations

import io
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from flowsql.delivery.encoders import ParquetEncoder
from tests.catalog.helpers import columns, ddl_statements, location, partition_columns
from tests.conftest import ROOT, run_cli
from tests.pipeline.test_examples import generated_clicks

_ARROW = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64()}
_DUCKDB = {"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT"}


@pytest.fixture(scope="module")
def athena_lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("athena")
    pipeline = ROOT / "pipelines" / "clickstream_to_athena.sql"
    result = run_cli("run", str(pipeline), "--state-dir", str(tmp / "state"), cwd=tmp)
    assert result.code == 0, result.stderr
    return tmp, ddl_statements(pipeline, tmp)


def expected_report() -> list[tuple]:  # type: ignore[type-arg]
    con = duckdb.connect()
    con.register("clicks", generated_clicks(20_000, seed=11, rate=200))
    return con.sql("""SELECT time_bucket(INTERVAL 1 MINUTE, ts) AS window_start, country, count(*),
                             CAST(sum(price) FILTER (WHERE event_type = 'purchase') AS DECIMAL(12, 2))
                      FROM clicks GROUP BY ALL ORDER BY ALL""").fetchall()


def test_pyarrow_dataset_with_hive_partitioning(athena_lake: tuple[Path, dict[str, str]]) -> None:
    _, statements = athena_lake
    ddl = statements["country_minutes"]
    keys = partition_columns(ddl)
    partitioning = ds.partitioning(pa.schema([(k, _ARROW[t]) for k, t in keys.items()]), flavor="hive")
    dataset = ds.dataset(location(ddl).removeprefix("file://"), format="parquet", partitioning=partitioning)
    assert dataset.schema.names == [*columns(ddl), *keys]
    assert dataset.schema.field("revenue").type == pa.decimal128(12, 2)
    assert dataset.schema.field("pages").type.value_type == pa.string()
    assert dataset.schema.field("price_range").type.names == ["lowest", "highest"]
    table = dataset.to_table().sort_by([("window_start", "ascending"), ("country", "ascending")])
    rows = [(r["window_start"], r["country"], r["events"], r["revenue"]) for r in table.to_pylist()]
    assert rows == expected_report()
    folders = {p.name.split("=")[1] for p in Path(location(ddl).removeprefix("file://")).glob("country=*/dt=*")}
    assert set(table.column("dt").to_pylist()) == folders and len(folders) >= 1


def test_duckdb_with_declared_partition_types(athena_lake: tuple[Path, dict[str, str]]) -> None:
    _tmp, statements = athena_lake
    ddl = statements["country_minutes"]
    types = ", ".join(f"'{k}': '{_DUCKDB[t]}'" for k, t in partition_columns(ddl).items())
    root = location(ddl).removeprefix("file://")
    con = duckdb.connect()
    scan = f"read_parquet('{root}**/*.parquet', hive_partitioning = true, hive_types = {{{types}}})"
    described = {row[0]: row[1] for row in con.sql(f"DESCRIBE SELECT * FROM {scan}").fetchall()}
    assert list(described) == [*columns(ddl), *partition_columns(ddl)]
    assert described["country"] == "VARCHAR" and described["dt"] == "VARCHAR"
    assert described["revenue"] == "DECIMAL(12,2)" and described["pages"] == "VARCHAR[]"
    rows = con.sql(f"SELECT window_start, country, events, revenue FROM {scan} ORDER BY ALL").fetchall()
    assert rows == expected_report()

    # The raw events as JSON lines under yyyy/MM/dd/HH: every event, with its columns.
    raw = statements["raw_events"]
    events = con.sql(f"""SELECT count(*), count(DISTINCT event_id), sum(price)
        FROM read_json('{location(raw).removeprefix("file://")}**/*.json.gz',
                       columns = {{{", ".join(f"'{c}': '{t}'" for c, t in columns(raw).items())}}})""").fetchall()[0]
    clicks = generated_clicks(20_000, seed=11, rate=200)
    assert events[:2] == (20_000, 20_000)
    assert abs(events[2] - sum(clicks.column("price").to_pylist())) < 1e-6


def test_parquet_as_athena_reads_it(athena_lake: tuple[Path, dict[str, str]]) -> None:
    tmp, _statements = athena_lake
    files = sorted((tmp / "lake" / "country_minutes").rglob("*.parquet"))
    schemas = {pq.read_schema(f) for f in files}
    assert len(files) == 10 and len(schemas) == 1  # one schema for every object of the table
    meta = pq.read_metadata(files[0])
    column = meta.schema.column(0)
    assert column.name == "window_start" and column.physical_type == "INT64"
    stamp = json.loads(column.logical_type.to_json())
    assert (stamp["Type"], stamp["timeUnit"]) == ("Timestamp", "microseconds")  # never nanoseconds
    assert meta.schema.column(1).name == "events"  # written `Events` in the query
    decimal = json.loads(meta.schema.column(2).logical_type.to_json())
    assert (decimal["Type"], decimal["precision"], decimal["scale"]) == ("Decimal", 12, 2)


def test_nested_names_lower_cased_without_losing_values() -> None:
    table = pa.table(
        {
            "Id": [1, 2, 3, 4],
            "Info": pa.array(
                [{"Name": "a", "Tags": [{"K": 1}, None]}, None, {"Name": None, "Tags": None}, {"Name": "d", "Tags": []}]
            ),
        }
    ).slice(1, 3)
    out = pq.read_table(io.BytesIO(ParquetEncoder().encode(table)))
    assert out.column_names == ["id", "info"]
    assert out.to_pylist() == [
        {"id": 2, "info": None},
        {"id": 3, "info": {"name": None, "tags": None}},
        {"id": 4, "info": {"name": "d", "tags": []}},
    ]
    first = pq.read_table(io.BytesIO(ParquetEncoder().encode(pa.table({"Info": table.column("Info").chunk(0)[:0]}))))
    assert first.schema.field("info").type.field("tags").type.value_type.names == ["k"]


def test_ddl_after_growth_shows_the_new_column(tmp_path: Path) -> None:
    pipeline = (ROOT / "pipelines" / "clickstream_to_athena.sql").read_text()
    path = tmp_path / "p.sql"
    path.write_text(pipeline.replace("count(*) AS Events,", "count(*) AS Events, count(DISTINCT user_id) AS users,"))
    assert list(columns(ddl_statements(path, tmp_path)["country_minutes"]))[:3] == ["window_start", "events", "users"]
    assert run_cli("validate", str(path), cwd=tmp_path).code == 0
