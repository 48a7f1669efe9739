"""Under `--log-format json` every line on stderr is a JSON object, including the lines about
--reset, resuming from a checkpoint and stopping on a signal; under text they read as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.ops.helpers import RunningPipeline, wait_for


def _pipeline(tmp_path: Path, follow: bool) -> Path:
    data = tmp_path / "events.ndjson"
    data.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(10)))
    path = tmp_path / "checkpointed.sql"
    path.write_text(f"""
CREATE SOURCE events (id BIGINT) WITH (connector = 'file', path = '{data}', follow = {str(follow).lower()},
    poll_interval = '50 ms');
CREATE SINK out WITH (connector = 'file', path = '{tmp_path / "lake"}', format = 'json', buffer_interval = '0 s');
INSERT INTO out SELECT id FROM events;
""")
    return path


def _entries(stderr: str) -> list[dict[str, object]]:
    lines = stderr.splitlines()
    assert lines
    return [json.loads(line) for line in lines]  # fails on any line that is not JSON


def _event(entries: list[dict[str, object]], name: str) -> dict[str, object]:
    found = [e for e in entries if e.get("event") == name]
    assert len(found) == 1, entries
    return found[0]


def test_reset_and_resume_lines_are_json(tmp_path: Path) -> None:
    path = _pipeline(tmp_path, follow=False)
    state = ["--state-dir", str(tmp_path / "state"), "--log-format", "json", "--status-interval", "0"]
    first = run_cli("run", str(path), *state)
    assert first.code == 0, first.stderr
    assert not [e for e in _entries(first.stderr) if e.get("event") in ("resumed", "reset")]
    again = run_cli("run", str(path), *state)
    assert again.code == 0, again.stderr
    resumed = _event(_entries(again.stderr), "resumed")
    assert str(resumed["message"]).startswith("resumed from checkpoint epoch ") and isinstance(resumed["epoch"], int)
    reset = run_cli("run", str(path), "--reset", *state)
    assert reset.code == 0, reset.stderr
    entries = _entries(reset.stderr)
    line = _event(entries, "reset")
    assert str(line["message"]).startswith("--reset discards checkpoint") and line["level"] == "warning"
    assert not [e for e in entries if e.get("event") == "resumed"]
    text = run_cli("run", str(path), "--reset", "--state-dir", str(tmp_path / "state"), "--status-interval", "0")
    assert text.code == 0 and "flowsql: --reset discards checkpoint" in text.stderr


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_stopping_line_follows_the_log_format(tmp_path: Path, log_format: str) -> None:
    path = _pipeline(tmp_path, follow=True)
    with RunningPipeline(path, "--no-checkpoint", "--log-format", log_format, "--status-interval", "0") as run:
        wait_for(lambda: run.figure("flowsql_sink_rows_total", sink="out") == 10, what="10 rows out")
        code, stderr = run.stop()
    assert code == 0, stderr
    if log_format == "text":
        assert "flowsql: stopping: finishing the micro-batch, flushing sinks, checkpointing" in stderr.splitlines()
        return
    stopping = _event(_entries(stderr), "stopping")
    assert stopping["signal"] == "SIGINT" and str(stopping["message"]).startswith("stopping: finishing")
