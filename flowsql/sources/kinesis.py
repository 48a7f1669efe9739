"""The Kinesis Data Streams source: every shard read concurrently, children after parents.

A position is, per shard, the last sequence number taken, plus the shards read to their end,
so a resume starts AFTER_SEQUENCE_NUMBER and never reads a finished shard again. Each row
carries its record's ApproximateArrivalTimestamp, so a replay windows exactly as the first run.
Time moves per shard: the source's progress is the least over the shards being read.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from flowsql.decode import arrow_schema
from flowsql.errors import ConfigError, SourceError
from flowsql.metrics import Metrics, SourceReporter
from flowsql.options import choice, duration, size
from flowsql.pipeline.model import SourceDecl
from flowsql.records import BadRecord, SourceBatch
from flowsql.row_origins import ListedRecords
from flowsql.sources import register
from flowsql.sources.base import Source, SourceOptions
from flowsql.sources.event_time import Times
from flowsql.sources.kinesis_client import Backoff, error_code, is_retryable, kinesis_client
from flowsql.sources.kinesis_clocks import ShardClocks, latest_per_shard, parents_of
from flowsql.sources.kinesis_records import UserRow, decode_rows, user_rows
from flowsql.sources.kinesis_shard import ReadSettings, ShardFetch, ShardReader
from flowsql.sources.kinesis_shard_column import shard_column
from flowsql.sources.kinesis_windows import TumblingWindows, WindowResults, tumbling_windows

_FETCHES_PER_BATCH = 32  # GetRecords answers already waiting are decoded together
_LISTING_WHEN_IDLE = 0.1  # seconds at least; ListShards allows 100 calls per second per stream


@dataclass(frozen=True)
class KinesisOptions(SourceOptions):
    stream: str = ""  # name or ARN
    region: str = ""
    endpoint_url: str = ""  # else AWS_ENDPOINT_URL_KINESIS / AWS_ENDPOINT_URL / AWS config
    starting_position: str = choice("trim_horizon", "latest", "at_timestamp")
    starting_timestamp: str = ""  # ISO 8601, for AT_TIMESTAMP
    shard_refresh_interval: float = duration(30.0)
    get_records_interval: float = duration(0.2)
    idle_interval: float = duration(1.0)
    records_per_call: int = 10_000
    read_throughput: int = size(2 * 1024 * 1024)
    retry_timeout: float = duration(300.0)
    request_timeout: float = duration(15.0)  # one call's wait for an answer before it is retried
    # A Lambda tumbling-window handler and its event source mapping's settings (kinesis_windows.py).
    handler: str = ""
    tumbling_window: float = duration(0.0)
    batch_size: int = 100
    batching_window: float = duration(0.0)
    report_batch_item_failures: bool = False
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    shard_column: str = ""  # a declared VARCHAR column the source fills with each row's shard id


@register("kinesis")
class KinesisSource(Source):
    options_class = KinesisOptions
    options: KinesisOptions

    def __init__(self, decl: SourceDecl, options: KinesisOptions) -> None:
        super().__init__(decl, options)
        if not options.stream:
            raise ConfigError(f"source '{decl.name}' (kinesis) needs the option 'stream'", decl.location)
        if not 1 <= options.records_per_call <= 10_000:
            raise ConfigError(f"source '{decl.name}': records_per_call is between 1 and 10000", decl.location)
        self.start_at: dict[str, Any] = {"ShardIteratorType": options.starting_position.upper()}
        if options.starting_position == "at_timestamp":
            try:
                self.start_at["Timestamp"] = datetime.fromisoformat(options.starting_timestamp)
            except ValueError:
                raise ConfigError(
                    f"source '{decl.name}': starting_position = 'AT_TIMESTAMP' needs starting_timestamp "
                    f"as an ISO 8601 time (got {options.starting_timestamp!r})",
                    decl.location,
                ) from None
        stream = options.stream
        self.stream_args = {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}
        # Implausible event times are judged after each row has its own arrival time attached.
        self.shard_column, read = shard_column(decl, options.shard_column)
        self.decoder = self.record_decoder(judge_times=False, columns=read)  # judged by each record's own arrival
        self.bounds = self.time_bounds()
        self.schema = arrow_schema(decl.columns)
        self.settings = ReadSettings(
            call_interval=options.get_records_interval,
            idle_interval=options.idle_interval,
            records_per_call=options.records_per_call,
            read_throughput=options.read_throughput,
            retry_timeout=options.retry_timeout,
        )
        self.windows = tumbling_windows(decl, options)
        self.sequences: dict[str, str] = {}  # shard -> last sequence number taken
        self.finished: set[str] = set()
        self.readers: dict[str, ShardReader] = {}
        self.shards: dict[str, dict[str, Any]] = {}
        self._client: Any = None
        self._caught_up = False
        self.clocks = ShardClocks(self.partition_clocks())
        self._progress: Times = {}
        self.reporter = SourceReporter(Metrics(), self.name)  # the run binds its own

    def bind_metrics(self, reporter: SourceReporter) -> None:
        """Records per shard and throttled reads are counted on the run's Metrics."""
        self.reporter = reporter

    @property
    def bounded(self) -> bool:
        return False

    @property
    def live(self) -> bool:
        # Arrival time is the record's own, not the wall clock: a replay must window the same.
        return False

    @property
    def caught_up(self) -> bool:
        """Every shard read to its latest record, and nothing fetched still waiting."""
        return self._caught_up

    def seek(self, position: dict[str, Any]) -> None:
        self.sequences = {str(k): str(v) for k, v in dict(position.get("shards", {})).items()}
        self.finished = {str(s) for s in position.get("finished", [])}
        if self.windows is not None:
            self.windows.restore(dict(position.get("windows", {})))

    def explain_lines(self) -> list[str]:
        if self.windows is None:
            return []
        return self.windows.describe(self.options.handler)

    def lag(self) -> dict[str, int]:
        """MillisBehindLatest of each shard being read (the iterator age users watch)."""
        return {
            shard: int(reader.status.millis_behind or 0)
            for shard, reader in sorted(self.readers.items())
            if shard not in self.finished
        }

    def shard_times(self) -> dict[str, dict[str, object]]:
        """Per shard being read: its latest time per column (microseconds) and whether it is
        idle or paused (status panel, metrics)."""
        return self.clocks.snapshot()

    # -- reading -----------------------------------------------------------------------------
    def read(self, stop: threading.Event) -> Iterator[SourceBatch]:
        self._client = kinesis_client(
            self.options.region, self.options.endpoint_url, read_timeout=self.options.request_timeout
        )
        readers_stop = threading.Event()
        self.readers = {}
        self.clocks = ShardClocks(self.partition_clocks())
        outbox: queue.Queue[ShardFetch | BaseException] = queue.Queue(maxsize=16)
        try:
            self._refresh_shards()
            self._start_ready(outbox, readers_stop)
            refreshed = time.monotonic()
            while not stop.is_set():
                try:
                    item = outbox.get(timeout=0.05)
                except queue.Empty:
                    item = None
                if isinstance(item, BaseException):
                    raise item
                self._note_empty_answers()
                if item is not None:
                    fetches = _more(outbox, item)
                    yield self._batch(fetches)
                    for fetch in fetches:
                        if fetch.end:
                            self.finished.add(fetch.shard_id)
                            self.sequences.pop(fetch.shard_id, None)
                            self.clocks.ended(fetch.shard_id)
                            refreshed = 0.0  # a closed shard read through: its children may start now
                else:
                    moved = self._idle_progress()
                    if moved is not None:
                        yield moved
                    closed = self._due_windows()
                    if closed is not None:
                        yield closed
                idle = item is None and outbox.empty() and self._all_idle() and not self._windows_waiting()
                # Before calling the stream caught up, look again for closed and new shards; while
                # a shard is idle, look often, so that its children (if it was split) soon hold time.
                due = (
                    max(_LISTING_WHEN_IDLE, self.options.idle_interval)
                    if idle or self._any_idle()
                    else self.options.shard_refresh_interval
                )
                if time.monotonic() - refreshed >= due:
                    self._refresh_shards()
                    refreshed = time.monotonic()
                    idle = False
                self._start_ready(outbox, readers_stop)
                self._caught_up = idle
                if self._caught_up and self.stop_when_caught_up:
                    return
        finally:
            readers_stop.set()
            self.clocks.wake()
            for reader in self.readers.values():
                reader.join(timeout=2.0)

    def _batch(self, fetches: list[ShardFetch]) -> SourceBatch:
        if self.windows is not None:
            return self._window_batch(fetches, self.windows)
        rows: list[UserRow] = []
        bad: list[BadRecord] = []
        ended: set[str] = set()
        fetched: set[str] = set()
        for fetch in fetches:
            self._taken(fetch.shard_id)
            fetch_rows, fetch_bad = user_rows(self.name, fetch.shard_id, fetch.records)
            self.reporter.events(fetch.shard_id, len(fetch_rows) + len(fetch_bad))
            rows.extend(fetch_rows)
            bad.extend(fetch_bad)
            if fetch.records:
                self.sequences[fetch.shard_id] = fetch.records[-1]["SequenceNumber"]
                fetched.add(fetch.shard_id)
            if fetch.end:
                ended.add(fetch.shard_id)
        table, errors, decoded = decode_rows(self.decoder, rows, self.bounds)
        if self.shard_column is not None:
            table = self.shard_column.add(table, [row.shard for row in decoded])
        self.clocks.observe(latest_per_shard(table, decoded, self.clocks.clocks.columns), fetched)
        progress, _ = self.clocks.progress()
        raw_bytes = sum(len(r["Data"]) for fetch in fetches for r in fetch.records)
        origins = ListedRecords(lambda: [(row.data, row.position) for row in decoded])
        return SourceBatch(self.name, table, bad + errors, self._position(ended), raw_bytes, progress, origins)

    def _window_batch(self, fetches: list[ShardFetch], windows: TumblingWindows) -> SourceBatch:
        """The handler's view of the records: calls per shard and window; the rows are the states
        of the windows that closed, and the position moves only past records the handler took."""
        results = WindowResults()
        ended: set[str] = set()
        for fetch in fetches:
            self._taken(fetch.shard_id)
            self.reporter.events(fetch.shard_id, len(fetch.records))
            results += windows.take(fetch.shard_id, fetch.records)
            if fetch.end:
                results += windows.end_shard(fetch.shard_id)
                windows.forget(fetch.shard_id)  # read through: nothing of it is resumed
                ended.add(fetch.shard_id)
        return self._window_rows(results, ended)

    def _window_rows(self, results: WindowResults, ended: set[str] | frozenset[str] = frozenset()) -> SourceBatch:
        assert self.windows is not None
        for shard in self.windows.shards:
            consumed = self.windows.consumed(shard)
            if consumed is not None:
                self.sequences[shard] = consumed
        rows = [closed.row() for closed in results.closed]
        table, errors, decoded = decode_rows(self.decoder, rows)
        origins = ListedRecords(lambda: [(row.data, row.position) for row in decoded])
        return SourceBatch(self.name, table, results.failed + errors, self._position(ended), 0, None, origins)

    def _due_windows(self) -> SourceBatch | None:
        """Windows whose end has passed on shards with nothing more to read, and batches whose
        batching window ran out."""
        if self.windows is None:
            return None
        # A shard that answered empty this long after a window's end holds no more of its records.
        grace_ms = int((2 * self.options.idle_interval + self.options.get_records_interval) * 1000)
        results = self.windows.due(int(time.time() * 1000), self._shard_idle, grace_ms)
        if not results.closed and not results.failed:
            return None
        return self._window_rows(results)

    def _windows_waiting(self) -> bool:
        return self.windows is not None and self.windows.waiting(int(time.time() * 1000))

    def _shard_idle(self, shard_id: str) -> bool:
        reader = self.readers.get(shard_id)
        if reader is None:
            return shard_id not in self.shards or shard_id in self.finished
        with reader.status.lock:
            return reader.status.done or (reader.status.idle and not reader.status.queued)

    def _position(self, ended: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
        finished = self.finished | ended
        position: dict[str, Any] = {
            "shards": {s: q for s, q in sorted(self.sequences.items()) if s not in finished},
            "finished": sorted(finished),
        }
        if self.windows is not None:
            position["windows"] = self.windows.snapshot()
        return position

    def _note_empty_answers(self) -> None:
        """A shard whose last answer was empty, with none of its records still waiting to be
        decoded, counts toward its idle_timeout."""
        for shard_id, reader in self.readers.items():
            with reader.status.lock:
                asked_empty = (
                    reader.status.idle
                    and not reader.status.queued
                    and not reader.status.paused
                    and not reader.status.done
                )
            if asked_empty:
                self.clocks.answered_empty(shard_id)

    def _idle_progress(self) -> SourceBatch | None:
        """Shards that answered empty long enough stop holding time back; when that alone moves the
        progress, an empty batch carries it, so windows close while nothing arrives."""
        progress, moved = self.clocks.progress()
        if not moved:
            return None
        empty = decode_rows(self.decoder, []).table
        if self.shard_column is not None:
            empty = self.shard_column.add(empty, [])
        return SourceBatch(self.name, empty, [], self._position(), 0, progress)

    def _any_idle(self) -> bool:
        return any(state["idle"] for state in self.clocks.snapshot().values())

    def _taken(self, shard_id: str) -> None:
        reader = self.readers.get(shard_id)
        if reader is not None:
            with reader.status.lock:
                reader.status.queued -= 1

    def _all_idle(self) -> bool:
        if any(self._ready(shard) and shard not in self.readers for shard in self.shards):
            return False
        for reader in self.readers.values():
            with reader.status.lock:
                if reader.status.done:
                    continue
                if reader.status.in_flight or reader.status.paused or not reader.status.idle:
                    return False
        return True

    def _ready(self, shard_id: str) -> bool:
        """Not finished, and every parent still listed has been read to its end."""
        if shard_id in self.finished:
            return False
        return all(p in self.finished or p not in self.shards for p in parents_of(self.shards[shard_id]))

    def _start_ready(self, outbox: queue.Queue[ShardFetch | BaseException], stop: threading.Event) -> None:
        for shard_id, shard in self.shards.items():
            if shard_id in self.readers or not self._ready(shard_id):
                continue
            self.clocks.start(shard_id, shard)
            reader = ShardReader(
                self._client,
                self.stream_args,
                shard_id,
                self._start_for(shard),
                outbox,
                stop,
                self.settings,
                self.clocks,
            )
            reader.reporter = self.reporter
            self.reporter.events(shard_id, 0)  # the shard's series exists from its first read
            ending = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
            reader.ending_sequence = str(ending) if ending is not None else None
            self.readers[shard_id] = reader
            reader.start()

    def _start_for(self, shard: dict[str, Any]) -> dict[str, Any]:
        shard_id = shard["ShardId"]
        if shard_id in self.sequences:
            return {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": self.sequences[shard_id]}
        if any(p in self.finished for p in parents_of(shard)):
            # A child of a shard we read through: everything in it is new to us.
            return {"ShardIteratorType": "TRIM_HORIZON"}
        return dict(self.start_at)

    def _refresh_shards(self) -> None:
        """List every shard, page by page; finished shards that have aged out are forgotten."""
        shards: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = dict(self.stream_args)
        backoff = Backoff()
        failing_since: float | None = None
        while True:
            try:
                answer = self._client.list_shards(**request)
            except (ClientError, BotoCoreError) as exc:
                now = time.monotonic()
                failing_since = failing_since or now
                if not is_retryable(exc) or now - failing_since > self.options.retry_timeout:
                    raise SourceError(
                        f"source '{self.name}': cannot list the shards of kinesis stream "
                        f"'{self.options.stream}': {error_code(exc)}: {exc}"
                    ) from exc
                backoff.wait()
                continue
            for shard in answer.get("Shards", []):
                shards[shard["ShardId"]] = shard
            token = answer.get("NextToken")
            if not token:
                break
            request = {"NextToken": token}  # the stream may not be named alongside a token
        self.shards = shards
        for shard_id, reader in self.readers.items():
            ending = shards.get(shard_id, {}).get("SequenceNumberRange", {}).get("EndingSequenceNumber")
            if ending is not None:
                reader.ending_sequence = str(ending)
        parents = {p for shard in shards.values() for p in parents_of(shard)}
        self.finished = {s for s in self.finished if s in shards or s in parents}
        self.clocks.listed(shards)


def _more(outbox: queue.Queue[ShardFetch | BaseException], first: ShardFetch) -> list[ShardFetch]:
    """`first` and the answers already waiting behind it, in the order the shards gave them."""
    fetches = [first]
    while len(fetches) < _FETCHES_PER_BATCH:
        try:
            item = outbox.get_nowait()
        except queue.Empty:
            break
        if isinstance(item, BaseException):
            raise item
        fetches.append(item)
    return fetches
