"""Drives the checkpoint protocol for one run: recover at start, commit between micro-batches."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from flowsql.checkpoint.participants import CheckpointedSink, TransactionalSink
from flowsql.checkpoint.state import CheckpointState
from flowsql.checkpoint.store import CheckpointStore
from flowsql.errors import UsageError

if TYPE_CHECKING:
    from flowsql.runner import PipelineRun

log = logging.getLogger("flowsql")


class CheckpointCoordinator:
    def __init__(self, run: PipelineRun, store: CheckpointStore, interval: float) -> None:
        self.run = run
        self.store = store
        self.interval = interval
        self.epoch = 0
        self.last_commit = time.monotonic()
        self.positions: dict[str, dict[str, Any]] = {}
        self.commits = 0
        self.failures = 0
        self.failing_since: int | None = None  # failures count when the current run of failures began
        self.failure_logged_at: float | None = None
        for name, sink in self._transactional_sinks().items():
            sink.begin_staging(store.staging_dir() / name, run.pipeline.name)

    def _checkpointed_sinks(self) -> dict[str, CheckpointedSink]:
        return {n: s for n, s in self.run.sinks.items() if isinstance(s, CheckpointedSink)}

    def _transactional_sinks(self) -> dict[str, TransactionalSink]:
        return {n: s for n, s in self.run.sinks.items() if isinstance(s, TransactionalSink)}

    def recover(self) -> CheckpointState | None:
        """Load the last checkpoint: finish its promotions, drop orphans, restore every part."""
        state = self.store.load()
        sinks = self._transactional_sinks()
        if state is None:
            for sink in sinks.values():
                sink.discard_staged()
            return None
        fingerprint = self.run.fingerprint()
        if state.fingerprint != fingerprint:
            raise UsageError(
                f"the checkpoint in {self.store.describe()} was written by a pipeline whose queries or schemas "
                f"differ from {self.run.pipeline.path} (state {state.fingerprint}, pipeline {fingerprint}); "
                "it cannot be reused safely. Run with --reset to discard it, or point --state-dir elsewhere."
            )
        for item in state.promotions:
            sinks[item["sink"]].promote(item)
        for sink in sinks.values():
            sink.discard_staged()
        for name, position in state.positions.items():
            self.run.sources[name].seek(position)
        self.positions = dict(state.positions)
        self.run.engine.restore(state.engine, state.tables)
        checkpointed = self._checkpointed_sinks()
        for name, data in state.sinks.items():
            rows_name = data.get("rows")
            checkpointed[name].restore(data, state.tables.get(rows_name) if rows_name else None)
        self.epoch = state.epoch
        return state

    def note_position(self, source: str, position: dict[str, Any]) -> None:
        self.positions[source] = position

    def due(self) -> bool:
        staged = any(s.staged for s in self._transactional_sinks().values())
        return staged or time.monotonic() - self.last_commit >= self.interval

    def finish(self) -> None:
        """The last checkpoint of a run; then clear staging of stragglers (an upload that was
        retried after a timeout can land after its retry was promoted). No checkpoint names
        them, so the next start would delete them anyway."""
        self.commit()
        for sink in self._transactional_sinks().values():
            if not sink.staged:
                sink.discard_staged()

    def commit(self) -> None:
        """Write the checkpoint (the commit point), then make its staged objects visible."""
        sinks = self._transactional_sinks()
        engine_state, tables = self.run.engine.snapshot()
        sink_states: dict[str, dict[str, Any]] = {}
        for name, checkpointed in self._checkpointed_sinks().items():
            data, rows = checkpointed.snapshot()
            if rows is not None:
                tables[f"sink-{name}"] = rows
                data["rows"] = f"sink-{name}"
            sink_states[name] = data
        promotions = [{"sink": name, **item} for name, sink in sinks.items() for item in sink.staged]
        state = CheckpointState(
            epoch=self.epoch + 1,
            fingerprint=self.run.fingerprint(),
            positions=self.positions,
            engine=engine_state,
            sinks=sink_states,
            promotions=promotions,
            tables=tables,
        )
        try:
            self.store.commit(state)
        except OSError as exc:
            self._failed(state.epoch, exc)
            return
        if self.failing_since is not None:
            log.info(
                "checkpoint %d committed after %d failed attempts",
                state.epoch,
                self.failures - self.failing_since,
                extra={"event": "checkpoint_recovered"},
            )
            self.failing_since = self.failure_logged_at = None
        self.epoch = state.epoch
        self.commits += 1
        self.last_commit = time.monotonic()
        for sink in sinks.values():
            sink.promote_staged()

    def _failed(self, epoch: int, exc: OSError) -> None:
        # Commits retry between micro-batches, so a full disk would log several times a second: say it
        # at once, then at most every 10 s.
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = self.failures - 1
        now = time.monotonic()
        if self.failure_logged_at is not None and now - self.failure_logged_at < 10.0:
            return
        self.failure_logged_at = now
        log.error(
            "checkpoint %d failed (%s; %d failed attempts so far); the run goes on and the next checkpoint "
            "retries. Free space or fix permissions on %s",
            epoch,
            exc,
            self.failures - self.failing_since,
            self.store.describe(),
            extra={"event": "checkpoint_failure", "epoch": epoch},
        )


def describe_state(state: CheckpointState) -> str:
    """What a checkpoint holds, in words, for --reset to say what it discards."""
    parts = [f"checkpoint epoch {state.epoch}"]
    for name, position in sorted(state.positions.items()):
        parts.append(f"source {name} at {position}")
    parts.append(f"{state.rows_held():,} rows of open windows and unflushed sink buffers")
    return "; ".join(parts)
