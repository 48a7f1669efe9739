"""Firehose data transformation: a sink's rows wait in their own buffer, go to the user's
handler as the event Firehose sends a Lambda function, and the answer is held to Firehose's
response contract: `Ok` records go on, `Dropped` ones are counted, the rest become
`processing-failed` error records holding the original bytes.

Handlers are assumed deterministic (the same records in give the same answer): a restart
after a crash sends the records after the last checkpoint again, with the same record ids.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from flowsql.delivery.encoders import encode_json_lines
from flowsql.delivery.handler import Handler, LambdaContext, stable_uuid
from flowsql.delivery.transform_rows import OkRecord, PendingRecord, TransformedRows
from flowsql.errors import UsageError
from flowsql.records import BadRecord

log = logging.getLogger("flowsql")

# Lambda's limit for a synchronous invocation's payload: a handler written for Firehose never saw
# a larger batch, so none is built here either.
MAX_BUFFER_SIZE = 6 * 1000**2
ACCOUNT = "000000000000"  # there is no AWS account behind a local run; ARNs carry this placeholder
PROCESSING_FAILED = "processing-failed"


class ContractError(ValueError):
    """An answer that breaks the response contract as a whole (ids missing, unknown or twice)."""


@dataclass
class Outcome:
    """What one round of invocations gave: rows for the delivery buffer and what did not go on."""

    table: pa.Table
    failed: list[BadRecord] = field(default_factory=list)
    dropped: int = 0
    invocations: int = 0


@dataclass(frozen=True)
class TransformSettings:
    sink: str
    pipeline: str
    spec: str  # as written in the option
    where: str  # the file and function it resolved to
    size_limit: int
    interval: float
    retries: int
    timeout: float
    time_column: str  # of the query's rows: their approximateArrivalTimestamp


class TransformStage:
    """The rows waiting for the handler, and the invocations that take them."""

    def __init__(self, handler: Handler, settings: TransformSettings, rows: TransformedRows) -> None:
        self.handler = handler
        self.settings = settings
        self.rows = rows
        self.region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.function_name = f"{settings.pipeline}-{settings.sink}-transform"
        self.stream_arn = f"arn:aws:firehose:{self.region}:{ACCOUNT}:deliverystream/{settings.pipeline}-{settings.sink}"
        self.pending: list[PendingRecord] = []
        self.bytes = 0
        self.opened_at: float | None = None
        self.records_in = 0  # rows that entered the stage so far: the next record's id
        self._con = duckdb.connect()

    # -- buffering ---------------------------------------------------------------------------
    def add(self, table: pa.Table, now: float) -> None:
        """The rows as Firehose would hold them: one JSON document each, with an arrival time."""
        if table.num_rows == 0:
            return
        lines = encode_json_lines(self._con, table).split(b"\n")[: table.num_rows]
        arrivals = self._arrival_millis(table)
        for line, arrival in zip(lines, arrivals, strict=True):
            self.pending.append(PendingRecord(f"{self.records_in:020d}", line, arrival))
            self.records_in += 1
            self.bytes += len(line)
        if self.opened_at is None:
            self.opened_at = now

    def _arrival_millis(self, table: pa.Table) -> list[int]:
        wall = int(time.time() * 1000)
        column = self.settings.time_column
        if not column:
            return [wall] * table.num_rows
        times = table.column(column)
        if times.type.tz is not None:
            times = times.cast(pa.timestamp(times.type.unit))
        millis = pc.cast(pc.cast(times, pa.timestamp("ms")), pa.int64()).to_pylist()
        return [wall if m is None else m for m in millis]

    def due(self, now: float) -> bool:
        if self.opened_at is None:
            return False
        return self.bytes >= self.settings.size_limit or now - self.opened_at >= self.settings.interval

    # -- invoking ----------------------------------------------------------------------------
    def run(self) -> Outcome:
        """Everything waiting goes to the handler, in invocations of at most the buffer size."""
        outcome = Outcome(self.rows.schema.empty_table())
        answered: list[OkRecord] = []
        for batch in self._batches():
            ok, failed, dropped = self._invoke(batch)
            answered += ok
            outcome.failed += failed
            outcome.dropped += dropped
            outcome.invocations += 1
        self.pending, self.bytes, self.opened_at = [], 0, None
        outcome.table, unusable = self.rows.table(answered)
        outcome.failed += unusable
        return outcome

    def _batches(self) -> list[list[PendingRecord]]:
        batches: list[list[PendingRecord]] = []
        size = 0
        for record in self.pending:
            if not batches or (size + len(record.data) > self.settings.size_limit and batches[-1]):
                batches.append([])
                size = 0
            batches[-1].append(record)
            size += len(record.data)
        return batches

    def _invoke(self, batch: list[PendingRecord]) -> tuple[list[OkRecord], list[BadRecord], int]:
        """One invocation, retried as Firehose retries a failed one; then judged record by record."""
        invocation_id = stable_uuid(self.settings.pipeline, self.settings.sink, batch[0].record_id, len(batch))
        attempts = 0
        while True:
            attempts += 1
            context = LambdaContext(
                self.function_name, self.region, ACCOUNT, stable_uuid(invocation_id, attempts), self.settings.timeout
            )
            try:
                # A handler's print() goes to the log (stderr), as on Lambda it goes to CloudWatch Logs:
                # never into output a stdout sink or a summary writes.
                with contextlib.redirect_stdout(sys.stderr):
                    answer = self.handler(self._event(invocation_id, batch), context)
                answers = check_answer(answer, batch)
                break
            except Exception as exc:  # noqa: BLE001 - the handler is user code: any exception fails the invocation
                reason = (
                    f"the answer breaks the response contract: {exc}"
                    if isinstance(exc, ContractError)
                    else f"the handler raised {type(exc).__name__}: {exc}"
                )
                if attempts > self.settings.retries:
                    log.warning(
                        "sink '%s': transformation handler %s failed %d times on %d records (%s); they go "
                        "to the error output as %s",
                        self.settings.sink,
                        self.settings.spec,
                        attempts,
                        len(batch),
                        reason,
                        PROCESSING_FAILED,
                        extra={"event": "transform_failure", "sink": self.settings.sink},
                    )
                    return [], [self._failed(r, reason, attempts) for r in batch], 0
        ok: list[OkRecord] = []
        failed: list[BadRecord] = []
        dropped = 0
        for record in batch:
            verdict = judge(record, answers[record.record_id])
            if isinstance(verdict, OkRecord):
                ok.append(verdict)
            elif verdict is None:
                dropped += 1
            else:
                failed.append(self._failed(record, verdict, attempts))
        return ok, failed, dropped

    def _event(self, invocation_id: str, batch: list[PendingRecord]) -> dict[str, Any]:
        # Built afresh for every attempt: handlers often edit the records they were given.
        return {
            "invocationId": invocation_id,
            "deliveryStreamArn": self.stream_arn,
            "region": self.region,
            "records": [
                {
                    "recordId": r.record_id,
                    "approximateArrivalTimestamp": r.arrival_ms,
                    "data": base64.b64encode(r.data).decode("ascii"),
                }
                for r in batch
            ],
        }

    def _failed(self, record: PendingRecord, reason: str, attempts: int) -> BadRecord:
        return BadRecord(
            self.settings.sink,
            PROCESSING_FAILED,
            f"{self.settings.spec}: {reason}",
            record.data,
            f"recordId {record.record_id}",
            _when(record.arrival_ms),
            attempts,
        )

    # -- checkpoints -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "handler": self.settings.spec,
            "output": self.rows.describe(),
            "records_in": self.records_in,
            "pending": [[r.record_id, base64.b64encode(r.data).decode("ascii"), r.arrival_ms] for r in self.pending],
        }

    def restore(self, data: dict[str, Any], now: float) -> None:
        if data.get("output") != self.rows.describe():
            # Rows in the delivery buffer were shaped for the other output; they would not fit.
            raise UsageError(
                f"sink '{self.settings.sink}': the checkpoint was written with another transformation "
                f"output ({data.get('output')}); run with --reset to start over"
            )
        self.records_in = int(data["records_in"])
        self.pending = [PendingRecord(rid, base64.b64decode(text), int(ms)) for rid, text, ms in data["pending"]]
        self.bytes = sum(len(r.data) for r in self.pending)
        self.opened_at = now if self.pending else None

    def describe(self) -> str:
        s = self.settings
        return (
            f"{s.where} called as Firehose calls a transformation Lambda; batches of up to {s.size_limit:,} "
            f"bytes or {s.interval:g} s, {s.retries} retries of a failed invocation; {self.rows.describe()}"
        )


def check_answer(answer: Any, batch: list[PendingRecord]) -> dict[str, dict[str, Any]]:
    """Each record id of the event answered exactly once, or a ContractError saying how not."""
    if not isinstance(answer, dict) or not isinstance(answer.get("records"), list):
        raise ContractError(f"a handler returns {{'records': [...]}}, not {_short(answer)}")
    expected = {r.record_id for r in batch}
    answers: dict[str, dict[str, Any]] = {}
    for item in answer["records"]:
        record_id = item.get("recordId") if isinstance(item, dict) else None
        if not isinstance(record_id, str):
            raise ContractError(f"every answered record needs a recordId: {_short(item)}")
        if record_id not in expected:
            raise ContractError(f"recordId {record_id!r} was not in the event")
        if record_id in answers:
            raise ContractError(f"recordId {record_id!r} is answered twice")
        answers[record_id] = item
    if len(answers) < len(batch):
        missing = [r.record_id for r in batch if r.record_id not in answers]
        raise ContractError(f"{len(missing)} of {len(batch)} records are not answered (first: {missing[0]})")
    return answers


def judge(record: PendingRecord, answer: dict[str, Any]) -> OkRecord | str | None:
    """An Ok record to deliver, None for Dropped, or why the record failed."""
    result = answer.get("result")
    if result == "Dropped":
        return None
    if result == "ProcessingFailed":
        return "the handler answered ProcessingFailed"
    if result != "Ok":
        return f"result {_short(result)} is not Ok, Dropped or ProcessingFailed"
    data = answer.get("data")
    if not isinstance(data, str):
        return "an Ok record needs data: the transformed record in base64"
    try:
        decoded = base64.b64decode(data, validate=True)
    except ValueError:
        return "data is not base64"
    metadata = answer.get("metadata") or {}
    keys = metadata.get("partitionKeys") or {} if isinstance(metadata, dict) else None
    if not isinstance(keys, dict):
        return "metadata must be {'partitionKeys': {'key': 'value', ...}}"
    partition_keys: dict[str, str] = {}
    for key, value in keys.items():
        if isinstance(value, str):
            partition_keys[str(key)] = value
        elif isinstance(value, (int, float, bool)):
            partition_keys[str(key)] = json.dumps(value)
        else:
            return f"partition key {key!r} must be text, not {_short(value)}"
    return OkRecord(record, decoded, partition_keys)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _when(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)
