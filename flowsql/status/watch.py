"""Start and stop what watches a run from the side: the status panel or lines, and the
Prometheus endpoint."""

from __future__ import annotations

import logging
import sys

from flowsql.runner import PipelineRun
from flowsql.status.http import MetricsServer
from flowsql.status.monitor import Monitor

log = logging.getLogger("flowsql")


class Watchers:
    def __init__(self, run: PipelineRun, quiet: bool = False, status_interval: float = 10.0,
                 metrics_port: int | None = None, metrics_host: str = "127.0.0.1", shards: bool = False,
                 terminal: bool | None = None) -> None:
        terminal = sys.stderr.isatty() if terminal is None else terminal
        self.monitor: Monitor | None = None
        if not quiet and terminal:
            self.monitor = Monitor(run.metrics, run.pipeline.name, "panel", shards=shards)
        elif not quiet and status_interval > 0:
            self.monitor = Monitor(run.metrics, run.pipeline.name, "lines", interval=status_interval)
        self.server = MetricsServer(run.metrics, metrics_port, metrics_host) if metrics_port is not None else None

    def start(self) -> None:
        if self.server is not None:
            self.server.start()
            log.info("metrics at %s", self.server.url, extra={"event": "metrics_endpoint", "url": self.server.url})
        if self.monitor is not None:
            self.monitor.start()

    def stop(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()
        if self.server is not None:
            self.server.stop()
