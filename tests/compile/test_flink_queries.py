"""Each translation of a query to Flink SQL, and the error for what Flink cannot say."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowsql.compile import UnsupportedError, compile_flink
from flowsql.pipeline import parse_text
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
    text = script[script.index("INSERT INTO"):script.index("END;")]
    return " ".join(text.split()).replace("( ", "(").replace(" )", ")")


def test_tumble_becomes_a_window_tvf_and_group_by_all_explicit_keys() -> None:
    sql = insert_of(compiled("SELECT window_start, window_end, page, count(*) AS n "
                             "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL"))
    assert "FROM TABLE(TUMBLE(TABLE `clicks`, DESCRIPTOR(`ts`), INTERVAL '1' MINUTE))" in sql
    assert "GROUP BY `window_start`, `window_end`, `page`" in sql


def test_hop_keeps_slide_then_size() -> None:
    sql = insert_of(compiled("SELECT window_start, window_end, count(*) AS n "
                             "FROM HOP(clicks, ts, INTERVAL '10 seconds', INTERVAL '1 minute') GROUP BY ALL"))
    assert "TABLE(HOP(TABLE `clicks`, DESCRIPTOR(`ts`), INTERVAL '10' SECOND, INTERVAL '1' MINUTE))" in sql


def test_session_partitions_by_the_group_keys() -> None:
    sql = insert_of(compiled("SELECT window_start, window_end, user_id, page, count(*) AS n "
                             "FROM SESSION(clicks, ts, INTERVAL '30 seconds') GROUP BY ALL"))
    assert ("TABLE(SESSION(TABLE `clicks` PARTITION BY (`user_id`, `page`), DESCRIPTOR(`ts`), "
            "INTERVAL '30' SECOND))") in sql


def test_session_key_that_is_an_expression_is_reported_at_its_place() -> None:
    with pytest.raises(UnsupportedError) as caught:
        compiled("SELECT window_start, window_end, upper(page) AS p, count(*) AS n\n"
                 "FROM SESSION(clicks, ts, INTERVAL '30 seconds') GROUP BY window_start, window_end, upper(page)")
    assert "<pipeline>:8:84:" in str(caught.value)  # at upper(page) in GROUP BY
    assert "PARTITION BY" in str(caught.value)


def test_group_by_aliases_become_expressions() -> None:
    sql = insert_of(compiled("SELECT window_start, window_end, upper(page) AS p, count(*) AS n "
                             "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY window_start, window_end, p"))
    assert "GROUP BY `window_start`, `window_end`, UPPER(`page`)" in sql


@pytest.mark.parametrize(("duckdb", "flink"), [
    ("count(DISTINCT user_id)", "COUNT(DISTINCT `user_id`)"),
    ("sum(price) FILTER (WHERE page = 'cart')", "SUM(`price`) FILTER(WHERE `page` = 'cart')"),
    ("list(page)", "ARRAY_AGG(`page`)"),
    ("stddev(price)", "STDDEV_SAMP(`price`)"),
    ("avg(amount)", "AVG(CAST(`amount` AS DOUBLE))"),  # Flink's AVG of integers is an integer
])
def test_aggregates(duckdb: str, flink: str) -> None:
    sql = insert_of(compiled(f"SELECT window_start, window_end, {duckdb} AS x "
                             "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL"))
    assert f"{flink} AS `x`" in sql


@pytest.mark.parametrize(("duckdb", "flink"), [
    ("date_trunc('hour', ts)", "FLOOR(`ts` TO HOUR)"),
    ("strftime(ts, '%Y-%m-%d %H:%M')", "DATE_FORMAT(`ts`, 'yyyy-MM-dd HH:mm')"),
    ("epoch_ms(amount)", "TO_TIMESTAMP_LTZ(`amount`, 3)"),
    ("CAST(amount AS VARCHAR)", "CAST(`amount` AS STRING)"),
    ("amount::HUGEINT", "CAST(`amount` AS DECIMAL(38, 0))"),
    ("ts - INTERVAL '90 seconds'", "`ts` - INTERVAL '90' SECOND"),
    ("page || '!'", "`page` || '!'"),
    ("coalesce(page, 'none')", "COALESCE(`page`, 'none')"),
    ("amount / 8", "CAST(`amount` AS DOUBLE) / 8"),  # DuckDB's / divides as DOUBLE, Flink's does not
])
def test_row_expressions(duckdb: str, flink: str) -> None:
    sql = insert_of(compiled(f"SELECT {duckdb} AS x FROM clicks"))
    assert f"SELECT {flink} AS `x` FROM `clicks`" in sql


@pytest.mark.parametrize(("expression", "what"), [
    ("list_sort(string_split(page, ','))", "array_sort"),
    ("row_number() OVER (ORDER BY ts)", "OVER"),
    ("epoch_ms(ts)", "epoch_ms() of a timestamp"),
    ("regexp_extract_all(page, 'a')", "regexp_extract_all"),
    ("{'a': page}", "struct"),
    ("date_trunc('millennium', ts)", "millennium"),
])
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
    source = SOURCE + ("CREATE VIEW minutes AS SELECT window_start, window_end, count(*) AS n "
                       "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL;\n")
    with pytest.raises(UnsupportedError, match="no Flink time attribute"):
        compiled("SELECT window_start, window_end, sum(n) AS n FROM TUMBLE(minutes, window_end, "
                 "INTERVAL '1 hour') GROUP BY ALL", source)


def test_views_become_temporary_views_and_keep_their_time_attribute() -> None:
    source = SOURCE + "CREATE VIEW carts AS SELECT user_id, page, ts FROM clicks WHERE page = 'cart';\n"
    script = compiled("SELECT window_start, window_end, count(*) AS n FROM TUMBLE(carts, ts, "
                      "INTERVAL '1 minute') GROUP BY ALL", source)
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
