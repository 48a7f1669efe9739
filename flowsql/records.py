"""The units that travel between a source, the decoder and the engine."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from flowsql.row_origins import RowOrigins

ARRIVAL_TIME = "arrival_time"
"""System column on every source: when the record arrived (Kinesis ApproximateArrivalTimestamp,
or the time flowsql read it). Pipelines without a watermark window on it."""


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be used, kept whole with the reason, for the error output."""

    source: str
    error_code: str  # Firehose's vocabulary: format-conversion-failed, late, ...
    message: str
    raw: bytes
    position: str
    arrival_time: datetime = field(default_factory=lambda: datetime.now(UTC))
    attempts: int = 1  # tries behind the failure (a transformation handler's invocations)

    def to_json(self) -> dict[str, Any]:
        document = {
            "errorCode": self.error_code,
            "errorMessage": self.message,
            "source": self.source,
            "position": self.position,
            "arrivalTimestamp": int(self.arrival_time.timestamp() * 1000),
            "rawData": base64.b64encode(self.raw).decode("ascii"),
        }
        if self.attempts != 1:
            document["attemptsMade"] = self.attempts
        return document


def bad_record_from_json(data: dict[str, Any]) -> BadRecord:
    """The inverse of BadRecord.to_json (records waiting in a sink travel through checkpoints)."""
    return BadRecord(
        source=data["source"],
        error_code=data["errorCode"],
        message=data["errorMessage"],
        raw=base64.b64decode(data["rawData"]),
        position=data["position"],
        arrival_time=datetime.fromtimestamp(data["arrivalTimestamp"] / 1000, UTC),
        attempts=int(data.get("attemptsMade", 1)),
    )


def late_records(source: str, rows: pa.Table, window_note: str) -> list[BadRecord]:
    """Rows behind the watermark, as error records holding their data as JSON."""
    out = []
    for row in rows.to_pylist():
        raw = json.dumps(row, default=str, separators=(",", ":")).encode()
        out.append(BadRecord(source, "late", window_note, raw, position=""))
    return out


@dataclass
class SourceBatch:
    """Decoded rows of one source, the bad records met decoding them, and the position after."""

    source: str
    table: pa.Table
    errors: list[BadRecord]
    position: dict[str, Any]
    raw_bytes: int = 0
    # How far the source's time has come after this batch, per time column it tracks by
    # partition (microseconds; the least over its active partitions, None while one has shown no
    # time). A column left out, or no progress at all: the batch's own latest time says it.
    progress: dict[str, int | None] | None = None
    # Where each row came from (its record's bytes and position), for the error output.
    origins: RowOrigins | None = None
