"""The live status panel, captured from `flowsql run` under a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import re
import select
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PIPELINE = """
CREATE SOURCE clicks (
    event_id BIGINT, user_id VARCHAR, page VARCHAR, event_type VARCHAR, country VARCHAR, price DOUBLE,
    ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 seconds'
) WITH (connector = 'generator', count = 4000, rate = 2000, seed = 7, realtime = true, batch_size = 250);
CREATE SINK per_page WITH (connector = 'file', path = '{lake}', format = 'json', buffer_interval = '1 s');
INSERT INTO per_page
SELECT window_start, page, count(*) AS views FROM TUMBLE(clicks, ts, INTERVAL '1' SECOND) GROUP BY ALL;
"""
_ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def _run_in_terminal(args: list[str], timeout: float = 60.0) -> tuple[int, str]:
    """Run `python -m flowsql ARGS` with a pseudo-terminal as its stdin, stdout and stderr."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes flowsql
        os.environ.update({"PYTHONPATH": str(ROOT), "COLUMNS": "140", "LINES": "60", "TERM": "xterm-256color"})
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "flowsql", *args])
    screen = bytearray()
    while True:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            os.kill(pid, 9)
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal closes when the child exits
            break
        if not chunk:
            break
        screen += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), _ESCAPE.sub(b"", bytes(screen)).decode(errors="replace")


@pytest.mark.slow
def test_panel_shows_the_run_figures(tmp_path: Path) -> None:
    pipeline = tmp_path / "panel.sql"
    lake = tmp_path / "lake"
    pipeline.write_text(PIPELINE.format(lake=lake))
    code, screen = _run_in_terminal(["run", str(pipeline)])
    assert code == 0, screen
    results = [f for f in lake.rglob("*.json") if f.relative_to(lake).parts[0] != "errors"]
    rows = sum(len(f.read_text().splitlines()) for f in results)
    late = sum(len(f.read_text().splitlines()) for f in (lake / "errors" / "late").rglob("*.json"))
    assert late > 0  # 2 s of disorder against a 1 s watermark delay: some records come too late
    # The last frame of the panel stays on the screen above the summary.
    last = screen[screen.rindex("flowsql panel") :]
    for heading in (
        "sources",
        "watermarks",
        "sinks",
        "events/s",
        "behind wall clock",
        "next flush",
        "retries",
        "throttles",
        "late",
        "lag",
    ):
        assert heading in last
    source_row = next(line for line in last.splitlines() if re.match(r"^\W*clicks\b", line) and "4,000" in line)
    # events/s, events in, errors, late, lag, throttles
    figures = rf"│\s+[\d,]+\s+│\s+4,000\s+│\s+0\s+│\s+{late:,}\s+│\s+-\s+│\s+0\s+│"
    assert re.search(figures, source_row), source_row
    sink_row = next(line for line in last.splitlines() if re.match(r"^\W*per_page\b", line))
    assert re.search(rf"│\s+{rows:,}\s+│\s+{len(results):,}\s+│", sink_row), sink_row
    # retries, throttles, errors
    assert re.search(rf"│\s+0\s+│\s+0\s+│\s+{late:,}\s+│$", sink_row.rstrip()), sink_row
    assert re.search(r"│\s+clicks\s+│\s+ts\s+│\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+│\s+\d+\.\d s\s+│", last)
    assert re.search(r"checkpoint epoch \d+, [\d.]+ s ago", last)
    # More than one frame was drawn while the run went on.
    assert screen.count("flowsql panel") >= 2
    assert "flowsql: panel: 4,000 events in" in screen


CONSOLE = """
CREATE SOURCE clicks (
    event_id BIGINT, user_id VARCHAR, page VARCHAR, event_type VARCHAR, country VARCHAR, price DOUBLE,
    ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1 seconds'
) WITH (connector = 'generator', count = 3000, rate = 2000, seed = 7, realtime = true, batch_size = 250,
        disorder = '0 s');
CREATE SINK console WITH (connector = 'stdout');
INSERT INTO console SELECT window_start, count(*) AS events FROM TUMBLE(clicks, ts, INTERVAL '1' SECOND) GROUP BY ALL;
"""


@pytest.mark.slow
def test_stdout_sink_tables_print_above_the_panel(tmp_path: Path) -> None:
    pipeline = tmp_path / "console.sql"
    pipeline.write_text(CONSOLE)
    code, screen = _run_in_terminal(["run", str(pipeline)])
    assert code == 0, screen
    # A row ends its line; it may follow what is left of a panel frame once the escapes are gone.
    table_row = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +(\d+)[ \r]*$"
    counts = [int(m.group(1)) for m in re.finditer(table_row, screen, re.M)]
    assert sum(counts) == 3000, screen
    last = screen[screen.rindex("flowsql console") :]
    assert re.search(r"│\s+console\s+│\s+[\d,]+\s+│\s+" + f"{len(counts):,}" + r"\s+│", last), last
