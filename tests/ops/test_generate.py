"""`flowsql generate clickstream`: NDJSON on stdout, the requested count, the generator's schema,
the same events for the same seed, and events a pipeline reads back."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from flowsql.sources.generator import CLICKSTREAM_SCHEMA, EVENT_TYPES, PAGES
from tests.conftest import run_cli


def _events(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.slow
def test_count_schema_and_determinism() -> None:
    first = run_cli("generate", "clickstream", "--count", "70000", "--seed", "3")
    assert first.code == 0, first.stderr
    events = _events(first.stdout)
    assert len(events) == 70000  # more than one of the generator's 65,536-event blocks
    assert [e["event_id"] for e in events] == list(range(70000))
    assert all(list(e) == CLICKSTREAM_SCHEMA.names for e in events[:1000])
    assert {e["event_type"] for e in events} == set(EVENT_TYPES)
    assert {e["page"] for e in events} <= set(PAGES)
    assert all(e["price"] == 0.0 for e in events if e["event_type"] not in ("add_to_cart", "purchase"))
    times = [datetime.fromisoformat(str(e["ts"])) for e in events]
    assert min(times) >= datetime(2024, 1, 1) and max(times) <= datetime(2024, 1, 1, 0, 1, 12)
    again = run_cli("generate", "clickstream", "--count", "70000", "--seed", "3")
    assert again.stdout == first.stdout
    other = run_cli("generate", "clickstream", "--count", "1000", "--seed", "4")
    assert other.stdout != "".join(first.stdout.splitlines(keepends=True)[:1000])


@pytest.mark.slow
def test_rate_paces_on_the_wall_clock() -> None:
    began = datetime.now()
    result = run_cli("generate", "clickstream", "--count", "30", "--rate", "20", "--seed", "3")
    assert result.code == 0, result.stderr
    events = _events(result.stdout)
    assert len(events) == 30
    times = sorted(datetime.fromisoformat(str(e["ts"])) for e in events)
    # Event time follows the wall clock (UTC) and spans about 30 / 20 s, minus up to 2 s of disorder.
    assert abs((times[-1] - datetime.utcnow()).total_seconds()) < 10
    assert (datetime.now() - began).total_seconds() >= 1.4
    plain = _events(run_cli("generate", "clickstream", "--count", "30", "--seed", "3").stdout)
    assert [e["user_id"] for e in events] == [e["user_id"] for e in plain]


@pytest.mark.slow
def test_generated_events_feed_a_pipeline(tmp_path: Path) -> None:
    generated = run_cli("generate", "clickstream", "--count", "5000", "--seed", "9")
    sales = sum(1 for e in _events(generated.stdout) if e["event_type"] == "purchase")
    pipeline = tmp_path / "read.sql"
    pipeline.write_text(f"""
CREATE SOURCE clicks (event_id BIGINT, user_id VARCHAR, page VARCHAR, event_type VARCHAR, country VARCHAR,
                      price DOUBLE, ts TIMESTAMP) WITH (connector = 'stdin');
CREATE SINK out WITH (connector = 'file', path = '{tmp_path / "lake"}', format = 'json');
INSERT INTO out SELECT event_id, price FROM clicks WHERE event_type = 'purchase';
""")
    result = run_cli("run", str(pipeline), "--summary-json", str(tmp_path / "s.json"), stdin=generated.stdout.encode())
    assert result.code == 0, result.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["events_in"] == 5000 and summary["errors"] == 0
    assert summary["sinks"]["out"]["rows"] == sales


def test_bad_arguments_exit_2() -> None:
    result = run_cli("generate", "clickstream", "--count", "-1")
    assert result.code == 2 and "--count" in result.stderr
    assert run_cli("generate", "orders").code == 2


@pytest.mark.slow
def test_long_runs_show_progress_on_stderr() -> None:
    result = run_cli("generate", "clickstream", "--count", "6000", "--rate", "2000")
    assert result.code == 0
    assert len(result.stdout.splitlines()) == 6000
    progress = [line for line in result.stderr.splitlines() if line.startswith("flowsql: generated ")]
    assert progress, result.stderr
    written = [int(line.split()[2].replace(",", "")) for line in progress]
    assert written == sorted(written) and written[-1] == 6000
    assert all(" of 6,000 events (" in line and line.endswith(" events/s)") for line in progress)
    quiet = run_cli("generate", "clickstream", "--count", "6000", "--rate", "2000", "--quiet")
    assert quiet.stderr == ""
