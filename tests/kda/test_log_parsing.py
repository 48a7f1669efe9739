"""VARIABLE_COLUMN_LOG_PARSE, FIXED_COLUMN_LOG_PARSE and SYS_LOG_PARSE run through the CLI on
the example apps' sample lines; expected values worked out by hand from pipelines/kda/data/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.kda.helpers import run_example


def test_variable_column_log_parse_developer_guide_example(tmp_path: Path) -> None:
    rows = run_example("variable_column_log_parse", tmp_path)
    assert rows == [
        {"column_A": "a", "column_B": "b", "column_C": "c", "COL_1": "x", "COL_2": "y", "COL_3": "z"},
        # A missing trailing field is NULL; an empty one is ''; fields past the list are dropped.
        {"column_A": "a2", "column_B": "b2", "column_C": "c2", "COL_1": "x2", "COL_2": "y2", "COL_3": None},
        {"column_A": "a3", "column_B": "b3", "column_C": "c3", "COL_1": "x3", "COL_2": "", "COL_3": "z3"},
        # A NULL string gives NULL fields.
        {"column_A": "a4", "column_B": "b4", "column_C": "c4", "COL_1": None, "COL_2": None, "COL_3": None},
    ]


def test_variable_column_log_parse_types_quotes_and_escape(tmp_path: Path) -> None:
    rows = run_example("variable_column_log_parse_quoted", tmp_path)
    assert rows == [
        # The quoted customer keeps its comma; the count form splits at every comma.
        {
            "ORDER_ID": 1001,
            "CUSTOMER": "Smith, John",
            "ORDERED_AT": "2024-05-01 10:00:00",
            "AMOUNT": 19.99,
            "NOTE": "gift",
            "RAW_SECOND": '"Smith',
        },
        # The escaped comma stays in the field; NOTE, the missing trailing field, is NULL.
        {
            "ORDER_ID": 1002,
            "CUSTOMER": "Acme, Inc.",
            "ORDERED_AT": "2024-05-01 10:05:30",
            "AMOUNT": 5.0,
            "NOTE": None,
            "RAW_SECOND": "Acme\\",
        },
        # Text that is not a value of its column's type is NULL; the empty last field is ''.
        {"ORDER_ID": 1003, "CUSTOMER": "Lee", "ORDERED_AT": None, "AMOUNT": None, "NOTE": "", "RAW_SECOND": "Lee"},
        # A quote left open: the line cannot be read, every field is NULL.
        {
            "ORDER_ID": None,
            "CUSTOMER": None,
            "ORDERED_AT": None,
            "AMOUNT": None,
            "NOTE": None,
            "RAW_SECOND": '"Unclosed',
        },
        # ORDER_ID is NOT NULL and 'oops' is no INTEGER: the whole line is rejected.
        {"ORDER_ID": None, "CUSTOMER": None, "ORDERED_AT": None, "AMOUNT": None, "NOTE": None, "RAW_SECOND": "Bob"},
    ]


def test_fixed_column_log_parse(tmp_path: Path) -> None:
    rows = run_example("fixed_column_log_parse", tmp_path)
    assert rows == [
        {"SHIPPED": "2024-05-01", "COMPANY": "ACME      ", "QUANTITY": 150, "STATUS": "OK"},
        # The line ends inside QUANTITY (its 5 characters are read) and before STATUS starts.
        {"SHIPPED": "2024-05-02", "COMPANY": "BOLT CO   ", "QUANTITY": 7, "STATUS": None},
        # '2024-5-3' is not yyyyMMdd and '12x456' no integer.
        {"SHIPPED": None, "COMPANY": "WIDGETS   ", "QUANTITY": None, "STATUS": "OK"},
        {"SHIPPED": None, "COMPANY": None, "QUANTITY": None, "STATUS": None},
    ]


def test_sys_log_parse(tmp_path: Path) -> None:
    rows = run_example("sys_log_parse", tmp_path)
    assert rows == [
        # RFC 3164 stamps have no year: 1970, as Java's "MMM dd HH:mm:ss" parse gives.
        {"LOGGED_AT": "1970-05-01 10:00:01", "LOG_TEXT": "web1 sshd[4242]: Accepted publickey for alice"},
        {"LOGGED_AT": "1970-05-12 23:59:59", "LOG_TEXT": "db2 kernel: eth0: link up"},
        {"LOGGED_AT": None, "LOG_TEXT": None},  # not a syslog line
        {"LOGGED_AT": None, "LOG_TEXT": None},  # February has no 30th
    ]


BINDINGS = """CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "message" VARCHAR)
    WITH (connector = 'file', path = '{data}');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (a VARCHAR(16), b VARCHAR(16), c VARCHAR(16));
"""


def _run(tmp_path: Path, pump: str, messages: list[str]) -> list[dict[str, object]]:
    data = tmp_path / "lines.json"
    data.write_text(
        "".join(
            json.dumps({"arrival_time": f"2024-05-01 10:00:0{i}", "message": m}) + "\n"
            for i, m in enumerate(messages, 1)
        )
    )
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(BINDINGS.format(data=data) + pump)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_tab_delimiter_as_unicode_literal(tmp_path: Path) -> None:
    rows = _run(
        tmp_path,
        """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM t.r.COLUMN1, t.r.COLUMN2, t.r.COLUMN3
