"""kill -9 `flowsql run` writing Iceberg tables, at moments chosen by progress (a table commit
just made, a flush just staged), restart it each time, and compare the tables with one
uninterrupted run: equal rows, no flush committed twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT, run_cli
from tests.delivery.iceberg_helpers import flowsql_marks, load, scan
from tests.pipeline.test_examples import generated_clicks
from tests.waiting import wait_until

PIPELINE = """
CREATE SOURCE clicks (event_id BIGINT, user_id VARCHAR, page VARCHAR, event_type VARCHAR, price DOUBLE,
    ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '3 seconds')
WITH (connector = 'file', path = '{data}', chunk_size = '{chunk}');

CREATE SINK raw WITH (connector = 'iceberg', table = 'web.raw', warehouse = '{lake}',
    partition_by = 'day(ts), event_type', buffer_interval = '0 s');
CREATE SINK minutes WITH (connector = 'iceberg', table = 'web.minutes', warehouse = '{lake}',
    partition_by = 'page', buffer_interval = '0 s');

INSERT INTO raw SELECT event_id, user_id, page, event_type, price, ts FROM clicks;

INSERT INTO minutes
SELECT window_start, window_end, page, count(*) AS views, count(DISTINCT user_id) AS visitors
FROM HOP(clicks, ts, INTERVAL '20 seconds', INTERVAL '1 minute') GROUP BY ALL;
"""


def prepare(tmp_path: Path, name: str, events: int, chunk: str) -> tuple[Path, Path]:
    data = tmp_path / "clicks.ndjson"
    if not data.exists():
        con = duckdb.connect()
        con.register("clicks", generated_clicks(events, seed=5, rate=2000))
        con.execute(f"COPY (SELECT * EXCLUDE (arrival_time, country) FROM clicks) TO '{data}' (FORMAT json)")
    lake = tmp_path / name
    pipeline = tmp_path / f"{name}.sql"
    pipeline.write_text(PIPELINE.format(data=data, lake=lake, chunk=chunk))
    return pipeline, lake


def commits_made(table: Path) -> int:
    """Metadata files of a table: one per commit (written just before the catalog swaps to it)."""
    return len(list((table / "metadata").glob("*.metadata.json")))


def staged_flushes(state: Path) -> set[Path]:
    return set(state.glob("*.flowsql-state/staging/*/*.arrow"))


def run_with_kills(pipeline: Path, table: Path, state: Path, kills: int, seed: int) -> int:
    """Start, SIGKILL when the chosen progress is reached, restart; until a run finishes."""
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = 0
    for _ in range(kills + 20):
        process = subprocess.Popen(
            [sys.executable, "-m", "flowsql", "run", str(pipeline), "--state-dir", str(state), "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        trigger: Callable[[], bool] | None = None
        if done < kills:
            if rng.random() < 0.5:
                target = commits_made(table) + rng.randint(1, 4)
                trigger = lambda target=target: commits_made(table) >= target  # noqa: E731
            else:
                before = staged_flushes(state)
                trigger = lambda before=before: bool(staged_flushes(state) - before)  # noqa: E731

        def ended_or_due(process: subprocess.Popen = process, trigger: Callable[[], bool] | None = trigger) -> bool:
            return process.poll() is not None or (trigger is not None and trigger())

        wait_until(ended_or_due, 120, "the run to end or reach its kill point")
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
        if process.returncode == -signal.SIGKILL:
            done += 1
            continue
        assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""
        return done
    raise AssertionError("the run never finished")


def check(tmp_path: Path, events: int, kills: int, chunk: str) -> int:
    reference, reference_lake = prepare(tmp_path, "reference", events, chunk)
    result = run_cli("run", str(reference), "--no-checkpoint")
    assert result.code == 0, result.stderr
    crashed, crashed_lake = prepare(tmp_path, "crashed", events, chunk)
    survived = run_with_kills(crashed, crashed_lake / "web" / "raw", tmp_path / "state", kills, seed=events)

    for identifier in ("web.raw", "web.minutes"):
        expected, got = scan(reference_lake, identifier), scan(crashed_lake, identifier)
        assert len(got) == len(expected), identifier
        assert got == expected, identifier
        marks = flowsql_marks(load(crashed_lake, identifier))
        assert len(marks) == len(set(marks)), f"{identifier}: a flush was committed twice"
    assert len({row[0] for row in scan(crashed_lake, "web.raw")}) == events
    return survived


# A kill whose progress never comes (the run finished first) is not made, so a few may be missed.
def test_sigkill_at_commits_and_flushes_gives_the_uninterrupted_tables(tmp_path: Path) -> None:
    assert check(tmp_path, events=60_000, kills=5, chunk="128 KB") >= 4


@pytest.mark.slow
def test_many_sigkills(tmp_path: Path) -> None:
    assert check(tmp_path, events=200_000, kills=20, chunk="128 KB") >= 18


CDC_PIPELINE = """
CREATE TABLE orders (
    order_id BIGINT, customer_id VARCHAR, region VARCHAR, status VARCHAR, amount DECIMAL(10, 2),
    updated_at TIMESTAMP, PRIMARY KEY (order_id)
) WITH (connector = 'file', path = '{feed}', format = 'debezium-json', chunk_size = '32 KB');
CREATE SINK mirror WITH (connector = 'iceberg', table = 'shop.orders', warehouse = '{lake}',
    primary_key = 'order_id', partition_by = 'region', buffer_interval = '0 s');
INSERT INTO mirror SELECT order_id, customer_id, region, status, amount, updated_at FROM orders EMIT CHANGES;
"""


def test_sigkill_while_applying_a_changelog_gives_the_final_source_state(tmp_path: Path) -> None:
    from tests.delivery.test_iceberg_cdc import FINAL_STATE

    feed = tmp_path / "orders.ndjson"
    generated = run_cli("generate", "cdc-orders", "--count", "12000", "--seed", "12", "--quiet")
    assert generated.code == 0, generated.stderr
    feed.write_text(generated.stdout)
    lake = tmp_path / "lake"
    pipeline = tmp_path / "mirror.sql"
    pipeline.write_text(CDC_PIPELINE.format(feed=feed, lake=lake))
    survived = run_with_kills(pipeline, lake / "shop" / "orders", tmp_path / "state", kills=4, seed=12)
    assert survived >= 3

    expected = sorted(duckdb.connect().execute(FINAL_STATE.format(feed=feed)).fetchall())
    columns = ["order_id", "customer_id", "region", "status", "amount", "updated_at"]
    assert scan(lake, "shop.orders", columns) == expected
    marks = flowsql_marks(load(lake, "shop.orders"))
    assert len(marks) == len(set(marks)) and len({run for _, run, _, _ in marks}) == 1
