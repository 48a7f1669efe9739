"""Delimited input: CSV, TSV and '|' records decoded by position or header name, quoted fields
with delimiters and newlines inside, NULL strings, and bad records in the error output with
their bytes, position and reason; window results equal DuckDB's batch answer."""

from __future__ import annotations

import base64
import csv
import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from flowsql.decode_csv import CsvDecoder, CsvFormat
from flowsql.pipeline.model import Column
from tests.conftest import run_cli

COLUMNS = (Column("user_id", "VARCHAR"), Column("amount", "BIGINT"), Column("ts", "TIMESTAMP"))
ARRIVAL = datetime(2026, 1, 1, tzinfo=UTC)


def decode(data: bytes, form: CsvFormat, origin: str = "in.csv", base: int = 0):  # type: ignore[no-untyped-def]
    return CsvDecoder("events", COLUMNS, form).decode(data, origin, base, ARRIVAL)


def test_quoted_fields_null_strings_and_a_bad_record() -> None:
    records = [
        b"a,1,2024-01-01 00:00:00",
        b'"b,with comma",2,2024-01-01 00:00:01',
        b'"multi\nline",3,2024-01-01T00:00:02Z',
        b"c,lots,2024-01-01 00:00:03",
        b"",
        b",4,",
        b"d,5,2024-01-01 00:00:05,extra",
        b'"say ""hi""",6,2024-01-01 00:00:06',
    ]
    data = b"\n".join(records)
    table, bad = decode(data, CsvFormat(), base=100)
    assert table.column("user_id").to_pylist() == ["a", "b,with comma", "multi\nline", None, 'say "hi"']
    assert table.column("amount").to_pylist() == [1, 2, 3, 4, 6]
    assert table.column("ts").to_pylist()[2] == datetime(2024, 1, 1, 0, 0, 2)
    assert table.column("ts").to_pylist()[3] is None
    assert [b.raw for b in bad] == [records[3], records[6]]
    assert bad[0].message == "column 'amount': cannot convert 'lots' to BIGINT"
    assert "3 fields" in bad[1].message and "4" in bad[1].message
    offsets = [100 + data.index(r) for r in (records[3], records[6])]
    assert [b.position for b in bad] == [f"in.csv@{o}" for o in offsets]


def test_tab_and_pipe_delimiters_a_null_string_and_another_record_delimiter() -> None:
    table, bad = decode(b"a\t1\t2024-01-01 00:00:00\nNULL\t2\tNULL\n", CsvFormat(delimiter="\t", null_string="NULL"))
    assert (table.column("user_id").to_pylist(), bad) == (["a", None], [])
    assert table.column("ts").to_pylist()[1] is None
    table, bad = decode(
        b"a|1|2024-01-01 00:00:00;b|2|2024-01-01 00:00:01", CsvFormat(delimiter="|", record_delimiter=";")
    )
    assert table.column("amount").to_pylist() == [1, 2] and bad == []


def test_columns_by_header_name_in_any_order_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    header = b"ts,amount,user_id,ignored\n"
    first = b"2024-01-01 00:00:00,1,a,x\n"
    second = b"2024-01-01 00:00:01,2,b,y\n"
    path.write_bytes(header + first + second)
    decoder = CsvDecoder("events", COLUMNS, CsvFormat(header=True))
    # The second chunk first: its header is read from the file.
    later, _ = decoder.decode(second, str(path), len(header + first), ARRIVAL)
    table, _ = decoder.decode(header + first, str(path), 0, ARRIVAL)
    assert table.column("user_id").to_pylist() == ["a"] and later.column("amount").to_pylist() == [2]


def test_record_end_ignores_newlines_inside_quotes() -> None:
    decoder = CsvDecoder("events", COLUMNS, CsvFormat())
    data = b'a,1,x\n"b\nstill b",2,y\n"c, not ended\n'
    assert decoder.record_end(data) == data.index(b'"c')
    assert CsvDecoder("e", COLUMNS, CsvFormat(escape="\\")).record_end(b'"q\\"\n",1,x\n"open') == 11


