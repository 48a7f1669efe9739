"""A thread that shows a run's Metrics while it runs: a rich live panel on a terminal, or one
status log line per interval elsewhere. It only reads the Metrics, never the run itself."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING

from flowsql.metrics import Metrics
from flowsql.status.view import Snapshot, StatusView, build_view, status_line

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

log = logging.getLogger("flowsql")


class Monitor:
    def __init__(
        self, metrics: Metrics, pipeline: str, mode: str, interval: float = 10.0, shards: bool = False
    ) -> None:
        if mode not in ("panel", "lines"):
            raise ValueError("mode is 'panel' or 'lines'")
        self.metrics = metrics
        self.pipeline = pipeline
        self.mode = mode
        self.interval = interval if mode == "lines" else 0.5
        self.shards = shards
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="flowsql-status", daemon=True)
        self._previous: tuple[Snapshot, float] | None = None
        self._live: Live | None = None

    def start(self) -> None:
        if self.mode == "panel":
            from rich.console import Console
            from rich.live import Live

            # Output to the same terminal (log lines, a stdout sink's tables) must print above the
            # panel, not through it: Live swaps sys.stdout/sys.stderr for proxies that do that.
            self._live = Live(
                console=Console(stderr=True),
                refresh_per_second=4,
                transient=False,
                redirect_stdout=sys.stdout.isatty(),
                redirect_stderr=True,
            )
            self._live.start()
        self._thread.start()

    def stop(self) -> None:
        """Show the final figures once more, then end the panel."""
        self._stop.set()
        self._thread.join()
        if self._live is not None:
            self._live.update(self._render(self.final_view()), refresh=True)
            self._live.stop()

    def final_view(self) -> StatusView:
        """The state at the end, with rates averaged over the whole run."""
        current = self.metrics.snapshot()
        uptime = current.get("flowsql_uptime_seconds", {}).get((), 0.0)
        return build_view(current, {}, uptime)

    def view(self) -> StatusView:
        """The state now, with rates over the time since the last view."""
        now = time.monotonic()
        current = self.metrics.snapshot()
        previous, seconds = (None, 0.0) if self._previous is None else (self._previous[0], now - self._previous[1])
        self._previous = (current, now)
        return build_view(current, previous, seconds)

    def _render(self, view: StatusView) -> RenderableType:
        from flowsql.status.panel import render_panel

        return render_panel(self.pipeline, view, self.shards)

    def _loop(self) -> None:
        self.view()  # the baseline for the first rates
        while not self._stop.wait(self.interval):
            view = self.view()
            if self._live is not None:
                self._live.update(self._render(view))
            else:
                log.info("status: %s", status_line(view), extra={"event": "status", "status": view.to_json()})
