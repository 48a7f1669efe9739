"""`flowsql ddl` for every example pipeline: valid Athena DDL whose partition projection
finds exactly the folders the pipeline wrote."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest

from tests.catalog.helpers import (
    check_projected,
    columns,
    ddl_statements,
    location,
    parsed,
    partition_columns,
    table_properties,
    template_regex,
    written_files,
)
from tests.conftest import ROOT, run_cli

EXAMPLES = sorted((ROOT / "pipelines").rglob("*.sql"))
_FILE_SINK = re.compile(r"CREATE SINK[^;]*(connector\s*=\s*'file'|local_lake)", re.IGNORECASE)
LAKE_EXAMPLES = [p for p in EXAMPLES if _FILE_SINK.search(p.read_text())]
S3_EXAMPLES = [p for p in EXAMPLES if "s3_lake" in p.read_text()]


def test_every_example_gets_ddl() -> None:
    env = {"LAKE_BUCKET": "lake", "ENDPOINT_URL": "http://127.0.0.1:9", "ENDPOINT_ACCESS_KEY": "k"}
    tables = 0
    for pipeline in EXAMPLES:
        result = run_cli("ddl", str(pipeline), cwd=ROOT, env=env)  # examples name their data from the root
        assert result.code == 0, f"{pipeline}: {result.stderr}"
        for statement in filter(None, (s.strip() for s in result.stdout.split(";"))):
            assert parsed(statement).kind == "TABLE"
            tables += 1
    assert tables >= 5 and LAKE_EXAMPLES and S3_EXAMPLES


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", S3_EXAMPLES, ids=lambda p: p.stem)
def test_projection_finds_every_object_in_the_bucket(pipeline: Path, tmp_path: Path, moto_endpoint: str) -> None:
    from tests.servers.firehose_receiver import FirehoseReceiver, ReceiverState

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=f"athena-{pipeline.stem.replace('_', '-')}")
    with FirehoseReceiver(
        ReceiverState(access_key="k", common_attributes={"pipeline": "clickstream_to_lake"}, gzip=True)
    ) as receiver:
        env = {
            "LAKE_BUCKET": f"athena-{pipeline.stem.replace('_', '-')}",
            "AWS_ENDPOINT_URL": moto_endpoint,
            "ENDPOINT_URL": receiver.url,
            "ENDPOINT_ACCESS_KEY": "k",
        }
        statements = {}
        for sink in ("raw_events",):
            ddl = run_cli("ddl", str(pipeline), "--sink", sink, cwd=tmp_path, env=env)
            assert ddl.code == 0, ddl.stderr
            statements[sink] = ddl.stdout
        result = run_cli("run", str(pipeline), "--state-dir", str(tmp_path / "state"), cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    for table, ddl_text in statements.items():
        properties = table_properties(ddl_text)
        regex, keys = template_regex(properties)
        base = location(ddl_text)
        bucket, _, static = base.removeprefix("s3://").partition("/")
        objects = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=static)
            for o in page.get("Contents", [])
        ]
        assert objects, f"{table}: nothing written under {base}"
        for key in objects:
            folder = f"s3://{bucket}/" + key.rsplit("/", 1)[0] + "/"
            match = re.fullmatch(regex, folder)
            assert match, f"{table}: {folder} does not match {properties['storage.location.template']}"
            for name, value in zip(keys, match.groups(), strict=True):
                check_projected(name, value, properties)


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", LAKE_EXAMPLES, ids=lambda p: p.stem)
def test_projection_finds_every_written_object(pipeline: Path, tmp_path: Path) -> None:
    (tmp_path / "pipelines").symlink_to(ROOT / "pipelines")  # examples name their input files from the root
    statements = ddl_statements(pipeline, tmp_path)
    assert statements
    result = run_cli("run", str(pipeline), "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    assert result.code == 0, result.stderr
    for table, ddl in statements.items():
        properties = table_properties(ddl)
        assert properties["projection.enabled"] == "true"
        regex, keys = template_regex(properties)
        assert set(keys) == set(partition_columns(ddl))
        base = location(ddl)
        assert base.startswith("file://") and properties["storage.location.template"].startswith(base)
        files = written_files(Path(base.removeprefix("file://")))
        assert files, f"{table}: nothing written under {base}"
        for path in files:
            folder = "file://" + str(path.parent) + "/"
            match = re.fullmatch(regex, folder)
            assert match, f"{table}: {folder} does not match {properties['storage.location.template']}"
            for key, value in zip(keys, match.groups(), strict=True):
                check_projected(key, value, properties)


def test_clickstream_demo_tables(tmp_path: Path) -> None:
    statements = ddl_statements(ROOT / "pipelines" / "clickstream_demo.sql", tmp_path)
    assert set(statements) == {"page_minutes", "sales_raw"}  # the stdout sink has no table
    minutes = statements["page_minutes"]
    assert columns(minutes) == {
        "window_start": "TIMESTAMP",
        "window_end": "TIMESTAMP",
        "page": "VARCHAR",
        "views": "BIGINT",
        "visitors": "BIGINT",
        "revenue": "DOUBLE",
    }
    assert partition_columns(minutes) == {"dt": "string", "hour": "int"}
    props = table_properties(minutes)
    assert props["projection.dt.type"] == "date" and props["projection.dt.format"] == "yyyy-MM-dd"
    assert (props["projection.dt.interval"], props["projection.dt.interval.unit"]) == ("1", "DAYS")
    assert (props["projection.hour.type"], props["projection.hour.range"], props["projection.hour.digits"]) == (
        "integer",
        "0,23",
        "2",
    )
    assert location(minutes) == f"file://{tmp_path}/lake/page_minutes/"
    assert props["storage.location.template"] == f"file://{tmp_path}/lake/page_minutes/dt=${{dt}}/hour=${{hour}}/"
    assert "STORED AS PARQUET" in minutes

    sales = statements["sales_raw"]
    assert "event_type" not in columns(sales)  # lives in the folder name only
    assert partition_columns(sales) == {"event_type": "string"}
    assert table_properties(sales)["projection.event_type.type"] == "injected"


def test_types_static_folders_and_json(tmp_path: Path) -> None:
    statements = ddl_statements(ROOT / "pipelines" / "clickstream_to_athena.sql", tmp_path)
    report = statements["country_minutes"]
    assert columns(report) == {
        "window_start": "TIMESTAMP",
        "events": "BIGINT",
        "revenue": "DECIMAL(12, 2)",
        "pages": "ARRAY(VARCHAR)",
        "price_range": "ROW(lowest DOUBLE, highest DOUBLE)",
    }
    assert location(report) == f"file://{tmp_path}/lake/country_minutes/reports/"
    assert partition_columns(report) == {"country": "string", "dt": "string"}

    raw = statements["raw_events"]
    assert "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'" in raw
    props = table_properties(raw)
    # Firehose's default yyyy/MM/dd/HH folders: one synthetic date key spanning four folders.
    assert partition_columns(raw) == {"partition_time": "string"}
    assert props["projection.partition_time.format"] == "yyyy/MM/dd/HH"
    assert props["projection.partition_time.interval.unit"] == "HOURS"
    assert props["storage.location.template"] == f"file://{tmp_path}/lake/raw_events/${{partition_time}}/"


def test_one_sink_and_unknown_sink(tmp_path: Path) -> None:
    pipeline = ROOT / "pipelines" / "clickstream_demo.sql"
    assert set(ddl_statements(pipeline, tmp_path, "--sink", "SALES_RAW")) == {"sales_raw"}
    result = run_cli("ddl", str(pipeline), "--sink", "nope", cwd=tmp_path)
    assert result.code == 2 and "no sink named 'nope'" in result.stderr and "sales_raw" in result.stderr
    result = run_cli("ddl", str(pipeline), cwd=tmp_path)
    assert "sink 'console' (stdout) writes no files Athena can read: skipped" in result.stderr


PIPELINE = """
CREATE SOURCE s (event_id BIGINT, page VARCHAR, ts TIMESTAMP) WITH (connector = 'generator', count = 10);
CREATE SINK out WITH (connector = 'file', path = 'out', prefix = '{prefix}', glue_database = 'Lake',
                      glue_table = 'Select');
