"""The iceberg sink with catalog = 'glue' and the warehouse on S3, both served by moto over HTTP,
configured as any PyIceberg program is (PYICEBERG_CATALOG__<name>__... variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from pyiceberg.catalog import load_catalog

from tests.conftest import run_cli
from tests.delivery.conftest import clicks_source
from tests.pipeline.test_examples import generated_clicks


@pytest.fixture
def glue_env(moto_endpoint: str, aws_env: dict[str, str]) -> dict[str, str]:
    return {
        **aws_env,
        "PYICEBERG_CATALOG__FLOWSQL__GLUE__ENDPOINT": moto_endpoint,
        "PYICEBERG_CATALOG__FLOWSQL__S3__ENDPOINT": moto_endpoint,
        "PYICEBERG_CATALOG__FLOWSQL__S3__REGION": "us-east-1",
        "PYICEBERG_CATALOG__FLOWSQL__GLUE__REGION": "us-east-1",
    }


def test_glue_catalog_with_the_warehouse_on_s3(
    tmp_path: Path, bucket: str, glue_env: dict[str, str], moto_endpoint: str
) -> None:
    pipeline = tmp_path / "glue.sql"
    pipeline.write_text(
        clicks_source(5_000, seed=9, batch_size=1_000)
        + f"""
CREATE SINK raw WITH (connector = 'iceberg', catalog = 'glue', table = 'weblake.raw',
    warehouse = 's3://{bucket}/warehouse', partition_by = 'hour(ts), event_type', buffer_interval = '0 s');
INSERT INTO raw SELECT event_id, page, event_type, price, ts FROM clicks;
"""
    )
    result = run_cli("run", str(pipeline), cwd=tmp_path, env=glue_env)
    assert result.code == 0, result.stderr

    # This process read its PyIceberg configuration at import, so the same settings go as properties.
    table = load_catalog(
        "flowsql",
        type="glue",
        **{
            "glue.endpoint": moto_endpoint,
            "s3.endpoint": moto_endpoint,
            "s3.region": "us-east-1",
            "glue.region": "us-east-1",
        },
    ).load_table("weblake.raw")
    rows = sorted(tuple(r.values()) for r in table.scan().to_arrow().to_pylist())
    expected = generated_clicks(5_000, seed=9).select(["event_id", "page", "event_type", "price", "ts"])
    assert rows == sorted(tuple(r.values()) for r in expected.to_pylist())
    assert str(table.spec().fields[0].transform) == "hour"

    glue: Any = boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")
    registered = glue.get_table(DatabaseName="weblake", Name="raw")["Table"]
    assert registered["Parameters"]["table_type"].upper() == "ICEBERG"
    s3: Any = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="warehouse/")["Contents"]]
    assert any(k.endswith(".parquet") and "/data/" in k for k in keys)

    ddl = run_cli("ddl", str(pipeline), cwd=tmp_path, env=glue_env)
    assert ddl.code == 0, ddl.stderr
    assert ddl.stdout.strip() == "" and "no DDL needed" in ddl.stderr