FROM (SELECT STREAM VARIABLE_COLUMN_LOG_PARSE("message", 3, u&'\\0009') AS r FROM "SOURCE_SQL_STREAM_001") AS t;""",
        ["one\ttwo\tthree", "a,b\tc"],
    )
    assert rows == [{"A": "one", "B": "two", "C": "three"}, {"A": "a,b", "B": "c", "C": None}]


def test_delimiter_of_several_characters_and_two_quote_characters(tmp_path: Path) -> None:
    rows = _run(
        tmp_path,
        """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM t.r."first", t.r.SECOND, t.r.THIRD
FROM (SELECT STREAM VARIABLE_COLUMN_LOG_PARSE("message",
          '"first" TYPE VARCHAR(16), second TYPE VARCHAR(16), third TYPE VARCHAR(16)', ' | ', '', '[]') AS r
      FROM "SOURCE_SQL_STREAM_001") AS t;""",
        ["x | [y | z] | w", "a|b | c", "[open | x", "[p | q[ | r"],
    )
    # A run begun by '[' ends at ']' or at '[' (the reference allows both).
    assert rows == [
        {"A": "x", "B": "y | z", "C": "w"},
        {"A": "a|b", "B": "c", "C": None},
        {"A": None, "B": None, "C": None},
        {"A": "p | q", "B": "r", "C": None},
    ]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        ("VARIABLE_COLUMN_LOG_PARSE(\"message\", 'A VARCHAR', ',')", "cannot read the column description"),
        ("VARIABLE_COLUMN_LOG_PARSE(\"message\", 'A TYPE NOSUCHTYPE(', ',')", "unknown type"),
        ("VARIABLE_COLUMN_LOG_PARSE(\"message\", 'A TYPE NOSUCHTYPE', ',')", "unknown type"),
        ("VARIABLE_COLUMN_LOG_PARSE(\"message\", 'A TYPE INTEGER trailing', ',')", "unknown type"),
        ("VARIABLE_COLUMN_LOG_PARSE(\"message\", 2, '')", "delimiter of at least one character"),
        ('VARIABLE_COLUMN_LOG_PARSE("message", 2)', "takes (string, columns"),
        ("FIXED_COLUMN_LOG_PARSE(\"message\", 'A TYPE VARCHAR FOR 3')", "needs START n"),
        ("FIXED_COLUMN_LOG_PARSE(\"message\", 'A TYPE VARCHAR')", "needs START n"),
        (
            "FIXED_COLUMN_LOG_PARSE(\"message\", 'A TYPE INTEGER ''yyyy'' START 0')",
            "belongs to a DATE, TIME or TIMESTAMP",
        ),
        ("SYS_LOG_PARSE(\"message\", 'x')", "takes one string"),
        ("W3C_LOG_PARSE(\"message\", 'IIS')", "IIS format is not supported"),
    ],
)
def test_a_call_that_cannot_be_translated_is_named_at_its_place(tmp_path: Path, call: str, words: str) -> None:
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(
        BINDINGS.format(data=tmp_path / "none.json")
        + 'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"\n'
        + f"SELECT STREAM t.r.COLUMN1, 'x', 'y' FROM (SELECT STREAM\n    {call} AS r\n"
        + 'FROM "SOURCE_SQL_STREAM_001") AS t;\n'
    )
    result = run_cli("validate", str(pipeline))
    assert result.code == 2, result.stdout + result.stderr
    assert "app.sql:7:5:" in result.stderr and words.lower() in result.stderr.lower(), result.stderr


def test_w3c_time_keeps_its_brackets_unless_the_format_writes_them(tmp_path: Path) -> None:
    # The reference's W3C_LOG_PARSE examples: COMMON's %t column is "[24/May/2004:22:01:02 -0700]";
    # a custom format with [%t] gives the time without the brackets.
    rows = _run(
        tmp_path,
        """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM t.c.COLUMN3, t.c.COLUMN4, t.x.COLUMN4
FROM (SELECT STREAM W3C_LOG_PARSE("message", 'COMMON') AS c,
                    W3C_LOG_PARSE("message", '%h %l %u [%t] "%r" %>s %b') AS x
      FROM "SOURCE_SQL_STREAM_001") AS t;""",
        ['192.168.254.30 - John [24/May/2004:22:01:02 -0700] "GET /icons/apache_pb.gif HTTP/1.1" 304 0'],
    )
    assert rows == [{"A": "John", "B": "[24/May/2004:22:01:02 -0700]", "C": "24/May/2004:22:01:02 -0700"}]


def test_escape_without_quotes(tmp_path: Path) -> None:
    rows = _run(
        tmp_path,
        """CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM t.r.COLUMN1, t.r.COLUMN2, t.r.COLUMN3
FROM (SELECT STREAM VARIABLE_COLUMN_LOG_PARSE("message", 3, ';', '^', '') AS r FROM "SOURCE_SQL_STREAM_001") AS t;""",
        ['a^;b;"c;d', "x^^;y", "dangling^"],
    )
    # '^;' is a ';' in the field, '^^' a '^'; a quote is plain text here; a lone escape at the
    # end of the line leaves it unreadable.
    assert rows == [
        {"A": "a;b", "B": '"c', "C": "d"},
        {"A": "x^", "B": "y", "C": None},
        {"A": None, "B": None, "C": None},
    ]