INSERT INTO out SELECT event_id AS "User Id", page, ts FROM s;
"""


def test_quoted_names_and_prefix_shapes(tmp_path: Path) -> None:
    path = tmp_path / "p.sql"
    path.write_text(PIPELINE.format(prefix="year=!{timestamp:yyyy}/m=!{timestamp:MM}/!{firehose:random-string}/"))
    ddl = ddl_statements(path, tmp_path)["select"]
    assert ddl.startswith("-- sink out\nCREATE EXTERNAL TABLE IF NOT EXISTS lake.`select` (")
    assert "`user id` bigint" in ddl
    props = table_properties(ddl)
    assert (props["projection.year.type"], props["projection.year.format"], props["projection.year.interval.unit"]) == (
        "date",
        "yyyy",
        "YEARS",
    )
    assert (props["projection.m.type"], props["projection.m.range"]) == ("integer", "1,12")
    # Random names are not partitions: the template stops before them (Athena reads below it).
    assert props["storage.location.template"] == f"file://{tmp_path}/out/year=${{year}}/m=${{m}}/"


def test_columns_that_clash_once_lower_cased(tmp_path: Path) -> None:
    path = tmp_path / "p.sql"
    path.write_text("""
CREATE SOURCE s (event_id BIGINT, ts TIMESTAMP) WITH (connector = 'generator', count = 10);
CREATE SINK out WITH (connector = 'file', path = 'out');
INSERT INTO out SELECT event_id AS Total, event_id + 1 AS total FROM s;
""")
    result = run_cli("validate", str(path), cwd=tmp_path)
    assert result.code == 2
    assert "columns 'Total' and 'total' are the same name once lower-cased" in result.stderr


def test_explain_warns_of_tiny_files(tmp_path: Path) -> None:
    result = run_cli("explain", str(ROOT / "pipelines" / "clickstream_demo.sql"), cwd=tmp_path)
    assert result.code == 0, result.stderr
    sinks = result.stdout.split("\nsinks:\n")[1].splitlines()
    warnings = [(sinks[i - 1].split(":")[0].strip(), line) for i, line in enumerate(sinks) if "warning" in line]
    assert len(warnings) == 1 and warnings[0][0] == "sales_raw"
    assert "buffer_interval 10 s with a partitioned prefix" in warnings[0][1]
    path = tmp_path / "p.sql"
    path.write_text(
        PIPELINE.format(prefix="x/").replace(
            "glue_table = 'Select'", "glue_table = 't', buffer_size = '100 KB', buffer_interval = '5 min'"
        )
    )
    result = run_cli("explain", str(path), cwd=tmp_path)
    assert "warning: many tiny files: buffer_size 100,000 bytes caps objects under 1 MB" in result.stdout
