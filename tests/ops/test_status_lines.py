"""Off a terminal, `flowsql run` logs one status line per interval, as text or JSON, and warns
about late records with what to do about them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.ops.test_panel import PIPELINE


def _pipeline(tmp_path: Path) -> tuple[Path, Path]:
    lake = tmp_path / "lake"
    path = tmp_path / "lines.sql"
    path.write_text(PIPELINE.format(lake=lake))
    return path, lake


def _late_in_error_output(lake: Path) -> int:
    return sum(len(f.read_text().splitlines()) for f in (lake / "errors" / "late").rglob("*.json"))


@pytest.mark.slow
def test_text_status_lines(tmp_path: Path) -> None:
    path, lake = _pipeline(tmp_path)
    result = run_cli("run", str(path), "--status-interval", "0.4")
    assert result.code == 0, result.stderr
    status = [line for line in result.stderr.splitlines() if line.startswith("flowsql: status: ")]
    assert len(status) >= 3  # about 2 s of input at a line per 0.4 s
    counts = [
        int(re.search(r"source clicks: [\d,]+ events/s, ([\d,]+) in,", line).group(1).replace(",", ""))
        for line in status
    ]
    assert counts == sorted(counts) and 0 < counts[-1] <= 4000
    assert all(
        re.search(r"watermark clicks\.ts \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \([\d.]+ s behind\)", line)
        for line in status
        if int(re.search(r"([\d,]+) in,", line).group(1).replace(",", "")) > 0
    )
    assert all(re.search(r"checkpoint epoch \d+ \([\d.]+ s ago, 0 failures\)", line) for line in status)
    assert all(
        re.search(r"sink per_page: [\d,]+ rows/s, [\d,]+ rows, [\d,]+ objects, .*buffered .*\(flush in ", line)
        for line in status
    )
    late = _late_in_error_output(lake)
    warnings = [line for line in result.stderr.splitlines() if "late records for 'per_page'" in line]
    assert warnings, result.stderr
    dropped = [int(re.search(r"dropped (\d+) late records", w).group(1)) for w in warnings]
    assert 0 < sum(dropped) <= late  # later drops inside the 10 s quiet interval are summed into the next line
    assert "its windows up to" in warnings[0] and "allowed_lateness" in warnings[0]
    assert "sink 'per_page's error output" in warnings[0]
    assert "flowsql: lines: 4,000 events in" in result.stderr
    assert f"0 errors, {late:,} late" in result.stderr


@pytest.mark.slow
def test_json_log_lines(tmp_path: Path) -> None:
    path, lake = _pipeline(tmp_path)
    result = run_cli("run", str(path), "--status-interval", "0.4", "--log-format", "json")
    assert result.code == 0, result.stderr
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert all({"time", "level", "message", "logger"} <= set(e) for e in entries)
    status = [e for e in entries if e.get("event") == "status"]
    assert len(status) >= 3
    assert all(e["status"]["sources"][0]["name"] == "clicks" for e in status)
    events = [e["status"]["sources"][0]["events"] for e in status]
    assert events == sorted(events)
    late = [e for e in entries if e.get("event") == "late_records"]
    assert late and late[0]["level"] == "warning" and late[0]["source"] == "clicks" and late[0]["records"] > 0
    summary = next(e for e in entries if e.get("event") == "summary")["summary"]
    assert summary["events_in"] == 4000
    assert summary["late"] == _late_in_error_output(lake)
    assert summary["source_status"][0]["late"] == summary["late"]
    assert summary["checkpoint"]["epoch"] >= 1 and summary["checkpoint"]["failures"] == 0


def test_quiet_prints_no_status_and_no_summary(tmp_path: Path) -> None:
    data = tmp_path / "in.ndjson"
    data.write_text("".join(json.dumps({"n": n}) + "\n" for n in range(10)))
    path = tmp_path / "quiet.sql"
    path.write_text(f"""
CREATE SOURCE numbers (n BIGINT) WITH (connector = 'file', path = '{data}');
CREATE SINK out WITH (connector = 'file', path = '{tmp_path / "lake"}', format = 'json');
INSERT INTO out SELECT n FROM numbers;
""")
    result = run_cli(
        "run", str(path), "--quiet", "--status-interval", "0.1", "--summary-json", str(tmp_path / "summary.json")
    )
    assert result.code == 0 and result.stderr == ""
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["events_in"] == 10 and summary["sinks"]["out"]["rows"] == 10
    assert summary["delivery"][0]["rows"] == 10
