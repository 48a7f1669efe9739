"""A small registry of named counters and gauges with labels, safe to read from other threads,
rendered in the Prometheus text format. The runner owns one; connectors that implement
`ReportsMetrics` report into it through a `DeliveryReporter` (sinks, destinations) or a
`SourceReporter` (sources)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

LabelSet = tuple[tuple[str, str], ...]

log = logging.getLogger("flowsql")


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # "counter" or "gauge"
    help: str


# Every metric flowsql writes, declared once so the exposition carries HELP and TYPE lines.
FAMILIES = {
    f.name: f
    for f in [
        Family("flowsql_events_in_total", "counter", "Records read from a source, good and bad."),
        Family("flowsql_bytes_in_total", "counter", "Bytes read from a source."),
        Family("flowsql_errors_total", "counter", "Records of a source that could not be decoded."),
        Family(
            "flowsql_late_records_total", "counter", "Records dropped behind the watermark (sent to the error output)."
        ),
        Family("flowsql_shard_events_in_total", "counter", "Records read per shard, for sources that count them."),
        Family(
            "flowsql_source_lag_seconds", "gauge", "How far a source's reader trails the newest record (per shard)."
        ),
        Family("flowsql_source_max_lag_seconds", "gauge", "The largest shard lag of a source."),
        Family("flowsql_source_throttles_total", "counter", "Reads refused by the service for throughput."),
        Family("flowsql_watermark_seconds", "gauge", "Watermark of a stream's time column, as Unix time."),
        Family(
            "flowsql_shard_watermark_seconds",
            "gauge",
            "Watermark of one shard's time column, as Unix time: its latest "
            "time less the WATERMARK delay (a source's watermark is the least over its active shards).",
        ),
        Family(
            "flowsql_shard_idle", "gauge", "1 while a shard answers empty past idle_timeout and holds no time back."
        ),
        Family(
            "flowsql_shard_paused",
            "gauge",
            "1 while a shard is not read because it runs max_drift ahead of the slowest.",
        ),
        Family("flowsql_watermark_lag_seconds", "gauge", "How far a watermark trails the wall clock."),
        Family("flowsql_open_window_rows", "gauge", "Rows held in windows that have not closed yet."),
        Family("flowsql_sink_rows_total", "counter", "Rows delivered by a sink."),
        Family("flowsql_sink_objects_total", "counter", "Objects delivered by a sink."),
        Family("flowsql_sink_bytes_total", "counter", "Bytes delivered by a sink (after encoding)."),
        Family("flowsql_sink_error_records_total", "counter", "Error records written to a sink's error output."),
        Family(
            "flowsql_sink_transform_dropped_total",
            "counter",
            "Records a sink's transformation handler answered Dropped.",
        ),
        Family("flowsql_sink_transform_invocations_total", "counter", "Calls of a sink's transformation handler."),
        Family("flowsql_sink_buffer_bytes", "gauge", "Bytes waiting in a sink's delivery buffer."),
        Family("flowsql_sink_buffer_rows", "gauge", "Rows waiting in a sink's delivery buffer."),
        Family("flowsql_sink_next_flush_seconds", "gauge", "Seconds until the sink's buffer interval runs out."),
        Family("flowsql_sink_retries_total", "counter", "Delivery attempts a sink retried."),
        Family("flowsql_sink_throttles_total", "counter", "Deliveries the destination refused for throughput."),
        Family("flowsql_sink_failures_total", "counter", "Deliveries that failed after every attempt."),
        Family("flowsql_checkpoints_total", "counter", "Checkpoints committed."),
        Family("flowsql_checkpoint_failures_total", "counter", "Checkpoint commits that failed."),
        Family("flowsql_checkpoint_epoch", "gauge", "Epoch of the last checkpoint committed."),
        Family("flowsql_checkpoint_age_seconds", "gauge", "Seconds since the last checkpoint was committed."),
        Family("flowsql_uptime_seconds", "gauge", "Seconds since the run started."),
    ]
}


class Metrics:
    """Named series: `inc` adds to a counter, `set` replaces a value (gauges, or counters
    copied from a count kept elsewhere). Values are floats keyed by their labels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[LabelSet, float]] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = _labels(labels)
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values.setdefault(name, {})[_labels(labels)] = float(value)

    def remove(self, name: str, **labels: str) -> None:
        with self._lock:
            self._values.get(name, {}).pop(_labels(labels), None)

    def get(self, name: str, **labels: str) -> float | None:
        with self._lock:
            return self._values.get(name, {}).get(_labels(labels))

    def total(self, name: str, **labels: str) -> float:
        """Sum of every series of `name` whose labels include `labels`."""
        want = set(_labels(labels))
        with self._lock:
            return sum(v for k, v in self._values.get(name, {}).items() if want <= set(k))

    def snapshot(self) -> dict[str, dict[LabelSet, float]]:
        with self._lock:
            return {name: dict(series) for name, series in self._values.items()}

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """Every series as {"labels": {...}, "value": v}, for the run summary."""
        return {
            name: [{"labels": dict(k), "value": _plain(v)} for k, v in sorted(series.items())]
            for name, series in sorted(self.snapshot().items())
        }

    def exposition(self) -> str:
        """The Prometheus text format (version 0.0.4)."""
        lines: list[str] = []
        for name, series in sorted(self.snapshot().items()):
            family = FAMILIES.get(name)
            if family is not None:
                lines.append(f"# HELP {name} {family.help}")
                lines.append(f"# TYPE {name} {family.kind}")
            for labels, value in sorted(series.items()):
                text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{text}}} {_number(value)}" if text else f"{name} {_number(value)}")
        return "\n".join(lines) + "\n"


