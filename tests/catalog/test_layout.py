"""Tables of sinks of any connector, read from the sink's options (here an `s3` sink, which
`flowsql ddl` handles without needing the S3 module)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from flowsql.catalog.athena import create_table_ddl, sink_table
from flowsql.delivery.prefix import parse_prefix
from flowsql.errors import ConfigError, Location
from flowsql.options import Option
from flowsql.pipeline.model import SinkDecl
from tests.catalog.helpers import partition_columns, table_properties


def s3_table(prefix: str, format_name: str = "parquet") -> str:
    decl = SinkDecl(
        "Lake",
        (Option("connector", "s3"), Option("bucket", "my-bucket"), Option("prefix", prefix)),
        Location("p.sql", 1, 1),
    )
    schema = pa.schema([("Region", pa.string()), ("n", pa.int64()), ("Date", pa.timestamp("us", "UTC"))])
    table = sink_table(decl, parse_prefix(prefix), schema, format_name)
    assert table is not None
    return create_table_ddl(table)


def test_s3_location_and_default_prefix() -> None:
    ddl = s3_table("firehose/clicks/!{timestamp:yyyy/MM/dd/HH}/")
    assert "LOCATION 's3://my-bucket/firehose/clicks/'" in ddl
    props = table_properties(ddl)
    assert props["storage.location.template"] == "s3://my-bucket/firehose/clicks/${partition_time}/"
    assert props["projection.partition_time.format"] == "yyyy/MM/dd/HH"
    assert "`date` timestamp" in ddl and "region string" in ddl


def test_partition_values_of_delivered_keys() -> None:
    decl = SinkDecl("x", (Option("connector", "s3"), Option("bucket", "b")), Location("p.sql", 1, 1))
    prefix = parse_prefix("out/region=!{partitionKeyFromQuery:Region}/!{timestamp:yyyy}/!{timestamp:MM}/")
    table = sink_table(decl, prefix, pa.schema([("Region", pa.string()), ("n", pa.int64())]), "json")
    assert table is not None
    assert [c for c, _ in table.columns] == ["n"]  # the Hive column lives in folder names only
    assert partition_columns(create_table_ddl(table)) == {"region": "string", "partition_time": "string"}
    props = table_properties(create_table_ddl(table))
    assert props["projection.partition_time.format"] == "yyyy/MM"
    assert props["projection.partition_time.interval.unit"] == "MONTHS"
    found = table.layout.partition_of("out/region=eu%2Fwest/2026/11/x-000001.json")
    assert found == (["eu/west", "2026/11"], "region=eu%2Fwest/2026/11/")
    assert table.layout.partition_of("elsewhere/x.json") is None


def test_folder_named_like_a_column() -> None:
    with pytest.raises(ConfigError, match="folder 'n=' names a partition column that is also a column"):
        s3_table("n=!{timestamp:yyyy-MM-dd}/")
