"""Put records into a Kinesis stream with PutRecords, losing nothing silently.

Batches hold at most 500 records and 5 MiB; a record over 1 MiB is reported and skipped.
When some entries of a call fail, only those (found by position) are sent again, with backoff,
until they go in or the retry budget is spent, and then they are reported.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from flowsql.errors import SourceError
from flowsql.sources.kinesis_client import Backoff, error_code, is_retryable, kinesis_client

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
MAX_RECORD_BYTES = 1024 * 1024  # data plus partition key, as Kinesis counts it
MAX_PARTITION_KEY = 256


@dataclass(frozen=True)
class Entry:
    """One record to put, numbered from 1 in input order (a line number for a file)."""

    number: int
    data: bytes
    partition_key: str

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))


@dataclass(frozen=True)
class Problem:
    """A record that did not go in: its number and why."""

    number: int
    reason: str


@dataclass
class ProduceReport:
    put: int = 0
    calls: int = 0
    retried_entries: int = 0
    skipped: list[Problem] = field(default_factory=list)  # never sent: too large, no partition key
    failed: list[Problem] = field(default_factory=list)  # sent, but the retry budget ran out

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.failed


def produce(
    stream: str,
    records: Iterable[bytes],
    *,
    partition_key_field: str | None = None,
    region: str = "",
    endpoint_url: str = "",
    max_attempts: int = 10,
    client: Any = None,
    backoff_cap: float = 5.0,
) -> ProduceReport:
    """Put every record of `records` into `stream` (a name or an ARN); returns what happened."""
    client = client or kinesis_client(region, endpoint_url)
    target = {"StreamARN": stream} if stream.startswith("arn:") else {"StreamName": stream}
    report = ProduceReport()
    for batch in _batches(_entries(records, partition_key_field, report)):
        _put_batch(client, target, batch, report, max_attempts, backoff_cap)
    return report


def _entries(records: Iterable[bytes], key_field: str | None, report: ProduceReport) -> Iterator[Entry]:
    for number, data in enumerate(records, start=1):
        key = _partition_key(data, key_field)
        if isinstance(key, Problem):
            report.skipped.append(Problem(number, key.reason))
            continue
        entry = Entry(number, data, key)
        if entry.size > MAX_RECORD_BYTES:
            report.skipped.append(Problem(number, f"record of {entry.size:,} bytes is over the 1 MiB Kinesis limit"))
            continue
        yield entry


def _partition_key(data: bytes, key_field: str | None) -> str | Problem:
    if key_field is None:
        return secrets.token_hex(16)
    try:
        value = json.loads(data)
    except ValueError:
        return Problem(0, f"not JSON, so it has no field '{key_field}' for the partition key")
    if not isinstance(value, dict) or value.get(key_field) is None:
        return Problem(0, f"no field '{key_field}' for the partition key")
    key = value[key_field]
    key = key if isinstance(key, str) else json.dumps(key)
    if not 1 <= len(key) <= MAX_PARTITION_KEY:
        return Problem(0, f"partition key from '{key_field}' must be 1 to 256 characters")
    return str(key)


def _batches(entries: Iterable[Entry]) -> Iterator[list[Entry]]:
    batch: list[Entry] = []
    size = 0
    for entry in entries:
        if batch and (len(batch) == MAX_RECORDS_PER_CALL or size + entry.size > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry.size
    if batch:
        yield batch


def _put_batch(
    client: Any,
    target: dict[str, str],
    batch: list[Entry],
    report: ProduceReport,
    max_attempts: int,
    backoff_cap: float,
) -> None:
    pending = batch
    backoff = Backoff(cap=backoff_cap)
    last_errors: dict[int, str] = {}
    for attempt in range(1, max_attempts + 1):
        if attempt > 1:
            report.retried_entries += len(pending)
            backoff.wait()
        report.calls += 1
        try:
            answer = client.put_records(
                **target, Records=[{"Data": e.data, "PartitionKey": e.partition_key} for e in pending]
            )
        except (ClientError, BotoCoreError) as exc:
            if not is_retryable(exc):
                raise SourceError(
                    f"PutRecords into '{next(iter(target.values()))}' failed: {error_code(exc)}: {exc}"
                ) from exc
            # The whole call failed (throttled, 5xx, timeout): all of it goes again.
            last_errors = {e.number: f"{error_code(exc)}" for e in pending}
            continue
        failed: list[Entry] = []
        for entry, result in zip(pending, answer["Records"], strict=True):
            if result.get("ErrorCode"):
                failed.append(entry)
                last_errors[entry.number] = f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}".strip()
        report.put += len(pending) - len(failed)
        pending = failed
        if not pending:
            return
    for entry in pending:
        report.failed.append(
            Problem(
                entry.number,
                f"not accepted after {max_attempts} attempts: {last_errors.get(entry.number, 'unknown error')}",
            )
        )


def read_lines(stream: Iterable[bytes]) -> Iterator[bytes]:
    """Records of an NDJSON input: one per non-empty line, without its line ending."""
    for line in stream:
        line = line.rstrip(b"\r\n")
        if line.strip():
            yield line
