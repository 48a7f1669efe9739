"""CREATE TABLE and the EMIT clause in pipeline files."""

from __future__ import annotations

import pytest

from flowsql.errors import PipelineError
from flowsql.pipeline import EmitPolicy, parse_text

TABLE = (
    "CREATE TABLE orders (id BIGINT, region VARCHAR, emit VARCHAR, PRIMARY KEY (id, region), "
    "WATERMARK FOR change_time AS change_time - INTERVAL '2' SECOND) "
    "WITH (connector = 'stdin', format = 'changes-json');\n"
)


def test_create_table_declares_key_watermark_and_options() -> None:
    table = parse_text(TABLE).tables["orders"]
    assert [c.name for c in table.columns] == ["id", "region", "emit"]
    assert table.primary_key == ("id", "region")
    assert table.watermark is not None and table.watermark.delay_seconds == 2.0
    assert table.option("format") == "changes-json"


def test_emit_clauses_are_taken_off_the_query() -> None:
    pipeline = parse_text(
        TABLE + "CREATE SINK s WITH (connector = 'stdout');\n"
        "INSERT INTO s SELECT region, count(*) AS n FROM orders GROUP BY region "
        "EMIT EVERY INTERVAL '5' MINUTE;\n"
        "INSERT INTO s SELECT emit, count(*) AS n FROM orders GROUP BY emit EMIT CHANGES;\n"
        "INSERT INTO s SELECT emit FROM orders;\n"
    )
    every, changes, plain = pipeline.inserts
    assert every.emit == EmitPolicy("every", 300.0)
    assert "EMIT" not in every.query.sql().upper()
    assert changes.emit == EmitPolicy("changes")
    assert changes.query.sql() == "SELECT emit, COUNT(*) AS n FROM orders GROUP BY emit"
    assert plain.emit is None  # a column named emit is no clause


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "CREATE TABLE t (id BIGINT, PRIMARY KEY (nope)) WITH (format = 'changes-json');",
            "<pipeline>:1:41: the key column 'nope' is not a declared column",
        ),
        (
            "CREATE TABLE t (id BIGINT, PRIMARY KEY (id), WATERMARK FOR id AS id) WITH (format = 'changes-json');",
            "a table's watermark is on change_time",
        ),
        (
            "CREATE SOURCE s (id BIGINT, PRIMARY KEY (id)) WITH (connector = 'stdin');",
            "<pipeline>:1:29: a source has no PRIMARY KEY",
        ),
    ],
)
def test_table_declaration_errors(text: str, message: str) -> None:
    with pytest.raises(PipelineError) as error:
        parse_text(text)
    assert message in str(error.value)