class DeliveryReporter:
    """What a sink or destination calls when a delivery does not go through at once: each call
    counts the event on the run's Metrics and logs what to do about it."""

    def __init__(self, metrics: Metrics, sink: str) -> None:
        self.metrics = metrics
        self.sink = sink

    def retry(self, reason: str, wait_seconds: float, seconds_left: float, throttled: bool = False) -> None:
        """An attempt failed and will be repeated after `wait_seconds`; `throttled` when the
        destination refused it for throughput (counted as a throttle too)."""
        self.metrics.inc("flowsql_sink_retries_total", sink=self.sink)
        if throttled:
            self.metrics.inc("flowsql_sink_throttles_total", sink=self.sink)
        advice = (
            (" (throttled: raise buffer_size to send fewer, larger objects, or ask for a higher request limit)")
            if throttled
            else ""
        )
        log.warning(
            "sink '%s': %s; retrying in %.1f s (%.0f s of retry_duration left)%s",
            self.sink,
            reason,
            wait_seconds,
            seconds_left,
            advice,
            extra={
                "event": "sink_throttle" if throttled else "sink_retry",
                "sink": self.sink,
                "wait_seconds": round(wait_seconds, 3),
                "seconds_left": round(seconds_left, 3),
            },
        )

    def failure(self, reason: str) -> None:
        """A delivery gave up: its records went to the error output, or the run stops."""
        self.metrics.inc("flowsql_sink_failures_total", sink=self.sink)
        log.error(
            "sink '%s': delivery failed: %s; check that the destination is reachable and that the "
            "credentials may write to it",
            self.sink,
            reason,
            extra={"event": "sink_failure", "sink": self.sink},
        )


class SourceReporter:
    """What a source calls as it reads: records taken per shard, and reads the service refused
    for throughput. Throttles are logged at once, then summed at most once per `interval`."""

    def __init__(self, metrics: Metrics, source: str, interval: float = 10.0) -> None:
        self.metrics = metrics
        self.source = source
        self.interval = interval
        self._lock = threading.Lock()
        self._unlogged = 0
        self._logged_at: float | None = None

    def events(self, shard: str, count: int) -> None:
        """`count` records read from `shard` (0 makes the series exist once a shard is read)."""
        self.metrics.inc("flowsql_shard_events_in_total", count, source=self.source, shard=shard)

    def throttle(self, shard: str, wait_seconds: float) -> None:
        self.metrics.inc("flowsql_source_throttles_total", source=self.source, shard=shard)
        now = time.monotonic()
        with self._lock:  # every shard reader reports from its own thread
            self._unlogged += 1
            if self._logged_at is not None and now - self._logged_at < self.interval:
                return
            count, self._unlogged, self._logged_at = self._unlogged, 0, now
        log.warning(
            "source '%s' shard %s throttled (read limit exceeded, %d times since the last report); "
            "retrying in %.1f s. Too many readers share this shard: use enhanced fan-out or add shards",
            self.source,
            shard,
            count,
            wait_seconds,
            extra={
                "event": "source_throttle",
                "source": self.source,
                "shard": shard,
                "throttles": count,
                "wait_seconds": round(wait_seconds, 3),
            },
        )


ReporterT_contra = TypeVar("ReporterT_contra", contravariant=True)


@runtime_checkable
class ReportsMetrics(Protocol[ReporterT_contra]):
    """A source (ReportsMetrics[SourceReporter]), sink or destination (ReportsMetrics[DeliveryReporter])
    that counts what happens to it on the run's Metrics. The runner binds one before the run."""

    def bind_metrics(self, reporter: ReporterT_contra) -> None: ...


def bind_reporters(metrics: Metrics, sources: Mapping[str, object], sinks: Mapping[str, object]) -> None:
    """Hand each source and sink that reports metrics its reporter (a sink hands it on to its
    destination)."""
    for name, source in sources.items():
        if isinstance(source, ReportsMetrics):
            source.bind_metrics(SourceReporter(metrics, name))
    for name, sink in sinks.items():
        if isinstance(sink, ReportsMetrics):
            sink.bind_metrics(DeliveryReporter(metrics, name))


def _labels(labels: dict[str, str]) -> LabelSet:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _plain(value: float) -> float | int:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
