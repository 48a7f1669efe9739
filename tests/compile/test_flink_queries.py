"""Each translation of a query to Flink SQL, and the error for what Flink cannot say."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowsql.compile import UnsupportedError, compile_flink
from flowsql.pipeline import load_pipeline, parse_text
from tests.conftest import run_cli

SOURCE = """CREATE SOURCE clicks (
    user_id VARCHAR, page VARCHAR, price DOUBLE, amount BIGINT, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
) WITH (connector = 'file', path = 'events.ndjson');
CREATE SINK out WITH (connector = 'file', path = 'lake/out', format = 'json', prefix = 'rows/');
"""


def compiled(query: str, source: str = SOURCE) -> str:
    return compile_flink(parse_text(source + "INSERT INTO out\n" + query + ";\n")).script


def insert_of(script: str) -> str:
    """The INSERT statement of the job, on one line with single spaces."""
    text = script[script.index("INSERT INTO") : script.index("END;")]
    return " ".join(text.split()).replace("( ", "(").replace(" )", ")")


def test_tumble_becomes_a_window_tvf_and_group_by_all_explicit_keys() -> None:
    sql = insert_of(
        compiled(
            "SELECT window_start, window_end, page, count(*) AS n "
            "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL"
        )
    )
    assert "FROM TABLE(TUMBLE(TABLE `clicks`, DESCRIPTOR(`ts`), INTERVAL '1' MINUTE))" in sql
    assert "GROUP BY `window_start`, `window_end`, `page`" in sql


def test_hop_keeps_slide_then_size() -> None:
    sql = insert_of(
        compiled(
            "SELECT window_start, window_end, count(*) AS n "
            "FROM HOP(clicks, ts, INTERVAL '10 seconds', INTERVAL '1 minute') GROUP BY ALL"
        )
    )
    assert "TABLE(HOP(TABLE `clicks`, DESCRIPTOR(`ts`), INTERVAL '10' SECOND, INTERVAL '1' MINUTE))" in sql


def test_session_partitions_by_the_group_keys() -> None:
    sql = insert_of(
        compiled(
            "SELECT window_start, window_end, user_id, page, count(*) AS n "
            "FROM SESSION(clicks, ts, INTERVAL '30 seconds') GROUP BY ALL"
        )
    )
    assert (
        "TABLE(SESSION(TABLE `clicks` PARTITION BY (`user_id`, `page`), DESCRIPTOR(`ts`), INTERVAL '29.999' SECOND))"
    ) in sql  # 1 ms short: Flink merges sessions that touch


def test_session_key_that_is_an_expression_is_reported_at_its_place() -> None:
    with pytest.raises(UnsupportedError) as caught:
        compiled(
            "SELECT window_start, window_end, upper(page) AS p, count(*) AS n\n"
            "FROM SESSION(clicks, ts, INTERVAL '30 seconds') GROUP BY window_start, window_end, upper(page)"
        )
    assert "<pipeline>:8:84:" in str(caught.value)  # at upper(page) in GROUP BY
    assert "PARTITION BY" in str(caught.value)


def test_group_by_aliases_become_expressions() -> None:
    sql = insert_of(
        compiled(
            "SELECT window_start, window_end, upper(page) AS p, count(*) AS n "
            "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY window_start, window_end, p"
        )
    )
    assert "GROUP BY `window_start`, `window_end`, UPPER(`page`)" in sql


@pytest.mark.parametrize(
    ("duckdb", "flink"),
    [
        ("count(DISTINCT user_id)", "COUNT(DISTINCT `user_id`)"),
        ("sum(price) FILTER (WHERE page = 'cart')", "SUM(`price`) FILTER(WHERE `page` = 'cart')"),
        ("list(page)", "ARRAY_AGG(`page`)"),
        ("stddev(price)", "STDDEV_SAMP(`price`)"),
        ("avg(amount)", "AVG(CAST(`amount` AS DOUBLE))"),  # Flink's AVG of integers is an integer
    ],
)
def test_aggregates(duckdb: str, flink: str) -> None:
    sql = insert_of(
        compiled(
            f"SELECT window_start, window_end, {duckdb} AS x FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL"
        )
    )
    assert f"{flink} AS `x`" in sql


@pytest.mark.parametrize(
    ("duckdb", "flink"),
    [
        ("date_trunc('hour', ts)", "FLOOR(`ts` TO HOUR)"),
        ("strftime(ts, '%Y-%m-%d %H:%M')", "DATE_FORMAT(`ts`, 'yyyy-MM-dd HH:mm')"),
        ("epoch_ms(amount)", "TO_TIMESTAMP_LTZ(`amount`, 3)"),
        ("CAST(amount AS VARCHAR)", "CAST(`amount` AS STRING)"),
        ("amount::HUGEINT", "CAST(`amount` AS DECIMAL(38, 0))"),
        ("ts - INTERVAL '90 seconds'", "`ts` - INTERVAL '90' SECOND"),
        ("page || '!'", "`page` || '!'"),
        ("coalesce(page, 'none')", "COALESCE(`page`, 'none')"),
        ("amount / 8", "CAST(`amount` AS DOUBLE) / 8"),  # DuckDB's / divides as DOUBLE, Flink's does not
    ],
)
def test_row_expressions(duckdb: str, flink: str) -> None:
    sql = insert_of(compiled(f"SELECT {duckdb} AS x FROM clicks"))
    assert f"SELECT {flink} AS `x` FROM `clicks`" in sql


@pytest.mark.parametrize(
    ("expression", "what"),
    [
        ("list_sort(string_split(page, ','))", "array_sort"),
        ("row_number() OVER (ORDER BY ts)", "OVER"),
        ("epoch_ms(ts)", "epoch_ms() of a timestamp"),
        ("regexp_extract_all(page, 'a')", "regexp_extract_all"),
        ("page ->> 'a'", "->>"),
        ("date_trunc('millennium', ts)", "millennium"),
    ],
)
def test_construct_without_flink_form_is_an_error_at_its_line_and_column(expression: str, what: str) -> None:
    query = f"SELECT page,\n       {expression} AS x FROM clicks"
    with pytest.raises(UnsupportedError) as caught:
        compiled(query)
    message = str(caught.value)
    assert message.startswith("<pipeline>:8:")
    assert what.lower() in message.lower()
    column = int(message.split(":")[2])
    assert 8 <= column <= 8 + len(expression)  # at the construct, not at the statement


def test_windows_over_a_windowed_view_are_refused() -> None:
    source = SOURCE + (
        "CREATE VIEW minutes AS SELECT window_start, window_end, count(*) AS n "
        "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL;\n"
    )
    with pytest.raises(UnsupportedError, match="no Flink time attribute"):
        compiled(
            "SELECT window_start, window_end, sum(n) AS n FROM TUMBLE(minutes, window_end, "
            "INTERVAL '1 hour') GROUP BY ALL",
            source,
        )


def test_views_become_temporary_views_and_keep_their_time_attribute() -> None:
    source = SOURCE + "CREATE VIEW carts AS SELECT user_id, page, ts FROM clicks WHERE page = 'cart';\n"
    script = compiled(
        "SELECT window_start, window_end, count(*) AS n FROM TUMBLE(carts, ts, INTERVAL '1 minute') GROUP BY ALL",
        source,
    )
    assert "CREATE TEMPORARY VIEW `carts` AS" in script
    assert "TABLE(TUMBLE(TABLE `carts`, DESCRIPTOR(`ts`), INTERVAL '1' MINUTE))" in script


def test_cli_reports_the_unsupported_construct_with_file_line_column(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(SOURCE + "INSERT INTO out\nSELECT page, regexp_extract_all(page, 'a') AS x FROM clicks;\n")
    result = run_cli("compile", "--target", "flink", str(pipeline), "-o", str(tmp_path / "job"))
    assert result.code == 2
    assert f"{pipeline}:7:14: cannot compile for Flink" in result.stderr
    assert not (tmp_path / "job").exists()


def test_cli_writes_the_job_and_its_readme(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(SOURCE + "INSERT INTO out\nSELECT page FROM clicks;\n")
    result = run_cli("compile", "--target", "flink", str(pipeline), "-o", str(tmp_path / "job"))
    assert result.code == 0, result.stderr
    script = (tmp_path / "job" / "job.sql").read_text()
    assert "INSERT INTO `out`\nSELECT\n  `page`\nFROM `clicks`;" in script
    readme = (tmp_path / "job" / "README.md").read_text()
    assert "Differences from `flowsql run`" in readme


def test_group_by_all_selecting_only_window_start_groups_by_both_bounds() -> None:
    sql = insert_of(
        compiled(
            "SELECT window_start, count(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '1 minute') "
            "GROUP BY ALL ORDER BY window_start"
        )
    )
    assert "GROUP BY `window_start`, `window_end`" in sql
    assert "ORDER BY" not in sql


def test_order_by_is_left_out_with_a_note() -> None:
    job = compile_flink(parse_text(SOURCE + "INSERT INTO out\nSELECT page FROM clicks ORDER BY page;\n"))
    assert "ORDER BY" not in insert_of(job.script)
    assert any("ORDER BY page is left out" in note for note in job.notes)


@pytest.mark.parametrize(
    ("duckdb", "flink"),
    [
        ("POSITION('a' IN page)", "POSITION('a' IN `page`)"),
        ("length(page)", "CHAR_LENGTH(`page`)"),
        ("trim(page, 'x')", "TRIM(BOTH 'x' FROM `page`)"),
    ],
)
def test_functions_flink_spells_otherwise(duckdb: str, flink: str) -> None:
    assert f"SELECT {flink} AS `x` FROM `clicks`" in insert_of(compiled(f"SELECT {duckdb} AS x FROM clicks"))


def test_similar_to_is_kept() -> None:
    assert "`page` SIMILAR TO '%cart%'" in insert_of(compiled("SELECT page FROM clicks WHERE page SIMILAR TO '%cart%'"))


def test_zero_buffer_interval_checkpoints_every_second_and_says_so() -> None:
    sink = "CREATE SINK fast WITH (connector = 'file', path = 'lake/f', format = 'json', buffer_interval = '0 s');\n"
    job = compile_flink(parse_text(SOURCE + sink + "INSERT INTO fast SELECT page FROM clicks;\n"))
    assert "SET 'execution.checkpointing.interval' = '1 s';" in job.script
    assert any("checkpoints every 1 s" in note for note in job.notes)


def test_http_sink_is_refused_at_its_connector_with_the_way_out(tmp_path: Path) -> None:
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(
        SOURCE.replace("CREATE SINK out", "CREATE SINK unused")
        + "CREATE SINK out WITH (\n    connector = 'http', url = 'http://127.0.0.1:1/x');\n"
        "INSERT INTO out SELECT page FROM clicks;\n"
    )
    result = run_cli("compile", "--target", "flink", str(pipeline))
    assert result.code == 2
    assert f"{pipeline}:7:5: cannot compile for Flink: sink 'out' posts to an HTTP endpoint" in result.stderr
    assert "connector = 's3'" in result.stderr


def test_kda_stagger_window_is_refused_at_its_pump_with_the_reason() -> None:
    with pytest.raises(UnsupportedError) as caught:
        compile_flink(load_pipeline(Path("pipelines/kda/stagger_window.sql")))
    assert "STAGGER window" in str(caught.value) and "TUMBLE or SESSION" in str(caught.value)
    assert caught.value.location.line == 19  # CREATE OR REPLACE PUMP, not a comment line


def test_kda_sliding_window_becomes_a_flink_over_aggregation() -> None:
    script = compile_flink(load_pipeline(Path("pipelines/kda/sliding_average.sql"))).script
    sql = insert_of(script)
    assert (
        "OVER (PARTITION BY `ticker_symbol` ORDER BY `arrival_time` RANGE BETWEEN INTERVAL '1' MINUTE "
        "PRECEDING AND CURRENT ROW)"
    ) in sql
    assert "WINDOW `W1`" not in sql  # the named window is written inline


def test_error_from_a_translated_pump_points_at_the_statement_not_a_comment() -> None:
    with pytest.raises(UnsupportedError) as caught:
        compile_flink(load_pipeline(Path("pipelines/kda/weather_sliding_min_max.sql")))
    assert caught.value.location.line > 3
    assert "and()" not in str(caught.value) and "epoch_us" not in str(caught.value)


def test_top_k_per_window_becomes_a_flink_window_top_n() -> None:
    sql = insert_of(
        compiled(
            "SELECT window_start, page, count(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '1 minute') "
            "GROUP BY window_start, window_end, page "
            "QUALIFY row_number() OVER (PARTITION BY window_start ORDER BY count(*) DESC, page) <= 3"
        )
    )
    assert sql.startswith(
        "INSERT INTO `out` SELECT `window_start`, `page`, `n` FROM (SELECT *, ROW_NUMBER() OVER "
        "(PARTITION BY `window_start`, `window_end` ORDER BY `k__0` DESC, `page`) AS `row__number`"
    )
    assert "COUNT(*) AS `k__0`, `window_end` FROM TABLE(TUMBLE(" in sql
    assert sql.endswith("WHERE `row__number` <= 3;")


def test_qualify_other_than_top_k_per_window_is_refused_with_the_form_flink_has() -> None:
    with pytest.raises(UnsupportedError) as caught:
        compiled("SELECT page, price FROM clicks QUALIFY row_number() OVER (PARTITION BY page ORDER BY price) = 1")
    assert "top-K per window" in str(caught.value)
    assert caught.value.location.line == 7


def test_struct_fields_read_outside_become_columns_of_the_subquery() -> None:
    sql = insert_of(
        compiled(
            "SELECT t.r.a AS first, t.f.c AS second FROM (SELECT {'a': upper(page), 'b': 1} AS r, "
            "CASE WHEN regexp_full_match(page, 'x(.)') THEN regexp_extract(page, 'x(.)', ['c']) "
            "END AS f FROM clicks) AS t"
        )
    )
    assert sql.startswith(
        "INSERT INTO `out` SELECT `t`.`r__a` AS `first`, `t`.`f__c` AS `second` FROM (SELECT "
        "UPPER(`page`) AS `r__a`, CASE WHEN REGEXP(`page`, '^(?:x(.))$') THEN "
        "COALESCE(REGEXP_EXTRACT(`page`, 'x(.)', 1), '') END AS `f__c` FROM `clicks`) AS `t`"
    )


def test_strptime_becomes_to_timestamp_checked_by_formatting_back() -> None:
    sql = insert_of(
        compiled(
            "SELECT try_strptime(page, '%Y%m%d') AS day, strptime(page, '%d/%b/%Y:%H:%M:%S') AS moment FROM clicks"
        )
    )
    assert "TO_TIMESTAMP(`page`, 'yyyyMMdd')" in sql
    # Flink reads 30 February as 28 February: only a value that formats back to its text counts.
    assert (
        "WHEN DATE_FORMAT(COALESCE(TO_TIMESTAMP(`page`, 'yyyyMMdd'), TO_TIMESTAMP(`page`, 'yyyyMd')), "
        "'yyyyMMdd') = `page`" in sql
    )
    assert "TO_TIMESTAMP(`page`, 'dd/MMM/yyyy:HH:mm:ss'), TO_TIMESTAMP(`page`, 'd/MMM/yyyy:HH:mm:ss')" in sql


def test_a_part_of_a_split_becomes_split_index() -> None:
    sql = insert_of(compiled("SELECT str_split(page, ',')[2] AS second FROM clicks"))
    assert "SPLIT_INDEX(`page`, ',', 1) AS `second`" in sql


def test_kda_stream_join_becomes_a_flink_interval_join() -> None:
    sql = insert_of(compile_flink(load_pipeline(Path("pipelines/kda/stream_join_outer.sql"))).script)
    assert (
        "FROM `ORDERS` AS `o` LEFT OUTER JOIN `TRADES` AS `t` ON (`o`.`order_id` = `t`.`order_id`) AND "
        "`o`.`arrival_time` BETWEEN `t`.`arrival_time` - INTERVAL '1' MINUTE AND `t`.`arrival_time` + "
        "INTERVAL '0' SECOND" in sql
    )
    # The pair's ROWTIME is the later one; an unmatched order's is the end of its window.
    assert (
        "COALESCE(GREATEST(`o`.`arrival_time`, `t`.`arrival_time`), `o`.`arrival_time` + INTERVAL '1' MINUTE, "
        "`t`.`arrival_time` + INTERVAL '0' SECOND)" in sql
    )


def test_kda_date_functions_become_flink_date_functions() -> None:
    sql = insert_of(compile_flink(load_pipeline(Path("pipelines/kda/datetime_functions.sql"))).script)
    assert "DATE_FORMAT(CAST(CASE WHEN DATE_FORMAT(COALESCE(TO_TIMESTAMP(`sent_at`, 'yyyy-MM-dd HH:mm:ss.SSS')" in sql
    assert "'dd/MM/yyyy hh:mm:ss a')" in sql  # TIMESTAMP_TO_CHAR's pattern, back in Java's letters
    # UNIX_TIMESTAMP and TSDIFF: milliseconds since 1970, from whole minutes so an INT holds them.
    assert (
        "CAST(TIMESTAMPDIFF(MINUTE, CAST('1970-01-01 00:00:00' AS TIMESTAMP(3)), FLOOR(`arrival_time` TO "
        "MINUTE)) AS BIGINT) * 60000 + EXTRACT(SECOND FROM `arrival_time`) * 1000 + EXTRACT(MILLISECOND FROM "
        "`arrival_time`)"
    ) in sql
    assert "FLOOR(CAST(`bytes` AS DOUBLE) / 10)) * 10 AS INT) AS `BYTES_BUCKET`" in sql


def test_kda_reference_join_writes_the_table_into_the_job_as_a_case_on_the_key() -> None:
    job = compile_flink(load_pipeline(Path("pipelines/kda/reference_join.sql")))
    sql = insert_of(job.script)
    assert (
        "CAST(CASE `SOURCE_SQL_STREAM_001`.`ticker_symbol` WHEN 'AMZN' THEN 'Amazon' WHEN 'WMT' THEN 'Walmart' "
        "WHEN 'MSFT' THEN 'Microsoft' END AS STRING) AS `Company`"
    ) in sql
    assert "JOIN" not in sql
    assert any("read when the job is compiled (3 rows)" in note for note in job.notes)


def test_struct_literal_becomes_a_row_and_a_sorted_list_an_array_sort() -> None:
    sql = insert_of(
        compiled(
            "SELECT window_start, {'low': min(price), 'high': max(price)} AS spread, "
            "list(DISTINCT page ORDER BY page) AS pages "
            "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL"
        )
    )
    assert "ROW(MIN(`price`), MAX(`price`)) AS `spread`" in sql
    # Flink's ARRAY_AGG takes no ORDER BY (it would keep arrival order): the list is sorted after.
    assert "ARRAY_SORT(ARRAY_AGG(DISTINCT `page`), TRUE, FALSE) AS `pages`" in sql


def test_list_ordered_by_another_column_is_refused() -> None:
    with pytest.raises(UnsupportedError) as caught:
        compiled(
            "SELECT window_start, list(page ORDER BY ts) AS pages FROM TUMBLE(clicks, ts, INTERVAL '1 minute') "
            "GROUP BY ALL"
        )
    assert "ordered by the listed value itself" in str(caught.value)
