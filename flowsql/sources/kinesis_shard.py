"""One shard read by its own thread: iterator, paced GetRecords calls, retries, lag.

Each reader hands what it fetched to the source through a bounded queue, so a throttled or
slow shard waits on its own while the others go on, and a slow engine holds them all back.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from flowsql.errors import SourceError
from flowsql.metrics import SourceReporter
from flowsql.sources.kinesis_client import Backoff, error_code, is_retryable

# Answers that refuse a read for throughput (counted as throttles).
THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ThrottlingException",
        "KMSThrottlingException",
    }
)


@dataclass(frozen=True)
class ReadSettings:
    call_interval: float = 0.2  # Kinesis allows 5 GetRecords calls per second per shard
    idle_interval: float = 1.0  # wait after an empty answer
    records_per_call: int = 10_000
    read_throughput: int = 2 * 1024 * 1024  # bytes per second per shard
    retry_timeout: float = 300.0


@dataclass
class ShardFetch:
    """Records of one GetRecords answer; `end` when the closed shard has been read through."""

    shard_id: str
    records: list[dict[str, Any]]
    millis_behind: int | None
    end: bool


@dataclass
class ShardStatus:
    """What the source needs to know of a reader to tell whether the stream is caught up."""

    in_flight: bool = True
    idle: bool = False  # last answer was empty with nothing behind
    millis_behind: int | None = None
    done: bool = False
    paused: bool = False  # waiting for the slowest shard to catch up (alignment)
    queued: int = 0  # fetches handed to the source and not taken yet
    lock: threading.Lock = field(default_factory=threading.Lock)


class Alignment(Protocol):
    def wait_turn(self, shard_id: str, stop: threading.Event) -> bool:
        """Return when the shard may be read; True if it had to wait."""


class ShardReader(threading.Thread):
    def __init__(
        self,
        client: Any,
        stream: dict[str, str],
        shard_id: str,
        start: dict[str, Any],
        outbox: queue.Queue[ShardFetch | BaseException],
        stop: threading.Event,
        settings: ReadSettings,
        alignment: Alignment | None = None,
    ) -> None:
        super().__init__(name=f"kinesis-{shard_id}", daemon=True)
        self.client = client
        self.stream = stream
        # GetRecords takes no stream name, but wants the ARN when the stream was named by it.
        self.by_arn = {"StreamARN": stream["StreamARN"]} if "StreamARN" in stream else {}
        self.shard_id = shard_id
        self.start_at = start
        self.outbox = outbox
        self.stop = stop
        self.settings = settings
        self.alignment = alignment
        self.status = ShardStatus()
        self.last_sequence: str | None = (
            start.get("StartingSequenceNumber") if start.get("ShardIteratorType") == "AFTER_SEQUENCE_NUMBER" else None
        )
        self.backoff = Backoff()
        self.failing_since: float | None = None
        # Set by the source from the shard listing once the shard is closed.
        self.ending_sequence: str | None = None
        self.reporter: SourceReporter | None = None  # set by the source: throttles are counted

    def run(self) -> None:
        try:
            self._read()
        except BaseException as exc:  # noqa: BLE001 - a reader must not die silently: the source re-raises it
            self._put(exc)
        finally:
            with self.status.lock:
                self.status.in_flight = False
                self.status.done = True

    def _read(self) -> None:
        iterator = self._iterator()
        next_call = 0.0
        while iterator is not None and not self.stop.is_set():
            if self.stop.wait(max(0.0, next_call - time.monotonic())):
                return
            self._wait_turn()
            if self.stop.is_set():
                return
            with self.status.lock:
                self.status.in_flight = True
            try:
                answer = self.client.get_records(
                    ShardIterator=iterator, Limit=self.settings.records_per_call, **self.by_arn
                )
            except ClientError as exc:
                if error_code(exc) == "ExpiredIteratorException":
                    iterator = self._iterator()
                    continue
                self._after_failure(exc)
                continue
            except BotoCoreError as exc:  # timeouts, dropped connections
                self._after_failure(exc)
                continue
            self.backoff.reset()
            self.failing_since = None
            called = time.monotonic()
            records = answer.get("Records", [])
            iterator = answer.get("NextShardIterator")
            millis = answer.get("MillisBehindLatest")
            if records:
                self.last_sequence = records[-1]["SequenceNumber"]
            elif iterator is not None and not millis and self._read_through():
                iterator = None
            if records or iterator is None:
                self._put(ShardFetch(self.shard_id, records, millis, iterator is None))
            with self.status.lock:
                self.status.in_flight = False
                self.status.millis_behind = millis
                self.status.idle = not records and not millis
            size = sum(len(r["Data"]) for r in records)
            interval = (
                self.settings.call_interval
                if records
                else max(self.settings.call_interval, self.settings.idle_interval)
            )
            next_call = called + max(interval, size / self.settings.read_throughput)

    def _wait_turn(self) -> None:
        """A shard far ahead of the slowest one is not asked for more until that one catches up,
        so a backfill of shards of unequal size keeps window state bounded."""
        if self.alignment is None:
            return
        with self.status.lock:
            self.status.paused = True
        try:
            self.alignment.wait_turn(self.shard_id, self.stop)
        finally:
            with self.status.lock:
                self.status.paused = False

    def _read_through(self) -> bool:
        """A closed shard whose last record we hold, on a server that keeps handing out iterators
        past its end (Kinesis itself ends them with no NextShardIterator)."""
        ending = self.ending_sequence
        if ending is None:
            return False
        if self.last_sequence is None:
            return True
        try:
            return int(self.last_sequence) >= int(ending)
        except ValueError:
            return False

    def _iterator(self) -> str | None:
        """A fresh iterator: after the last record taken, else at the starting position."""
        if self.last_sequence is not None:
            start: dict[str, Any] = {
                "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                "StartingSequenceNumber": self.last_sequence,
            }
        else:
            start = self.start_at
        while not self.stop.is_set():
            try:
                answer = self.client.get_shard_iterator(**self.stream, ShardId=self.shard_id, **start)
                self.backoff.reset()
                return str(answer["ShardIterator"])
            except (ClientError, BotoCoreError) as exc:
                self._after_failure(exc)
        return None

    def _after_failure(self, exc: Exception) -> None:
        with self.status.lock:
            self.status.in_flight = False
        if not is_retryable(exc):
            raise SourceError(f"kinesis shard {self.shard_id}: {error_code(exc)}: {exc}") from exc
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
        elif now - self.failing_since > self.settings.retry_timeout:
            raise SourceError(
                f"kinesis shard {self.shard_id}: still failing after {self.settings.retry_timeout:.0f} s "
                f"of retries: {error_code(exc)}: {exc}"
            ) from exc
        seconds = self.backoff.next_wait()
        if self.reporter is not None and error_code(exc) in THROTTLE_CODES:
            self.reporter.throttle(self.shard_id, seconds)
        self.stop.wait(seconds)

    def _put(self, item: ShardFetch | BaseException) -> None:
        if isinstance(item, ShardFetch):
            with self.status.lock:
                self.status.queued += 1
        while not self.stop.is_set():
            try:
                self.outbox.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
