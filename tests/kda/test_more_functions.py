"""KDA functions translated onto DuckDB's: REGEX_REPLACE, TO_TIMESTAMP (milliseconds) and MONOTONIC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


def _one(tmp_path: Path, expression: str) -> tuple[int, str]:
    data = tmp_path / "row.json"
    data.write_text(json.dumps({"arrival_time": "2024-05-01 10:00:01", "s": "aXbXc"}) + "\n")
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(f"""CREATE SOURCE "SOURCE_SQL_STREAM_001" (arrival_time TIMESTAMP, "s" VARCHAR)
    WITH (connector = 'file', path = '{data}');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'stdout', format = 'json');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (v VARCHAR(64));
CREATE OR REPLACE PUMP "P" AS INSERT INTO "DESTINATION_SQL_STREAM"
  SELECT STREAM {expression} FROM "SOURCE_SQL_STREAM_001";
""")
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    return result.code, json.loads(result.stdout)["V"] if result.code == 0 else result.stderr


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("REGEX_REPLACE(s, 'X', '-', 1, 0)", "a-b-c"),
        ("REGEX_REPLACE(s, 'X', '-', 1, 1)", "a-bXc"),
        ("REGEX_REPLACE(s, 'X', '-', 3, 0)", "aXb-c"),
        ("REGEX_REPLACE(s, '(b)X(c)', '$2$1', 1, 0)", "aXcb"),
        ("REGEX_REPLACE(s, 'X', '\\$', 1, 0)", "a$b$c"),
        ("TO_TIMESTAMP(1118019600000)", "2005-06-06 01:00:00"),
        ("MONOTONIC(ROWTIME)", "2024-05-01 10:00:01"),
    ],
)
def test_function_values(tmp_path: Path, expression: str, value: str) -> None:
    assert _one(tmp_path, expression) == (0, value)


def test_regex_replace_of_a_later_occurrence_is_refused_at_the_call(tmp_path: Path) -> None:
    code, message = _one(tmp_path, "REGEX_REPLACE(s, 'X', '-', 1, 2)")
    assert code == 2
    assert "app.sql:6:17:" in message and "occurrence 0 (every match) or 1 (the first)" in message
