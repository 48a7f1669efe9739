"""Glue registration against moto's server: the table and one partition per folder after a
run, and nothing created twice by a second run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from tests.conftest import run_cli

PIPELINE = """
CREATE SOURCE clicks (event_id BIGINT, page VARCHAR, country VARCHAR, price DOUBLE, ts TIMESTAMP)
    WITH (connector = 'generator', count = 3000, rate = 100, seed = 3);
CREATE SINK lake WITH (
    connector = 'file', path = 'lake', format = '{format}',
    prefix = 'data/country=!{{partitionKeyFromQuery:country}}/dt=!{{timestamp:yyyy-MM-dd}}/',
    glue_database = 'Analytics', glue_table = 'Clicks'
);
INSERT INTO lake SELECT event_id, page, country, price, ts{extra} FROM clicks;
"""


def glue(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client("glue", endpoint_url=endpoint, region_name="us-east-1")


def partitions(endpoint: str, table: str) -> list[dict]:  # type: ignore[type-arg]
    pages = glue(endpoint).get_paginator("get_partitions").paginate(DatabaseName="analytics", TableName=table)
    return [p for page in pages for p in page["Partitions"]]


def run(tmp_path: Path, endpoint: str, *extra: str) -> None:
    result = run_cli(
        "run",
        str(tmp_path / "p.sql"),
        "--state-dir",
        str(tmp_path / "state"),
        *extra,
        cwd=tmp_path,
        env={"AWS_ENDPOINT_URL": endpoint},
    )
    assert result.code == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", [[], ["--no-checkpoint"]], ids=["staged", "direct"])
def test_table_and_partitions_registered_once(tmp_path: Path, moto_endpoint: str, checkpoint: list[str]) -> None:
    table = "clicks_staged" if not checkpoint else "clicks_direct"
    (tmp_path / "p.sql").write_text(PIPELINE.format(format="parquet", extra="").replace("'Clicks'", f"'{table}'"))
    run(tmp_path, moto_endpoint, *checkpoint)

    described = glue(moto_endpoint).get_table(DatabaseName="analytics", Name=table)["Table"]
    storage = described["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in storage["Columns"]] == [
        ("event_id", "bigint"),
        ("page", "string"),
        ("price", "double"),
        ("ts", "timestamp"),
    ]
    assert [(k["Name"], k["Type"]) for k in described["PartitionKeys"]] == [("country", "string"), ("dt", "string")]
    assert storage["Location"] == f"file://{tmp_path}/lake/data/"
    assert storage["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")

    folders = sorted({p.parent for p in (tmp_path / "lake").rglob("*.parquet")})
    found = partitions(moto_endpoint, table)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert sorted(p["StorageDescriptor"]["Location"] for p in found) == [f"file://{f}/" for f in folders]
    assert sorted(tuple(p["Values"]) for p in found) == sorted(
        (f.parent.name.split("=")[1], f.name.split("=")[1]) for f in folders
    )
    assert len(found) == 10 and all(p["Values"][1] == today for p in found)  # ten countries, one day

    # Again from the start: the same objects are written again and replace the first ones (their
    # names come from the rows' position, not the clock); nothing is created twice.
    run(tmp_path, moto_endpoint, *(["--reset"] if not checkpoint else []), *checkpoint)
    again = partitions(moto_endpoint, table)
    assert sorted(tuple(p["Values"]) for p in again) == sorted(tuple(p["Values"]) for p in found)
    versions = glue(moto_endpoint).get_table_versions(DatabaseName="analytics", TableName=table)["TableVersions"]
    assert len(versions) == 1
    assert len(list((tmp_path / "lake").rglob("*.parquet"))) == 10


@pytest.mark.slow
def test_added_column_updates_the_table(tmp_path: Path, moto_endpoint: str) -> None:
    (tmp_path / "p.sql").write_text(PIPELINE.format(format="json", extra="").replace("'Clicks'", "'grows'"))
    run(tmp_path, moto_endpoint)
    # The query grows a column: the checkpoint refuses it, --reset starts over with the new schema.
    (tmp_path / "p.sql").write_text(
        PIPELINE.format(format="json", extra=", price * 2 AS Doubled").replace("'Clicks'", "'grows'")
    )
    refused = run_cli(
        "run",
        str(tmp_path / "p.sql"),
        "--state-dir",
        str(tmp_path / "state"),
        cwd=tmp_path,
        env={"AWS_ENDPOINT_URL": moto_endpoint},
    )
    assert refused.code == 2 and "--reset" in refused.stderr
    run(tmp_path, moto_endpoint, "--reset")
    described = glue(moto_endpoint).get_table(DatabaseName="analytics", Name="grows")["Table"]
    assert [c["Name"] for c in described["StorageDescriptor"]["Columns"]] == [
        "event_id",
        "page",
        "price",
        "ts",
        "doubled",
    ]
    assert described["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert len(partitions(moto_endpoint, "grows")) == 10


@pytest.mark.slow
def test_glue_down_then_back_registers_what_was_delivered(tmp_path: Path, moto_endpoint: str) -> None:
    (tmp_path / "p.sql").write_text(PIPELINE.format(format="parquet", extra="").replace("'Clicks'", "'healed'"))
    down = run_cli(
        "run",
        str(tmp_path / "p.sql"),
        "--state-dir",
        str(tmp_path / "state"),
        cwd=tmp_path,
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )  # nothing listens on the discard port
    assert down.code == 1
    assert "Glue registration of data/country=" in down.stderr and "in analytics.healed failed" in down.stderr
    # The checkpoint had committed: the next start finishes its promotions and registers them.
    run(tmp_path, moto_endpoint)
    folders = sorted({p.parent for p in (tmp_path / "lake").rglob("*.parquet")})
    assert len(folders) == 10
    found = partitions(moto_endpoint, "healed")
    assert sorted(p["StorageDescriptor"]["Location"] for p in found) == [f"file://{f}/" for f in folders]
