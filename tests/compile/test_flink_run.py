"""The compiled job runs on Flink itself and gives the window rows `flowsql run` gives.

PyFlink is installed into a virtual environment of its own under .cache/ (reused once made),
never into flowsql's: it pins older pyarrow and pandas. Flink runs as a local mini-cluster.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

VENV = ROOT / ".cache" / "pyflink-venv"
DRIVER = Path(__file__).parent / "flink_driver.py"

PIPELINE = """
CREATE SOURCE clicks (
    event_id BIGINT, user_id VARCHAR, page VARCHAR, price DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
) WITH (connector = 'file', path = '{input}');

-- A watermark delay under a second (Flink's parser has no MILLISECOND interval unit).
CREATE SOURCE quick (
    event_id BIGINT, page VARCHAR, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '500 milliseconds'
) WITH (connector = 'file', path = '{quick}');

CREATE SINK quick_out WITH (connector = 'file', path = '{out}/quick', format = 'json', prefix = 'rows/',
                            buffer_interval = '1 s');

CREATE SINK tumble_out WITH (connector = 'file', path = '{out}/tumble', format = 'json', prefix = 'rows/',
                             buffer_interval = '1 s');
CREATE SINK hop_out WITH (connector = 'file', path = '{out}/hop', format = 'json', prefix = 'rows/',
                          buffer_interval = '1 s');
CREATE SINK shape_out WITH (connector = 'file', path = '{out}/shape', format = 'json', prefix = 'rows/',
                            buffer_interval = '1 s');
CREATE SINK session_out WITH (connector = 'file', path = '{out}/session', format = 'json', prefix = 'rows/',
                              buffer_interval = '1 s');

INSERT INTO tumble_out
SELECT window_start, window_end, page, count(*) AS views, count(DISTINCT user_id) AS visitors,
       sum(price) FILTER (WHERE price > 20) AS big_spend, min(price) AS cheapest,
       sum(event_id) AS id_sum, avg(event_id) AS id_mean
FROM TUMBLE(clicks, ts, INTERVAL '1 minute')
GROUP BY ALL;

INSERT INTO shape_out
SELECT event_id, date_trunc('minute', ts) AS minute, strftime(ts, '%Y-%m-%d %H') AS hour_text,
       event_id / 8 AS ratio, upper(page) AS loud_page, CAST(price AS VARCHAR) AS price_text
FROM clicks
WHERE price > 45;

INSERT INTO hop_out
SELECT window_start, window_end, count(*) AS events, max(price) AS top
FROM HOP(clicks, ts, INTERVAL '20 seconds', INTERVAL '1 minute')
GROUP BY ALL;

INSERT INTO session_out
SELECT window_start, window_end, user_id, count(*) AS events, sum(price) AS spent
FROM SESSION(clicks, ts, INTERVAL '30 seconds')
GROUP BY ALL;

INSERT INTO quick_out
SELECT window_start, window_end, page, count(*) AS views
FROM TUMBLE(quick, ts, INTERVAL '1 second')
GROUP BY ALL;
"""


def pyflink_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
    probe = subprocess.run([str(python), "-c", "import pyflink"], capture_output=True)
    if probe.returncode != 0:
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "apache-flink"], capture_output=True, text=True, timeout=1200
        )
        assert install.returncode == 0, f"pip install apache-flink failed:\n{install.stderr[-3000:]}"
    return python


def write_events(path: Path, count: int = 3000, disorder_ms: int = 4000) -> None:
    """Events a few hundred ms apart, out of order by under `disorder_ms` (under the watermark
    delay), so neither engine sees a late row."""
    rng = random.Random(11)
    start = datetime(2024, 3, 1, 12, 0, 0)
    arrival = start
    lines = []
    for event_id in range(count):
        arrival += timedelta(milliseconds=rng.randint(0, 400))
        ts = arrival - timedelta(milliseconds=rng.randint(0, disorder_ms))
        if ts < start:
            ts = start
        lines.append(
            json.dumps(
                {
                    "event_id": event_id,
                    "user_id": f"u{int(rng.random() ** 2 * 40)}",
                    "page": rng.choice(["home", "search", "product", "cart", "checkout"]),
                    "price": round(rng.uniform(0, 50), 2),
                    "ts": ts.isoformat(timespec="milliseconds"),
                }
            )
        )
    path.write_text("\n".join(lines) + "\n")


def read_rows(folder: Path) -> list[tuple[tuple[str, object], ...]]:
    rows = []
    for file in sorted(folder.rglob("*")):
        if not file.is_file() or file.name.startswith(".") or file.name.startswith("_"):
            continue
        for line in file.read_text().splitlines():
            if line.strip():
                rows.append(tuple(sorted((k, _normal(v)) for k, v in json.loads(line).items())))
    return sorted(rows, key=repr)


def _normal(value: object) -> object:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        return datetime.fromisoformat(value.replace(" ", "T")).isoformat()
    return value


@pytest.mark.slow
def test_compiled_job_on_flink_gives_the_rows_of_flowsql_run(tmp_path: Path) -> None:
    python = pyflink_python()
    events = tmp_path / "events.ndjson"
    write_events(events)
    quick = tmp_path / "quick.ndjson"
    write_events(quick, count=1000, disorder_ms=400)
    flink_pipeline = tmp_path / "flink.sql"
    flink_pipeline.write_text(PIPELINE.format(input=events, quick=quick, out=tmp_path / "flink"))
    local_pipeline = tmp_path / "local.sql"
    local_pipeline.write_text(PIPELINE.format(input=events, quick=quick, out=tmp_path / "local"))

    compiled = run_cli("compile", "--target", "flink", str(flink_pipeline), "-o", str(tmp_path / "job"))
    assert compiled.code == 0, compiled.stderr
    job = subprocess.run(
        [str(python), str(DRIVER), str(tmp_path / "job" / "job.sql")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert job.returncode == 0, job.stderr[-5000:]
    local = run_cli("run", "--quiet", str(local_pipeline))
    assert local.code == 0, local.stderr

    job_sql = (tmp_path / "job" / "job.sql").read_text()
    assert "WATERMARK FOR `ts__time` AS `ts__time` - INTERVAL '0.500' SECOND" in job_sql
    for sink in ("tumble", "hop", "session", "shape", "quick"):
        flink_rows = read_rows(tmp_path / "flink" / sink)
        local_rows = read_rows(tmp_path / "local" / sink)
        assert len(local_rows) > 10, sink
        assert flink_rows == local_rows, sink
