"""What the panel and the status lines show, computed from two Metrics snapshots: totals from
the newer one, per-second rates from the difference."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flowsql.metrics import LabelSet

Snapshot = dict[str, dict[LabelSet, float]]


@dataclass
class SourceView:
    name: str
    events: int = 0
    events_per_second: float = 0.0
    errors: int = 0
    late: int = 0
    throttles: int = 0
    lag_seconds: float | None = None
    shard_lag_seconds: dict[str, float] = field(default_factory=dict)
    shard_events_per_second: dict[str, float] = field(default_factory=dict)
    shard_watermarks: dict[str, dict[str, str]] = field(default_factory=dict)  # shard -> column -> UTC time
    idle_shards: list[str] = field(default_factory=list)
    paused_shards: list[str] = field(default_factory=list)


@dataclass
class WatermarkView:
    stream: str
    column: str
    watermark: str
    behind_seconds: float


@dataclass
class SinkView:
    name: str
    rows: int = 0
    rows_per_second: float = 0.0
    objects: int = 0
    bytes: int = 0
    error_records: int = 0
    buffer_bytes: int = 0
    buffer_rows: int = 0
    next_flush_seconds: float | None = None
    retries: int = 0
    throttles: int = 0
    failures: int = 0


@dataclass
class StatusView:
    uptime_seconds: float = 0.0
    open_window_rows: int = 0
    sources: list[SourceView] = field(default_factory=list)
    watermarks: list[WatermarkView] = field(default_factory=list)
    sinks: list[SinkView] = field(default_factory=list)
    checkpoint_epoch: int | None = None  # None: the run keeps no checkpoints
    checkpoint_age_seconds: float | None = None
    checkpoint_failures: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "uptime_seconds": round(self.uptime_seconds, 3),
            "open_window_rows": self.open_window_rows,
            "sources": [vars(s) for s in self.sources],
            "watermarks": [vars(w) for w in self.watermarks],
            "sinks": [vars(s) for s in self.sinks],
            "checkpoint": None
            if self.checkpoint_epoch is None
            else {
                "epoch": self.checkpoint_epoch,
                "age_seconds": self.checkpoint_age_seconds,
                "failures": self.checkpoint_failures,
            },
        }


def build_view(current: Snapshot, previous: Snapshot | None, seconds: float) -> StatusView:
    def value(name: str, labels: LabelSet, snapshot: Snapshot = current) -> float:
        return snapshot.get(name, {}).get(labels, 0.0)

    def rate(name: str, labels: LabelSet) -> float:
        if previous is None or seconds <= 0:
            return 0.0
        return max(0.0, (value(name, labels) - value(name, labels, previous)) / seconds)

    view = StatusView(
        uptime_seconds=value("flowsql_uptime_seconds", ()), open_window_rows=int(value("flowsql_open_window_rows", ()))
    )
    if () in current.get("flowsql_checkpoint_epoch", {}):
        view.checkpoint_epoch = int(value("flowsql_checkpoint_epoch", ()))
        view.checkpoint_age_seconds = value("flowsql_checkpoint_age_seconds", ())
        view.checkpoint_failures = int(value("flowsql_checkpoint_failures_total", ()))
    for labels in sorted(current.get("flowsql_events_in_total", {})):
        name = dict(labels)["source"]
        source = SourceView(
            name,
            int(value("flowsql_events_in_total", labels)),
            rate("flowsql_events_in_total", labels),
            int(value("flowsql_errors_total", labels)),
            int(value("flowsql_late_records_total", labels)),
        )
        source.throttles = int(
            sum(
                v for k, v in current.get("flowsql_source_throttles_total", {}).items() if dict(k).get("source") == name
            )
        )
        lag = current.get("flowsql_source_max_lag_seconds", {}).get(labels)
        source.lag_seconds = lag
        for key, seconds_behind in current.get("flowsql_source_lag_seconds", {}).items():
            if dict(key).get("source") == name:
                source.shard_lag_seconds[dict(key)["shard"]] = seconds_behind
        for key in current.get("flowsql_shard_events_in_total", {}):
            if dict(key).get("source") == name:
                source.shard_events_per_second[dict(key)["shard"]] = rate("flowsql_shard_events_in_total", key)
        _shard_states(current, source)
        view.sources.append(source)
    for labels, seconds_since in sorted(current.get("flowsql_watermark_seconds", {}).items()):
        names = dict(labels)
        view.watermarks.append(
            WatermarkView(
                names["stream"], names["column"], _utc(seconds_since), value("flowsql_watermark_lag_seconds", labels)
            )
        )
    for labels in sorted(current.get("flowsql_sink_rows_total", {})):
        sink = SinkView(
            dict(labels)["sink"],
            int(value("flowsql_sink_rows_total", labels)),
            rate("flowsql_sink_rows_total", labels),
            int(value("flowsql_sink_objects_total", labels)),
            int(value("flowsql_sink_bytes_total", labels)),
            int(value("flowsql_sink_error_records_total", labels)),
            int(value("flowsql_sink_buffer_bytes", labels)),
            int(value("flowsql_sink_buffer_rows", labels)),
            current.get("flowsql_sink_next_flush_seconds", {}).get(labels),
            int(value("flowsql_sink_retries_total", labels)),
            int(value("flowsql_sink_throttles_total", labels)),
            int(value("flowsql_sink_failures_total", labels)),
        )
        view.sinks.append(sink)
    return view


def _shard_states(current: Snapshot, source: SourceView) -> None:
    for key, seconds_since in sorted(current.get("flowsql_shard_watermark_seconds", {}).items()):
        labels = dict(key)
        if labels.get("source") == source.name:
            source.shard_watermarks.setdefault(labels["shard"], {})[labels["column"]] = _utc(seconds_since)
    for series, names in (("flowsql_shard_idle", source.idle_shards), ("flowsql_shard_paused", source.paused_shards)):
        for key, flag in sorted(current.get(series, {}).items()):
            labels = dict(key)
            if labels.get("source") == source.name and flag:
                names.append(labels["shard"])


def _utc(seconds_since: float) -> str:
    return datetime.fromtimestamp(seconds_since, UTC).strftime("%Y-%m-%d %H:%M:%S")


def shard_state(source: SourceView, shard: str) -> str:
    if shard in source.paused_shards:
        return "paused"
    return "idle" if shard in source.idle_shards else "reading"


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    return f"{count:,.1f} GB"


def human_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} d"


def status_line(view: StatusView) -> str:
    """The whole state on one line, for logs off a terminal."""
    parts = []
    for s in view.sources:
        lag = f", lag {human_seconds(s.lag_seconds)}" if s.lag_seconds is not None else ""
        throttles = f", {s.throttles:,} throttles" if s.throttles else ""
        idle = f", idle shards {' '.join(s.idle_shards)}" if s.idle_shards else ""
        paused = f", paused shards {' '.join(s.paused_shards)}" if s.paused_shards else ""
        parts.append(
            f"source {s.name}: {s.events_per_second:,.0f} events/s, {s.events:,} in, "
            f"{s.errors:,} errors, {s.late:,} late{lag}{throttles}{idle}{paused}"
        )
    for w in view.watermarks:
        parts.append(f"watermark {w.stream}.{w.column} {w.watermark} ({human_seconds(w.behind_seconds)} behind)")
    parts.append(f"open windows {view.open_window_rows:,} rows")
    if view.checkpoint_epoch is not None:
        parts.append(
            f"checkpoint epoch {view.checkpoint_epoch} ({human_seconds(view.checkpoint_age_seconds)} ago, "
            f"{view.checkpoint_failures:,} failures)"
        )
    for k in view.sinks:
        parts.append(
            f"sink {k.name}: {k.rows_per_second:,.0f} rows/s, {k.rows:,} rows, {k.objects:,} objects, "
            f"{human_bytes(k.bytes)}, buffered {human_bytes(k.buffer_bytes)} "
            f"(flush in {human_seconds(k.next_flush_seconds)}), {k.retries:,} retries, "
            f"{k.throttles:,} throttles, {k.error_records:,} error records"
        )
    return "; ".join(parts)
