"""The metrics registry and its Prometheus text rendering."""

from __future__ import annotations

import io
import re

from flowsql.metrics import Metrics, ReportsMetrics
from flowsql.status.view import build_view, status_line
from tests.ops.helpers import parse_exposition, value


def test_exposition_renders_counters_gauges_and_labels() -> None:
    metrics = Metrics()
    metrics.inc("flowsql_events_in_total", 5, source="clicks")
    metrics.inc("flowsql_events_in_total", 7, source="clicks")
    metrics.inc("flowsql_events_in_total", 1, source='odd "name"\\x')
    metrics.set("flowsql_watermark_lag_seconds", 2.5, stream="clicks", column="ts")
    metrics.set("flowsql_open_window_rows", 40)
    text = metrics.exposition()
    assert "# HELP flowsql_events_in_total Records read from a source, good and bad.\n" in text
    assert "# TYPE flowsql_events_in_total counter\n" in text
    assert "# TYPE flowsql_watermark_lag_seconds gauge\n" in text
    assert 'flowsql_events_in_total{source="clicks"} 12\n' in text
    assert 'flowsql_events_in_total{source="odd \\"name\\"\\\\x"} 1\n' in text
    assert 'flowsql_watermark_lag_seconds{column="ts",stream="clicks"} 2.5\n' in text
    assert "flowsql_open_window_rows 40\n" in text
    samples = parse_exposition(text)
    assert value(samples, "flowsql_events_in_total", source="clicks") == 12
    assert metrics.total("flowsql_events_in_total") == 13


def test_view_rates_come_from_the_difference_of_two_snapshots() -> None:
    metrics = Metrics()
    metrics.set("flowsql_events_in_total", 1000, source="clicks")
    metrics.set("flowsql_sink_rows_total", 10, sink="lake")
    before = metrics.snapshot()
    metrics.set("flowsql_events_in_total", 3000, source="clicks")
    metrics.set("flowsql_sink_rows_total", 50, sink="lake")
    metrics.set("flowsql_sink_buffer_bytes", 2048, sink="lake")
    metrics.set("flowsql_sink_next_flush_seconds", 4.25, sink="lake")
    metrics.set("flowsql_source_lag_seconds", 12.0, source="clicks", shard="s-1")
    metrics.set("flowsql_source_max_lag_seconds", 12.0, source="clicks")
    view = build_view(metrics.snapshot(), before, 2.0)
    assert view.sources[0].events_per_second == 1000.0 and view.sources[0].events == 3000
    assert view.sources[0].shard_lag_seconds == {"s-1": 12.0}
    assert view.sinks[0].rows_per_second == 20.0 and view.sinks[0].buffer_bytes == 2048
    line = status_line(view)
    assert "source clicks: 1,000 events/s, 3,000 in, 0 errors, 0 late, lag 12.0 s" in line
    assert "sink lake: 20 rows/s, 50 rows, 0 objects, 0 B, buffered 2.0 KB (flush in 4.2 s)" in line


def test_a_run_binds_reporters_to_its_sources_sinks_and_destinations(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from flowsql.pipeline import parse_text
    from flowsql.runner import PipelineRun

    run = PipelineRun(
        parse_text(
            f"""
CREATE SOURCE orders (id BIGINT) WITH (connector = 'kinesis', stream = 'orders', region = 'us-east-1');
CREATE SOURCE clicks (id BIGINT) WITH (connector = 'stdin');
CREATE SINK lake WITH (connector = 'file', path = '{tmp_path / "lake"}');
CREATE SINK hook WITH (connector = 'http', url = 'http://127.0.0.1:9/x', backup_path = '{tmp_path / "failed"}');
CREATE SINK screen WITH (connector = 'stdout');
INSERT INTO lake SELECT id FROM orders;
INSERT INTO hook SELECT id FROM orders;
INSERT INTO screen SELECT id FROM clicks;
""",
            "bind.sql",
        )
    )
    orders, clicks = run.sources["orders"], run.sources["clicks"]
    assert isinstance(orders, ReportsMetrics) and not isinstance(clicks, ReportsMetrics)
    assert orders.reporter.metrics is run.metrics and orders.reporter.source == "orders"  # type: ignore[attr-defined]
    lake, hook = run.sinks["lake"], run.sinks["hook"]
    assert lake.destination.reporter.sink == "lake"  # type: ignore[attr-defined]
    assert hook.reporter.sink == "hook" and hook.backup.reporter.sink == "hook"  # type: ignore[attr-defined]
    assert hook.reporter.metrics is run.metrics  # type: ignore[attr-defined]
    assert not isinstance(run.sinks["screen"], ReportsMetrics)


def test_panel_lists_shards_on_demand() -> None:
    from rich.console import Console

    from flowsql.status.panel import render_panel

    metrics = Metrics()
    metrics.set("flowsql_events_in_total", 900, source="orders")
    metrics.set("flowsql_shard_events_in_total", 600, source="orders", shard="shardId-000000000000")
    metrics.set("flowsql_shard_events_in_total", 300, source="orders", shard="shardId-000000000001")
    metrics.set("flowsql_source_lag_seconds", 75.0, source="orders", shard="shardId-000000000001")
    metrics.set("flowsql_source_max_lag_seconds", 75.0, source="orders")
    before = {"flowsql_shard_events_in_total": {}}
    view = build_view(metrics.snapshot(), before, 3.0)  # type: ignore[arg-type]

    def screen(shards: bool) -> str:
        console = Console(record=True, width=120, file=io.StringIO())
        console.print(render_panel("demo", view, shards=shards))
        return console.export_text()

    with_shards = screen(True)
    assert "shardId-000000000001" in with_shards and "1.2 min" in with_shards
    shard_line = next(line for line in with_shards.splitlines() if "shardId-000000000000" in line)
    assert "200" in shard_line  # 600 events over 3 s
    assert "shardId" not in screen(False)


def test_panel_and_status_line_show_shard_watermarks_and_states() -> None:
    from rich.console import Console

    from flowsql.status.panel import render_panel

    metrics = Metrics()
    metrics.set("flowsql_events_in_total", 10, source="orders")
    for shard, ts, idle, paused in (
        ("shardId-000000000000", 1_714_564_800.0, 0, 0),
        ("shardId-000000000001", 1_714_565_400.0, 0, 1),
        ("shardId-000000000002", 1_714_564_000.0, 1, 0),
    ):
        metrics.set("flowsql_shard_watermark_seconds", ts, source="orders", shard=shard, column="ts")
        metrics.set("flowsql_shard_idle", idle, source="orders", shard=shard)
        metrics.set("flowsql_shard_paused", paused, source="orders", shard=shard)
    view = build_view(metrics.snapshot(), None, 0.0)
    console = Console(record=True, width=140, file=io.StringIO())
    console.print(render_panel("demo", view, shards=True))
    screen = console.export_text()
    rows = {
        re.search(r"shardId-\d+", line).group(0): line  # type: ignore[union-attr]
        for line in screen.splitlines()
        if "shardId-" in line and "2024-05-01" in line
    }
    assert "2024-05-01 12:00:00" in rows["shardId-000000000000"] and "reading" in rows["shardId-000000000000"]
    assert "2024-05-01 12:10:00" in rows["shardId-000000000001"] and "paused" in rows["shardId-000000000001"]
    assert "idle" in rows["shardId-000000000002"]
    line = status_line(view)
    assert "idle shards shardId-000000000002" in line and "paused shards shardId-000000000001" in line