def _events(count: int, seed: int) -> list[tuple[str | None, int, str]]:
    rnd = random.Random(seed)
    start = datetime(2024, 1, 1)
    rows = []
    for i in range(count):
        user = rnd.choice(["ann", "bob", 'c"q', "d,e", "multi\nline", None])
        ts = start + timedelta(seconds=i * 3 + rnd.randint(0, 2))
        rows.append((user, rnd.randint(-5, 100), ts.strftime("%Y-%m-%d %H:%M:%S")))
    return rows


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_csv_from_stdin_through_a_tumbling_window_equals_the_batch_answer(tmp_path: Path, delimiter: str) -> None:
    rows = _events(600, seed=7)
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["user_id", "amount", "ts"])
    bad_line = f"zed{delimiter}many{delimiter}2024-01-01 00:05:00\n"
    for index, (user, amount, ts) in enumerate(rows):
        writer.writerow(["NULL" if user is None else user, amount, ts])
        if index == 300:
            text.write(bad_line)
    written = "\\t" if delimiter == "\t" else delimiter
    pipeline = tmp_path / "p.sql"
    out = tmp_path / "out"
    pipeline.write_text(f"""
CREATE SOURCE events (user_id VARCHAR, amount BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
WITH (connector = 'stdin', format = 'csv', delimiter = '{written}', header = true, null_string = 'NULL');
CREATE SINK o WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
INSERT INTO o
SELECT window_start, user_id, count(*) AS n, sum(amount) AS total
FROM TUMBLE(events, ts, INTERVAL '1' MINUTE) GROUP BY ALL;
""")
    result = run_cli("run", str(pipeline), "--no-checkpoint", stdin=text.getvalue().encode())
    assert result.code == 0, result.stderr
    got = sorted(
        (r["window_start"][:19].replace("T", " "), r["user_id"] or "", r["n"], r["total"])
        for f in out.rglob("*.json")
        if "errors" not in f.parts
        for r in map(json.loads, f.read_text().splitlines())
    )
    con = duckdb.connect()
    con.execute("CREATE TABLE t (user_id VARCHAR, amount BIGINT, ts TIMESTAMP)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    expected = con.execute("""SELECT strftime(time_bucket(INTERVAL 1 MINUTE, ts), '%Y-%m-%d %H:%M:%S'),
        coalesce(user_id, ''), count(*), sum(amount) FROM t GROUP BY ALL ORDER BY ALL""").fetchall()
    assert len(got) > 20 and got == [tuple(e) for e in expected]
    errors = [json.loads(line) for f in (out / "errors").rglob("*.json") for line in f.read_text().splitlines()]
    assert [base64.b64decode(e["rawData"]).decode() for e in errors] == [bad_line.rstrip("\n")]
    assert "column 'amount'" in errors[0]["errorMessage"]


def _csv_text(rows: list[tuple[str | None, int, str]], delimiter: str, header: list[str] | None) -> str:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\n")
    if header:
        writer.writerow(header)
    for user, amount, ts in rows:
        record = {"user_id": "NULL" if user is None else user, "amount": amount, "ts": ts}
        writer.writerow([record[c] for c in (header or ["user_id", "amount", "ts"])])
    return text.getvalue()


def _batch_answer(rows: list[tuple[str | None, int, str]]) -> list[tuple]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (user_id VARCHAR, amount BIGINT, ts TIMESTAMP)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    return [
        tuple(r)
        for r in con.execute("""SELECT strftime(time_bucket(INTERVAL 1 MINUTE, ts), '%Y-%m-%d %H:%M:%S'),
        coalesce(user_id, ''), count(*), sum(amount) FROM t GROUP BY ALL ORDER BY ALL""").fetchall()
    ]


def _window_rows(out: Path) -> list[tuple]:
    return sorted(
        (r["window_start"][:19].replace("T", " "), r["user_id"] or "", r["n"], r["total"])
        for f in out.rglob("*.json")
        if "errors" not in f.parts
        for r in map(json.loads, f.read_text().splitlines())
    )


def test_a_folder_of_csv_files_with_headers_small_chunks_and_gzip(tmp_path: Path) -> None:
    """Quoted newlines across chunk boundaries, headers in another column order per file, a
    .gz among plain files: the windows equal the batch answer over every record."""
    import gzip

    rows = _events(900, seed=11)
    folder = tmp_path / "in"
    folder.mkdir()
    parts = [rows[:300], rows[300:600], rows[600:]]
    (folder / "a.csv").write_text(_csv_text(parts[0], ",", ["user_id", "amount", "ts"]))
    (folder / "b.csv").write_text(_csv_text(parts[1], ",", ["ts", "user_id", "amount"]))
    (folder / "c.csv.gz").write_bytes(gzip.compress(_csv_text(parts[2], ",", ["amount", "ts", "user_id"]).encode()))
    out = tmp_path / "out"
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(f"""
CREATE SOURCE events (user_id VARCHAR, amount BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
WITH (connector = 'file', path = '{folder}', format = 'csv', header = true, null_string = 'NULL',
      chunk_size = '700 B');
CREATE SINK o WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
INSERT INTO o
SELECT window_start, user_id, count(*) AS n, sum(amount) AS total
FROM TUMBLE(events, ts, INTERVAL '1' MINUTE) GROUP BY ALL;
""")
    result = run_cli("run", str(pipeline), "--no-checkpoint", "--summary-json", str(tmp_path / "s.json"))
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert (summary["errors"], summary["late"]) == (0, 0)
    assert _window_rows(out) == _batch_answer(rows)
