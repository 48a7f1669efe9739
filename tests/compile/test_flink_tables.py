"""CREATE TABLE for sources and sinks: connector options, watermarks, arrival time,
partitions from the prefix, rolling policy, and the jars the job lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowsql.compile import compile_flink
from flowsql.errors import ConfigError
from flowsql.pipeline import parse_text
from tests.conftest import run_cli

COLUMNS = "(user_id VARCHAR, page VARCHAR, price DOUBLE, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5 seconds')"
FILE_SOURCE = f"CREATE SOURCE clicks {COLUMNS} WITH (connector = 'file', path = 'in.ndjson');\n"
JSON_SINK = "CREATE SINK out WITH (connector = 'file', path = 'lake/out', format = 'json', prefix = 'rows/');\n"
INSERT = "INSERT INTO out SELECT page, price FROM clicks;\n"


def table(script: str, name: str) -> str:
    start = script.index(f"CREATE TABLE `{name}`")
    return script[start : script.index(";", start)]


def test_kinesis_source_options_watermark_and_arrival_metadata() -> None:
    source = (
        f"CREATE SOURCE clicks {COLUMNS} WITH (connector = 'kinesis', stream = 'clickstream', "
        "region = 'eu-west-1', starting_position = 'trim_horizon');\n"
    )
    job = compile_flink(parse_text(source + JSON_SINK + INSERT))
    ddl = table(job.script, "clicks__raw")
    assert "'connector' = 'kinesis'" in ddl
    assert "'stream' = 'clickstream'" in ddl
    assert "'aws.region' = 'eu-west-1'" in ddl
    assert "'scan.stream.initpos' = 'TRIM_HORIZON'" in ddl
    assert "'format' = 'json'" in ddl
    # Timestamps are read as text and parsed as flowsql reads them (space or T, UTC offsets).
    assert "`ts` STRING" in ddl and "`user_id` STRING" in ddl
    assert "`ts__time` AS TIMESTAMPADD(MINUTE" in ddl
    assert "WATERMARK FOR `ts__time` AS `ts__time` - INTERVAL '5' SECOND" in ddl
    assert "`ts__time` AS `ts`" in job.script[job.script.index("CREATE TEMPORARY VIEW `clicks`") :]
    assert "`arrival_time` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL" in ddl
    assert "org.apache.flink:flink-sql-connector-kinesis:4.3.0-1.19" in [j.coordinates for j in job.jars]


def test_arrival_time_windows_on_kinesis_watermark_the_arrival_metadata() -> None:
    source = "CREATE SOURCE clicks (page VARCHAR) WITH (connector = 'kinesis', stream = 's', region = 'us-east-1');\n"
    insert = (
        "INSERT INTO out SELECT window_start, window_end, count(*) AS n "
        "FROM TUMBLE(clicks, arrival_time, INTERVAL '1 minute') GROUP BY ALL;\n"
    )
    script = compile_flink(parse_text(source + JSON_SINK + insert)).script
    assert "WATERMARK FOR `arrival_time` AS `arrival_time`" in table(script, "clicks")
    assert "DESCRIPTOR(`arrival_time`)" in script


def test_file_source_is_flinks_filesystem_json_with_processing_time_arrival() -> None:
    job = compile_flink(parse_text(FILE_SOURCE + JSON_SINK + INSERT))
    ddl = table(job.script, "clicks__raw")
    assert "'connector' = 'filesystem'" in ddl and "'path' = 'in.ndjson'" in ddl
    assert "'json.timestamp-format.standard' = 'ISO-8601'" in ddl
    assert "`arrival_time` AS PROCTIME()" in ddl
    assert job.jars == []


def test_generator_source_is_datagen_with_a_clear_note() -> None:
    source = "CREATE SOURCE clicks WITH (connector = 'generator', count = 1000, rate = 50);\n"
    job = compile_flink(parse_text(source + JSON_SINK + INSERT))
    ddl = table(job.script, "clicks")
    assert "'connector' = 'datagen'" in ddl and "'number-of-rows' = '1000'" in ddl
    assert "'rows-per-second' = '50'" in ddl
    assert "`event_type` STRING" in ddl  # the generator's own columns
    assert any("no Flink equivalent" in note and "differ from `flowsql run`" in note for note in job.notes)


def test_stdin_source_has_no_flink_counterpart(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(f"CREATE SOURCE clicks {COLUMNS}\n  WITH (connector = 'stdin');\n" + JSON_SINK + INSERT)
    result = run_cli("compile", "--target", "flink", str(pipeline))
    assert result.code == 2
    assert f"{pipeline}:2:9: cannot compile for Flink: source 'clicks' uses connector 'stdin'" in result.stderr


def test_s3_sink_with_hive_partitions_rolling_policy_and_parquet() -> None:
    sink = (
        "CREATE SINK out WITH (connector = 's3', bucket = 'analytics', format = 'parquet', compression = 'zstd', "
        "prefix = 'clicks/page=!{partitionKeyFromQuery:page}/', buffer_size = '128 MB', "
        "buffer_interval = '300 s');\n"
    )
    job = compile_flink(parse_text(FILE_SOURCE + sink + INSERT))
    ddl = table(job.script, "out")
    assert "PARTITIONED BY (`page`)" in ddl
    assert "'path' = 's3://analytics/clicks/'" in ddl
    assert "'format' = 'parquet'" in ddl and "'parquet.compression' = 'ZSTD'" in ddl
    assert "'sink.rolling-policy.file-size' = '128000000b'" in ddl
    assert "'sink.rolling-policy.rollover-interval' = '300 s'" in ddl
    assert "'sink.partition-commit.policy.kind' = 'success-file'" in ddl
    assert "SET 'execution.checkpointing.interval' = '300 s';" in job.script
    coordinates = [j.coordinates for j in job.jars]
    assert "org.apache.flink:flink-sql-parquet:1.19.1" in coordinates
    assert "org.apache.flink:flink-s3-fs-hadoop:1.19.1" in coordinates


def test_timestamp_prefix_becomes_computed_partition_columns_in_utc() -> None:
    sink = (
        "CREATE SINK out WITH (connector = 'file', path = 'lake', format = 'json', "
        "prefix = 'dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/');\n"
    )
    script = compile_flink(parse_text(FILE_SOURCE + sink + INSERT)).script
    assert "PARTITIONED BY (`dt`, `hour`)" in table(script, "out")
    assert "`dt` STRING" in table(script, "out")
    assert "DATE_FORMAT(CURRENT_TIMESTAMP, 'yyyy-MM-dd') AS `dt`" in script
    assert "DATE_FORMAT(CURRENT_TIMESTAMP, 'HH') AS `hour`" in script
    assert "SET 'table.local-time-zone' = 'UTC';" in script


def test_default_prefix_becomes_year_month_day_hour_folders() -> None:
    sink = "CREATE SINK out WITH (connector = 'file', path = 'lake', format = 'json');\n"
    script = compile_flink(parse_text(FILE_SOURCE + sink + INSERT)).script
    assert "PARTITIONED BY (`year`, `month`, `day`, `hour`)" in table(script, "out")


def test_json_compression_is_noted_not_dropped_silently() -> None:
    sink = "CREATE SINK out WITH (connector = 'file', path = 'lake', format = 'json', compression = 'gzip');\n"
    job = compile_flink(parse_text(FILE_SOURCE + sink + INSERT))
    assert any("without gzip" in note for note in job.notes)


def test_sink_columns_are_the_query_result_types() -> None:
    insert = (
        "INSERT INTO out SELECT window_start, window_end, page, count(*) AS n, sum(price) AS total, "
        "avg(price) AS mean FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL;\n"
    )
    ddl = table(compile_flink(parse_text(FILE_SOURCE + JSON_SINK + insert)).script, "out")
    for column in ("`window_start` TIMESTAMP(3)", "`page` STRING", "`n` BIGINT", "`total` DOUBLE", "`mean` DOUBLE"):
        assert column in ddl


def test_stdout_sink_is_flinks_print_connector() -> None:
    sink = "CREATE SINK out WITH (connector = 'stdout');\n"
    assert "'connector' = 'print'" in table(compile_flink(parse_text(FILE_SOURCE + sink + INSERT)).script, "out")


def test_unknown_sink_connector_names_the_option() -> None:
    sink = "CREATE SINK out WITH (connector = 'carrier_pigeon');\n"
    with pytest.raises(ConfigError):
        compile_flink(parse_text(FILE_SOURCE + sink + INSERT))


def test_cli_lists_the_jars_and_writes_them_in_the_readme(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(
        FILE_SOURCE + "CREATE SINK out WITH (connector = 's3', bucket = 'b', format = 'parquet');\n" + INSERT
    )
    result = run_cli("compile", "--target", "flink", str(pipeline), "-o", str(tmp_path / "job"))
    assert result.code == 0, result.stderr
    assert "needs org.apache.flink:flink-sql-parquet:1.19.1" in result.stderr
    readme = (tmp_path / "job" / "README.md").read_text()
    assert "`org.apache.flink:flink-s3-fs-hadoop:1.19.1`" in readme


def test_csv_source_options_become_flinks_csv_format() -> None:
    source = (
        f"CREATE SOURCE clicks {COLUMNS} WITH (connector = 'file', path = 'in.tsv', format = 'csv', "
        "delimiter = '\\t', null_string = 'NULL', escape = '\\\\');\n"
    )
    ddl = table(compile_flink(parse_text(source + JSON_SINK + INSERT)).script, "clicks__raw")
    assert "'format' = 'csv'" in ddl and "'csv.field-delimiter' = '\\t'" in ddl
    assert "'csv.null-literal' = 'NULL'" in ddl and "'csv.escape-character' = '\\'" in ddl
    assert "'json" not in ddl


def test_csv_with_a_header_row_is_refused_for_flink_with_the_reason() -> None:
    source = (
        f"CREATE SOURCE clicks {COLUMNS} WITH (connector = 'file', path = 'in.csv',\n"
        "    format = 'csv', header = true);\n"
    )
    with pytest.raises(ConfigError) as error:
        compile_flink(parse_text(source + JSON_SINK + INSERT))
    assert "no header row" in str(error.value) and error.value.location.line == 2


@pytest.mark.parametrize(
    ("seconds", "literal"),
    [
        (5, "INTERVAL '5' SECOND"),
        (120, "INTERVAL '2' MINUTE"),
        (0, "INTERVAL '0.001' SECOND"),
        (0.5, "INTERVAL '0.500' SECOND"),
        (1.25, "INTERVAL '1.250' SECOND"),
        (0.001, "INTERVAL '0.001' SECOND"),
        (150.5, "INTERVAL '0 00:02:30.500' DAY TO SECOND(3)"),
        (90000.25, "INTERVAL '1 01:00:00.250' DAY TO SECOND(3)"),
    ],
)
def test_watermark_delays_are_intervals_flink_parses(seconds: float, literal: str) -> None:
    """Flink has no MILLISECOND interval unit, and SECOND holds two digits before the point; with
    no delay, 1 ms keeps rows of the watermark's own time on time, as on flowsql."""
    delay = f"{round(seconds * 1000)} milliseconds"
    source = (
        f"CREATE SOURCE clicks (page VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '{delay}') "
        "WITH (connector = 'file', path = 'in.ndjson');\n"
    )
    job = compile_flink(parse_text(source + JSON_SINK + "INSERT INTO out SELECT page FROM clicks;\n"))
    assert f"WATERMARK FOR `ts__time` AS `ts__time` - {literal}" in job.script
