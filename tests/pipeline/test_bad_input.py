"""Bad input gets a clear message and loses nothing: bad records go to the error output with
their reason; bad SQL and bad options name the place; exit codes say which is which."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_cli
from tests.waiting import wait_until

SOURCE = """CREATE SOURCE events (user_id VARCHAR, amount DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '2 seconds')
WITH (connector = 'file', path = '{path}');
"""
SINK = """CREATE SINK out WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
"""


def write_pipeline(tmp_path: Path, body: str, data: str = "") -> Path:
    data_file = tmp_path / "events.ndjson"
    data_file.write_text(data)
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(SOURCE.format(path=data_file) + SINK.format(out=tmp_path / "out") + body)
    return pipeline


def read_output(tmp_path: Path) -> list[dict]:
    files = [p for p in (tmp_path / "out").rglob("*.json") if "errors" not in p.parts]
    return [json.loads(line) for f in sorted(files) for line in f.read_text().splitlines()]


def read_errors(tmp_path: Path) -> list[dict]:
    files = sorted((tmp_path / "out" / "errors").rglob("*.json"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_malformed_and_mistyped_records_go_to_the_error_output(tmp_path: Path) -> None:
    lines = [
        '{"user_id": "a", "amount": 1.5, "ts": "2024-01-01T00:00:00"}',
        '{"user_id": "b", "amount": 2, "ts": "2024-01-01T00:00:01"',  # cut short
        '{"user_id": "c", "amount": "lots", "ts": "2024-01-01T00:00:02"}',  # wrong type
        "not json at all",
        '{"user_id": "d", "amount": 4, "ts": "2024-01-01T00:00:03"}',
    ]
    pipeline = write_pipeline(
        tmp_path, "INSERT INTO out SELECT user_id, amount FROM events;", "\n".join(lines * 3) + "\n"
    )
    result = run_cli("run", str(pipeline))
    assert result.code == 0, result.stderr
    assert "9 errors" in result.stderr
    assert sorted(r["user_id"] for r in read_output(tmp_path)) == ["a", "a", "a", "d", "d", "d"]
    errors = read_errors(tmp_path)
    assert len(errors) == 9
    assert {e["errorCode"] for e in errors} == {"format-conversion-failed"}
    raw = sorted(base64.b64decode(e["rawData"]).decode() for e in errors)
    assert raw == sorted([lines[1], lines[2], lines[3]] * 3)
    wrong_type = next(e for e in errors if b"lots" in base64.b64decode(e["rawData"]))
    assert "amount" in wrong_type["errorMessage"]
    assert all(e["position"].startswith(str(tmp_path / "events.ndjson") + "@") for e in errors)
    offsets = sorted(int(e["position"].rsplit("@", 1)[1]) for e in errors)
    assert offsets[0] == len(lines[0]) + 1  # the byte offset where the bad line starts


def test_late_records_are_counted_and_kept_with_their_data(tmp_path: Path) -> None:
    lines = [
        '{"user_id": "a", "amount": 1, "ts": "2024-01-01T00:00:00"}',
        '{"user_id": "b", "amount": 2, "ts": "2024-01-01T00:01:30"}',
    ]
    late = '{"user_id": "late", "amount": 3, "ts": "2024-01-01T00:00:10"}'
    data = tmp_path / "events.ndjson"
    pipeline = write_pipeline(
        tmp_path,
        """INSERT INTO out SELECT window_start, count(*) AS n
        FROM TUMBLE(events, ts, INTERVAL '1 minute') GROUP BY ALL;""",
    )
    data.write_text("\n".join(lines) + "\n")
    pipeline.write_text(pipeline.read_text().replace("path = '", "follow = true, poll_interval = '50 ms', path = '", 1))
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowsql", "run", str(pipeline), "--no-checkpoint"],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
        )
        try:
            # The late record arrives once the watermark has passed its window and the window is out.
            wait_for(lambda: (tmp_path / "out").exists() and len(read_output(tmp_path)) == 1)
            with data.open("a") as more:
                more.write(late + "\n")
            wait_for(lambda: "dropped 1 late records" in log.read_text())
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0, log.read_text()
        finally:
            if process.poll() is None:
                process.kill()
    assert "1 late" in log.read_text()
    # The window of 00:01 is still open when the followed file is stopped.
    assert [(r["window_start"], r["n"]) for r in read_output(tmp_path)] == [("2024-01-01 00:00:00", 1)]
    (error,) = read_errors(tmp_path)
    assert error["errorCode"] == "late"
    assert json.loads(base64.b64decode(error["rawData"]))["user_id"] == "late"


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    wait_until(predicate, timeout, "the run's output")


def test_unknown_column_names_the_place_and_suggests(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, "INSERT INTO out\nSELECT user_id, amout FROM events;")
    result = run_cli("validate", str(pipeline))
    assert result.code == 2
    assert f"{pipeline}:6:17:" in result.stderr
    assert "amout" in result.stderr and "amount" in result.stderr


def test_bad_sql_gets_line_and_column(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, "INSERT INTO out\nSELECT user_id, FROM events WHERE (;")
    result = run_cli("run", str(pipeline))
    assert result.code == 2
    assert f"{pipeline}:6:" in result.stderr
    assert "SQL syntax error" in result.stderr


def test_unknown_option_names_the_key(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, "INSERT INTO out SELECT * FROM events;")
    pipeline.write_text(pipeline.read_text().replace("buffer_interval", "bufer_interval"))
    result = run_cli("run", str(pipeline))
    assert result.code == 2
    assert "unknown option 'bufer_interval'" in result.stderr
    assert "did you mean 'buffer_interval'" in result.stderr
    assert f"{pipeline}:4:" in result.stderr


def test_bad_option_value_names_key_and_value(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, "INSERT INTO out SELECT * FROM events;")
    pipeline.write_text(pipeline.read_text().replace("'0 s'", "'soon'"))
    result = run_cli("validate", str(pipeline))
    assert result.code == 2
    assert "bad value 'soon' for option 'buffer_interval'" in result.stderr


def test_window_on_a_column_without_watermark_explains_the_fix(tmp_path: Path) -> None:
    pipeline = write_pipeline(
        tmp_path,
        """INSERT INTO out SELECT window_start, count(*) AS n
        FROM TUMBLE(events, user_id, INTERVAL '1 minute') GROUP BY ALL;""",
    )
    result = run_cli("validate", str(pipeline))
    assert result.code == 2
    assert "has no watermark" in result.stderr and "hint:" in result.stderr


def test_missing_input_file_is_refused_before_the_run(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, "INSERT INTO out SELECT * FROM events;")
    (tmp_path / "events.ndjson").unlink()
    for command in ("validate", "run"):
        result = run_cli(command, str(pipeline))
        assert result.code == 2
        assert f"p.sql:3:27: source 'events': path '{tmp_path / 'events.ndjson'}' matches no file" in result.stderr


def test_no_arguments_is_a_usage_error() -> None:
    assert run_cli().code == 2
    assert run_cli("run").code == 2


def test_gzip_folder_source_reads_every_file(tmp_path: Path) -> None:
    import gzip

    folder = tmp_path / "in"
    folder.mkdir()
    expected = []
    for index in range(3):
        rows = [{"user_id": f"u{index}-{i}", "amount": i, "ts": f"2024-01-01T00:00:{i:02d}"} for i in range(50)]
        expected += [r["user_id"] for r in rows]
        text = "\n".join(json.dumps(r) for r in rows) + "\n"
        if index == 1:
            (folder / f"part-{index}.ndjson.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (folder / f"part-{index}.ndjson").write_text(text)
    pipeline = write_pipeline(tmp_path, "INSERT INTO out SELECT user_id FROM events;")
    pipeline.write_text(pipeline.read_text().replace(str(tmp_path / "events.ndjson"), str(folder)))
    result = run_cli("run", str(pipeline))
    assert result.code == 0, result.stderr
    assert sorted(r["user_id"] for r in read_output(tmp_path)) == sorted(expected)
