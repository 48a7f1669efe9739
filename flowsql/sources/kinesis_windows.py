"""Kinesis tumbling-window handlers as Lambda's event source mapping runs them: per shard,
records in batches of the window they arrived in, the state returned by one call passed to the
next, a final call when the window closes, and the service's retry, bisect and
batchItemFailures rules. The final states become the source's rows."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from flowsql.delivery.handler import Handler, HandlerError, LambdaContext, load_handler, stable_uuid
from flowsql.errors import ConfigError
from flowsql.pipeline.model import SourceDecl
from flowsql.records import BadRecord
from flowsql.sources.kinesis_records import UserRow

if TYPE_CHECKING:
    from flowsql.sources.kinesis import KinesisOptions

log = logging.getLogger("flowsql")
ACCOUNT = "000000000000"  # there is no AWS account behind a local run; ARNs carry this placeholder
MAX_STATE_BYTES = 1024 * 1024  # Lambda ends a window early when its state grows past this
HANDLER_FAILED = "handler-failed"
Record = dict[str, Any]  # a record as GetRecords gives it
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class WindowSettings:
    """The event source mapping's settings (Lambda's names in snake case)."""

    window_seconds: int
    batch_size: int = 100
    batching_window: float = 0.0
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1  # -1: until the call succeeds, as Lambda's default
    stream_arn: str = ""
    region: str = "us-east-1"
    function_name: str = "flowsql"
    timeout_seconds: float = 900.0


@dataclass
class ShardWindow:
    """One shard's open window: its start, the state so far and the records taken but not yet
    passed to the handler. `consumed` is the last sequence number whose effect is in `state`
    (or that went to the error output): a restart reads on after it."""

    start_ms: int | None = None
    state: dict[str, Any] = field(default_factory=dict)
    pending: list[Record] = field(default_factory=list)
    pending_since: float | None = None
    consumed: str | None = None


@dataclass(frozen=True)
class ClosedWindow:
    shard: str
    start_ms: int
    end_ms: int
    state: dict[str, Any]
    terminated_early: bool

    def row(self) -> UserRow:
        """The final state as a JSON record, with the shard and window bounds beside its keys."""
        document = {
            **self.state,
            "shard_id": self.shard,
            "window_start": _plain(self.start_ms),
            "window_end": _plain(self.end_ms),
            "window_terminated_early": self.terminated_early,
        }
        arrival = datetime.fromtimestamp(self.end_ms / 1000, UTC)
        return UserRow(json.dumps(document).encode(), f"{self.shard}/window {_plain(self.start_ms)}", arrival)


@dataclass
class WindowResults:
    closed: list[ClosedWindow] = field(default_factory=list)
    failed: list[BadRecord] = field(default_factory=list)

    def __iadd__(self, other: WindowResults) -> Self:
        self.closed += other.closed
        self.failed += other.failed
        return self


class _Outcome:
    """One call's answer, judged: the new state, and where the batch failed (None: it did not;
    0 and no state: the whole call failed)."""

    def __init__(self, state: dict[str, Any] | None, failed_at: int | None, reason: str) -> None:
        self.state, self.failed_at, self.reason = state, failed_at, reason


class TumblingWindows:
    """Runs one handler over the shards of one source."""

    def __init__(
        self, handler: Handler, settings: WindowSettings, source: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.handler = handler
        self.settings = settings
        self.source = source
        self.shards: dict[str, ShardWindow] = {}
        self.sleep = sleep

    def describe(self, spec: str) -> list[str]:
        settings = self.settings
        retries = (
            "until it succeeds"
            if settings.maximum_retry_attempts < 0
            else f"{settings.maximum_retry_attempts} retries, then to the error output"
        )
        return [
            (
                f"tumbling-window handler {spec}: called per shard with {settings.window_seconds} s windows "
                "of arrival time; its rows are the final states"
            ),
            (
                f"  batch size {settings.batch_size}, batching window {settings.batching_window:g} s, "
                f"report batch item failures {'on' if settings.report_batch_item_failures else 'off'}, "
                f"bisect on error {'on' if settings.bisect_on_error else 'off'}, {retries}"
            ),
        ]

    @property
    def window_ms(self) -> int:
        return self.settings.window_seconds * 1000

    # -- checkpoints ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            shard: {"start_ms": w.start_ms, "state": w.state, "consumed": w.consumed}
            for shard, w in sorted(self.shards.items())
            if w.start_ms is not None or w.consumed
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.shards = {
            shard: ShardWindow(entry.get("start_ms"), dict(entry.get("state") or {}), [], None, entry.get("consumed"))
            for shard, entry in data.items()
        }

    def forget(self, shard: str) -> None:
        self.shards.pop(shard, None)

    def consumed(self, shard: str) -> str | None:
        window = self.shards.get(shard)
        return window.consumed if window is not None else None

    # -- records -------------------------------------------------------------------------------
    def take(self, shard: str, records: list[Record]) -> WindowResults:
        """Records of one shard in order: full batches are passed on at once, a record of a later
        window first closes the open one."""
        results = WindowResults()
        window = self.shards.setdefault(shard, ShardWindow())
        for record in records:
            start = _arrival_ms(record) // self.window_ms * self.window_ms
            if window.start_ms is not None and start > window.start_ms:
                results += self._close(shard, window, early=False)
            if window.start_ms is None:
                window.start_ms, window.state = start, {}
            window.pending.append(record)
            window.pending_since = window.pending_since or time.monotonic()
            if len(window.pending) >= self.settings.batch_size:
                results += self._flush(shard, window)
        if self.settings.batching_window <= 0:
            results += self._flush(shard, window)
        return results

    def due(self, now_ms: int, idle: Callable[[str], bool], grace_ms: int) -> WindowResults:
        """Batches whose batching window ran out, and windows whose end has passed on a shard that
        has had nothing more to give for `grace_ms` since (a record of that window cannot come)."""
        results = WindowResults()
        for shard, window in self.shards.items():
            if window.start_ms is None:
                continue
            waited = time.monotonic() - (window.pending_since or time.monotonic())
            if window.pending and waited >= self.settings.batching_window:
                results += self._flush(shard, window)
            if now_ms >= window.start_ms + self.window_ms + grace_ms and idle(shard):
                results += self._close(shard, window, early=False)
        return results

    def waiting(self, now_ms: int) -> bool:
        """Records not passed on yet, or a window whose end has passed and is not closed yet."""
        return any(
            w.pending or (w.start_ms is not None and now_ms >= w.start_ms + self.window_ms)
            for w in self.shards.values()
        )

    def end_shard(self, shard: str) -> WindowResults:
        """A closed shard read through: its open window ends here (early, if its end is to come)."""
        window = self.shards.get(shard)
        if window is None or window.start_ms is None:
            return WindowResults()
        early = time.time() * 1000 < window.start_ms + self.window_ms
        return self._close(shard, window, early=early)

    # -- calls -----------------------------------------------------------------------------------
    def _flush(self, shard: str, window: ShardWindow) -> WindowResults:
        results = WindowResults()
        while window.pending:
            size = self.settings.batch_size
            batch, window.pending = window.pending[:size], window.pending[size:]
            results += self._process(shard, window, batch)
        window.pending_since = None
        return results

    def _process(self, shard: str, window: ShardWindow, batch: list[Record]) -> WindowResults:
        """Call until the batch is through: a reported item failure retries from that record, an
        error splits the batch in two (when bisecting) or retries it; past the retry limit the
        rest of the batch goes to the error output."""
        results = WindowResults()
        attempts = 0
        while batch:
            outcome = self._call(shard, window, batch, final=False, early=False)
            if outcome.state is not None:
                window.state = outcome.state
                done = batch if outcome.failed_at is None else batch[: outcome.failed_at]
                if done:
                    window.consumed = done[-1]["SequenceNumber"]
                if outcome.failed_at is None:
                    results += self._limit_state(shard, window)
                    return results
                batch = batch[outcome.failed_at :]
            elif self.settings.bisect_on_error and len(batch) > 1:
                # Splitting does not count as a retry (Lambda's rule).
                middle = len(batch) // 2
                results += self._process(shard, window, batch[:middle])
                results += self._process(shard, window, batch[middle:])
                return results
            attempts += 1
            log.warning(
                "source '%s': the handler failed on %d record(s) of %s (attempt %d): %s",
                self.source,
                len(batch),
                shard,
                attempts,
                outcome.reason,
            )
            if 0 <= self.settings.maximum_retry_attempts < attempts:
                results.failed += [self._failed(shard, record, outcome.reason) for record in batch]
                window.consumed = batch[-1]["SequenceNumber"]
                return results
            self.sleep(min(0.05 * 2 ** (attempts - 1), 5.0))
        return results

    def _limit_state(self, shard: str, window: ShardWindow) -> WindowResults:
        """A state past 1 MB ends the window early; the same window goes on with a fresh state."""
        if len(json.dumps(window.state).encode()) <= MAX_STATE_BYTES:
            return WindowResults()
        start = window.start_ms
        results = self._close(shard, window, early=True)
        window.start_ms = start
        return results

    def _close(self, shard: str, window: ShardWindow, early: bool) -> WindowResults:
        """The final call of the open window (after its last records); the state it ends with
        becomes a row. A final call that keeps failing past the retry limit sends the state to
        the error output instead."""
        results = self._flush(shard, window)
        assert window.start_ms is not None
        start, end = window.start_ms, window.start_ms + self.window_ms
        attempts = 0
        while True:
            outcome = self._call(shard, window, [], final=True, early=early)
            if outcome.state is not None:
                results.closed.append(ClosedWindow(shard, start, end, outcome.state, early))
                break
            attempts += 1
            log.warning(
                "source '%s': the final call of window %s of %s failed (attempt %d): %s",
                self.source,
                _plain(start),
                shard,
                attempts,
                outcome.reason,
            )
            if 0 <= self.settings.maximum_retry_attempts < attempts:
                data = json.dumps(
                    {"shardId": shard, "window": {"start": _iso(start), "end": _iso(end)}, "state": window.state}
                ).encode()
                results.failed.append(
                    BadRecord(
                        self.source,
                        HANDLER_FAILED,
                        f"the final call failed: {outcome.reason}",
                        data,
                        f"{shard}/window {_plain(start)}",
                        datetime.fromtimestamp(end / 1000, UTC),
                    )
                )
                break
            self.sleep(min(0.05 * 2 ** (attempts - 1), 5.0))
        window.start_ms, window.state = None, {}
        return results

    def _call(self, shard: str, window: ShardWindow, batch: list[Record], final: bool, early: bool) -> _Outcome:
        assert window.start_ms is not None
        start, end = window.start_ms, window.start_ms + self.window_ms
        settings = self.settings
        event = {
            "Records": [self._lambda_record(shard, record) for record in batch],
            "window": {"start": _iso(start), "end": _iso(end)},
            "state": json.loads(json.dumps(window.state)),  # the handler's own copy, as over the wire
            "shardId": shard,
            "eventSourceARN": settings.stream_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": early,
        }
        first = batch[0]["SequenceNumber"] if batch else "final"
        context = LambdaContext(
            settings.function_name,
            settings.region,
            ACCOUNT,
            stable_uuid(shard, start, first, len(batch), final),
            settings.timeout_seconds,
        )
        try:
            # A handler's print() goes to the log (stderr), as on Lambda to CloudWatch Logs: never
            # into what a stdout sink writes.
            with contextlib.redirect_stdout(sys.stderr):
                answer = self.handler(event, context)
        except Exception as exc:  # noqa: BLE001 - the handler is user code: any exception fails the call
            return _Outcome(None, None, f"{type(exc).__name__}: {exc}")
        return self._judge(answer, batch)

    def _judge(self, answer: Any, batch: list[Record]) -> _Outcome:
        if not isinstance(answer, dict) or not isinstance(answer.get("state"), dict):
            return _Outcome(None, None, "the response has no 'state' object (Lambda counts that as a failed call)")
        try:
            state = json.loads(json.dumps(answer["state"]))
        except (TypeError, ValueError) as exc:
            return _Outcome(None, None, f"the state is not JSON: {exc}")
        failures = answer.get("batchItemFailures") or []
        if not self.settings.report_batch_item_failures or not failures:
            return _Outcome(state, None, "")
        sequences = [r["SequenceNumber"] for r in batch]
        identifiers = [f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures]
        if any(i not in sequences for i in identifiers):
            # Lambda treats an identifier it does not know as a failure of the whole batch.
            return _Outcome(None, None, f"batchItemFailures names a record not in the batch: {identifiers}")
        return _Outcome(
            state, min(sequences.index(i) for i in identifiers), f"the handler reported record {identifiers[0]} failed"
        )

    def _lambda_record(self, shard: str, record: Record) -> dict[str, Any]:
        sequence = record["SequenceNumber"]
        return {
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": record.get("PartitionKey", ""),
                "sequenceNumber": sequence,
                "data": base64.b64encode(record["Data"]).decode(),
                "approximateArrivalTimestamp": _arrival_ms(record) / 1000,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard}:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": f"arn:aws:iam::{ACCOUNT}:role/flowsql",
            "awsRegion": self.settings.region,
            "eventSourceARN": self.settings.stream_arn,
        }

    def _failed(self, shard: str, record: Record, reason: str) -> BadRecord:
        return BadRecord(
            self.source,
            HANDLER_FAILED,
            f"the handler failed: {reason}",
            record["Data"],
            f"{shard}/{record['SequenceNumber']}",
            datetime.fromtimestamp(_arrival_ms(record) / 1000, UTC),
        )


def tumbling_windows(decl: SourceDecl, options: KinesisOptions) -> TumblingWindows | None:
    """The source's tumbling-window handler, or None; each bad setting is named with its range."""

    def refuse(key: str, why: str) -> ConfigError:
        return ConfigError(f"source '{decl.name}': {key} {why}", decl.location)

    if not options.handler:
        for key in (
            "tumbling_window",
            "batching_window",
            "batch_size",
            "report_batch_item_failures",
            "bisect_batch_on_function_error",
            "maximum_retry_attempts",
        ):
            if decl.option(key) is not None:
                raise refuse(key, "applies to a tumbling-window handler: add handler = 'module:function'")
        return None
    seconds = options.tumbling_window
    if not (1 <= seconds <= 900 and seconds == int(seconds)):
        raise refuse("tumbling_window", f"must be whole seconds from 1 s to 900 s (Lambda's range), not {seconds:g} s")
    if not 1 <= options.batch_size <= 10_000:
        raise refuse("batch_size", "must be 1 to 10000 (Lambda's range for Kinesis)")
    if not 0 <= options.batching_window <= 300:
        raise refuse("batching_window", "must be 0 s to 300 s (Lambda's MaximumBatchingWindowInSeconds)")
    if not -1 <= options.maximum_retry_attempts <= 10_000:
        raise refuse("maximum_retry_attempts", "must be -1 (until it succeeds) to 10000")
    if not decl.columns:
        raise refuse(
            "handler",
            "needs the columns of its rows declared: the keys of the final state, "
            "and shard_id, window_start, window_end if wanted",
        )
    option = next(o for o in decl.options if o.key.lower() == "handler")
    written_in = option.location.path if option.location is not None else decl.location.path
    try:
        handler, _ = load_handler(options.handler, Path(written_in).parent)
    except HandlerError as exc:
        raise refuse("handler", str(exc)) from None
    region = options.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    stream = options.stream
    arn = stream if stream.startswith("arn:") else f"arn:aws:kinesis:{region}:{ACCOUNT}:stream/{stream}"
    settings = WindowSettings(
        int(seconds),
        options.batch_size,
        options.batching_window,
        options.report_batch_item_failures,
        options.bisect_batch_on_function_error,
        options.maximum_retry_attempts,
        arn,
        region,
        decl.name,
    )
    return TumblingWindows(handler, settings, decl.name)


def _arrival_ms(record: Record) -> int:
    """Kinesis's arrival time in whole milliseconds (its precision), computed exactly: a float
    product could put a record at a window's first millisecond into the window before."""
    value = record.get("ApproximateArrivalTimestamp")
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return (aware - _EPOCH) // timedelta(milliseconds=1)
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    """A window bound as the event gives it: 2020-12-09T07:04:00Z."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(ms: int) -> str:
    """A window bound as a row's TIMESTAMP column reads it (UTC)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
