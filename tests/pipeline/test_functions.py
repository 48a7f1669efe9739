"""CREATE FUNCTION: Python functions called from SQL, row by row or over Arrow arrays, in a
passthrough and in a window query; a row the function raises on goes to the error output with
the function's message, and the rest of the output is the function's answer over the other rows."""

from __future__ import annotations

import base64
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.pipeline.functions.pricing import price_cents

FUNCTIONS = Path(__file__).parent / "functions"
PIPELINE = """CREATE FUNCTION price_cents AS 'pricing:price_cents';
CREATE FUNCTION with_tax(DOUBLE) RETURNS DOUBLE AS 'pricing:with_tax';
CREATE FUNCTION label(VARCHAR, BIGINT) RETURNS VARCHAR AS 'pricing.py:label';
CREATE SOURCE orders (id BIGINT, payload VARCHAR, code VARCHAR, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '1 second')
WITH (connector = 'file', path = 'orders.ndjson', chunk_size = '4 KB');
CREATE SINK priced WITH (connector = 'file', path = 'priced', format = 'json', buffer_interval = '0 s');
CREATE SINK totals WITH (connector = 'file', path = 'totals', format = 'json', buffer_interval = '0 s');
INSERT INTO priced SELECT id, price_cents(payload) AS cents, with_tax(price_cents(payload) / 100.0) AS gross,
    label(code, id) AS tag FROM orders;
INSERT INTO totals SELECT window_start, count(*) AS n, sum(price_cents(payload)) AS cents
    FROM TUMBLE(orders, ts, INTERVAL '1' MINUTE) GROUP BY ALL;
"""
BROKEN = {17, 230, 231}  # payloads with no amount: price_cents raises ValueError on them


def write_pipeline(folder: Path, setting: str = "") -> list[dict]:
    shutil.copy(FUNCTIONS / "pricing.py", folder / "pricing.py")  # the module beside the pipeline
    rows = [
        {
            "id": i,
            "payload": "EUR" if i in BROKEN else f"EUR {i % 50}.{i % 7:02d}",
            "code": f"c{i % 3}",
            "ts": f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}",
        }
        for i in range(400)
    ]
    (folder / "orders.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "p.sql").write_text(setting + PIPELINE)
    return rows


def read_json(folder: Path, errors: bool = False) -> list[dict]:
    files = [f for f in sorted(folder.rglob("*.json")) if ("errors" in f.parts) == errors]
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_functions_run_in_a_passthrough_and_a_window_and_bad_rows_go_to_the_error_output(tmp_path: Path) -> None:
    rows = write_pipeline(tmp_path)
    result = run_cli("run", "p.sql", cwd=tmp_path)
    assert result.code == 0, result.stderr
    good = [r for r in rows if r["id"] not in BROKEN]

    priced = sorted(read_json(tmp_path / "priced"), key=lambda r: r["id"])
    assert [r["id"] for r in priced] == [r["id"] for r in good]
    for out, row in zip(priced, good, strict=True):
        cents = round(float(row["payload"].split()[1]) * 100)
        assert out["cents"] == cents
        assert out["gross"] == pytest.approx(round(cents / 100 * 1.2, 2), abs=1e-9)
        assert out["tag"] == f"{row['code'].upper()}-{row['id']:03d}"

    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in good:
        window = row["ts"][:16].replace("T", " ") + ":00"
        expected[window][0] += 1
        expected[window][1] += price_cents(row["payload"])
    totals = {r["window_start"]: [r["n"], int(r["cents"])] for r in read_json(tmp_path / "totals")}
    assert totals == dict(expected)

    errors = read_json(tmp_path / "priced", errors=True)
    assert {e["errorCode"] for e in errors} == {"query-failed"}
    by_query: dict[str, set[int]] = defaultdict(set)
    for error in errors:
        record = json.loads(base64.b64decode(error["rawData"]))
        target = error["errorMessage"].split("'")[1]
        by_query[target].add(record["id"])
        assert "price_cents() raised ValueError: no amount in 'EUR'" in error["errorMessage"]
        assert "FunctionRaised" not in error["errorMessage"] and "UDF" not in error["errorMessage"]
    assert by_query == {"priced": BROKEN, "totals": BROKEN}


def test_on_query_error_fail_stops_at_the_row_the_function_raised_on(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "SET on_query_error = 'fail';\n")
    result = run_cli("run", "p.sql", cwd=tmp_path)
    assert result.code == 1
    assert "price_cents() raised ValueError: no amount in 'EUR'" in result.stderr
    assert '"id": 17' in result.stderr or '"id":17' in result.stderr


def test_explain_shows_each_function_and_flink_refuses_them(tmp_path: Path) -> None:
    write_pipeline(tmp_path)
    explained = run_cli("explain", "p.sql", cwd=tmp_path)
    assert explained.code == 0, explained.stderr
    assert "functions:\n" in explained.stdout
    assert "p.sql:1:1: price_cents(VARCHAR) RETURNS BIGINT:" in explained.stdout
    assert "pricing.py:price_cents, row by row" in explained.stdout
    assert "with_tax(DOUBLE) RETURNS DOUBLE:" in explained.stdout and "vectorized (Arrow arrays)" in explained.stdout
    assert "label(VARCHAR, BIGINT) RETURNS VARCHAR:" in explained.stdout
    compiled = run_cli("compile", "p.sql", "--target", "flink", "-o", str(tmp_path / "flink"), cwd=tmp_path)
    assert compiled.code == 2
    assert "p.sql:1:1: cannot compile for Flink: function 'price_cents' is Python" in compiled.stderr
    assert not (tmp_path / "flink").exists()
