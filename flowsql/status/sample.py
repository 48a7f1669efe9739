"""Copy a run's state (source counts, sink stats and buffers, watermarks, lag) into its Metrics.

Runs on the runner's own thread, between micro-batches, so it reads engine and sink state that
no other thread changes; readers of the Metrics (panel, log lines, HTTP) never touch the run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from flowsql.engine.windows import FOREVER_US

if TYPE_CHECKING:
    from flowsql.runner import PipelineRun
    from flowsql.sources.base import Source

_SHARD_SERIES = ("flowsql_shard_watermark_seconds", "flowsql_shard_idle", "flowsql_shard_paused")


@runtime_checkable
class ShardTimes(Protocol):
    """A source whose time moves per shard (Kinesis)."""

    def shard_times(self) -> dict[str, dict[str, object]]:
        """Per shard being read: {"latest": {column: microseconds}, "idle": bool, "paused": bool}."""


def sample_run(run: PipelineRun) -> None:
    metrics = run.metrics
    now = time.time()
    if run.started is not None:
        metrics.set("flowsql_uptime_seconds", time.monotonic() - run.started)
    for name, source_stats in run.summary.sources.items():
        metrics.set("flowsql_events_in_total", source_stats.events, source=name)
        metrics.set("flowsql_bytes_in_total", source_stats.bytes, source=name)
        metrics.set("flowsql_errors_total", source_stats.errors, source=name)
        if metrics.get("flowsql_late_records_total", source=name) is None:
            metrics.set("flowsql_late_records_total", 0, source=name)
    for name, source in run.sources.items():
        _sample_source(run, name, source)
    for stream, clocks in run.engine.clocks.items():
        for column, value in clocks.items():
            if value is None or value >= FOREVER_US:
                continue
            metrics.set("flowsql_watermark_seconds", value / 1e6, stream=stream, column=column)
            metrics.set("flowsql_watermark_lag_seconds", max(0.0, now - value / 1e6), stream=stream, column=column)
    metrics.set("flowsql_open_window_rows", run.engine.buffered_rows())
    checkpoints = run.checkpoints
    if checkpoints is not None:
        metrics.set("flowsql_checkpoints_total", checkpoints.commits)
        metrics.set("flowsql_checkpoint_failures_total", checkpoints.failures)
        metrics.set("flowsql_checkpoint_epoch", checkpoints.epoch)
        metrics.set("flowsql_checkpoint_age_seconds", time.monotonic() - checkpoints.last_commit)
    monotonic = time.monotonic()
    for name, sink in run.sinks.items():
        sink_stats = sink.stats
        metrics.set("flowsql_sink_rows_total", sink_stats.rows, sink=name)
        metrics.set("flowsql_sink_objects_total", sink_stats.objects, sink=name)
        metrics.set("flowsql_sink_bytes_total", sink_stats.bytes, sink=name)
        metrics.set("flowsql_sink_error_records_total", sink_stats.errors, sink=name)
        if sink.has_transform():
            metrics.set("flowsql_sink_transform_dropped_total", sink_stats.dropped, sink=name)
            metrics.set("flowsql_sink_transform_invocations_total", sink_stats.invocations, sink=name)
        for counter in ("flowsql_sink_retries_total", "flowsql_sink_throttles_total", "flowsql_sink_failures_total"):
            if metrics.get(counter, sink=name) is None:
                metrics.set(counter, 0, sink=name)
        buffer = sink.buffer
        metrics.set("flowsql_sink_buffer_bytes", buffer.bytes, sink=name)
        metrics.set("flowsql_sink_buffer_rows", buffer.rows, sink=name)
        due = buffer.seconds_to_due(monotonic)
        if due is None:
            metrics.remove("flowsql_sink_next_flush_seconds", sink=name)
        else:
            metrics.set("flowsql_sink_next_flush_seconds", due, sink=name)


def _sample_source(run: PipelineRun, name: str, source: Source) -> None:
    """A source's lag per shard (`Source.lag`, milliseconds behind the newest record) and, for
    sources whose time moves per shard, each shard's watermark. Counts per shard are not sampled:
    the source reports them as it reads (metrics.SourceReporter)."""
    metrics = run.metrics
    shards = source.lag()
    for shard, millis in shards.items():
        metrics.set("flowsql_source_lag_seconds", millis / 1000.0, source=name, shard=str(shard))
    if shards:  # a source that tracks no lag (files, stdin) shows none, not zero
        metrics.set("flowsql_source_max_lag_seconds", max(shards.values()) / 1000.0, source=name)
    if isinstance(source, ShardTimes):
        _sample_shard_times(run, name, source.shard_times())


def _sample_shard_times(run: PipelineRun, name: str, shards: dict[str, dict[str, object]]) -> None:
    """Each shard's watermark per time column, and whether it is idle or paused; shards no
    longer read (read to their end) drop out."""
    metrics = run.metrics
    stream = run.plan.streams.get(name.lower())
    for series in _SHARD_SERIES:
        for labels in metrics.snapshot().get(series, {}):
            keys = dict(labels)
            if keys.get("source") == name and keys.get("shard") not in shards:
                metrics.remove(series, **keys)
    for shard, state in shards.items():
        latest: Any = state["latest"]
        for column, micros in latest.items():
            kind = stream.clocks.get(column) if stream is not None else None
            delay = stream.watermark_delay_us if stream is not None and kind == "event" else 0
            metrics.set(
                "flowsql_shard_watermark_seconds", (micros - delay) / 1e6, source=name, shard=shard, column=column
            )
        metrics.set("flowsql_shard_idle", 1 if state["idle"] else 0, source=name, shard=shard)
        metrics.set("flowsql_shard_paused", 1 if state["paused"] else 0, source=name, shard=shard)
