"""Start and stop what watches a run from the side: the status panel or lines, and the
Prometheus endpoint."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from flowsql.delivery.stdout import StdoutSink
from flowsql.runner import PipelineRun
from flowsql.status.monitor import Monitor
from flowsql.status.sample import sample_run

if TYPE_CHECKING:
    from flowsql.status.http import MetricsServer

log = logging.getLogger("flowsql")


class Watchers:
    def __init__(
        self,
        run: PipelineRun,
        quiet: bool = False,
        status_interval: float = 10.0,
        metrics_port: int | None = None,
        metrics_host: str = "127.0.0.1",
        shards: bool = False,
        terminal: bool | None = None,
    ) -> None:
        terminal = sys.stderr.isatty() if terminal is None else terminal
        self.run = run
        self._moved: list[StdoutSink] = []
        self._terminal = sys.stdout
        self.monitor: Monitor | None = None
        if not quiet and terminal:
            self.monitor = Monitor(run.metrics, run.pipeline.name, "panel", shards=shards)
        elif not quiet and status_interval > 0:
            self.monitor = Monitor(run.metrics, run.pipeline.name, "lines", interval=status_interval)
        self.server: MetricsServer | None = None
        if metrics_port is not None:
            # Imported only when asked for: the HTTP server brings http.client and ssl.
            from flowsql.status.http import MetricsServer

            self.server = MetricsServer(run.metrics, metrics_port, metrics_host)

    def start(self) -> None:
        sample_run(self.run)  # a scrape that comes before the run's first sample still finds figures
        if self.server is not None:
            self.server.start()
            log.info("metrics at %s", self.server.url, extra={"event": "metrics_endpoint", "url": self.server.url})
        if self.monitor is not None:
            terminal = sys.stdout
            self.monitor.start()
            # Sinks that print to the terminal (stdout) took sys.stdout before the panel replaced it.
            self._moved = [s for s in self.run.sinks.values() if isinstance(s, StdoutSink) and s.stream is terminal]
            for sink in self._moved:
                sink.stream = sys.stdout
            self._terminal = terminal

    def stop(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()
            for sink in self._moved:
                sink.stream = self._terminal
        if self.server is not None:
            self.server.stop()
