"""Kinesis records of one GetRecords answer into Arrow rows, each with its own arrival time.

Aggregated (KPL) records are split into their user records first; a corrupt aggregate, a
record that does not decode and one whose event time cannot be true go to the error output with
the shard and sequence number.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from flowsql.decode import RecordDecoder
from flowsql.records import ARRIVAL_TIME, BadRecord
from flowsql.sources.event_time import TimeBounds
from flowsql.sources.kpl import AggregateError, deaggregate, is_aggregated

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class UserRow:
    """One record to decode: its bytes, where it came from, and when Kinesis took it."""

    data: bytes
    position: str  # shard/sequence[#index within an aggregate]
    arrival: datetime

    @property
    def shard(self) -> str:
        return self.position.split("/", 1)[0]


class DecodedRows(NamedTuple):
    """The good rows as a table, the records that went wrong, and the user record of each row."""

    table: pa.Table
    errors: list[BadRecord]
    rows: list[UserRow]


def user_rows(source: str, shard: str, records: list[dict[str, Any]]) -> tuple[list[UserRow], list[BadRecord]]:
    """Flatten raw Kinesis records (aggregated or not) into user records."""
    rows: list[UserRow] = []
    bad: list[BadRecord] = []
    for record in records:
        data: bytes = record["Data"]
        arrival = _aware(record.get("ApproximateArrivalTimestamp"))
        where = f"{shard}/{record['SequenceNumber']}"
        if not is_aggregated(data):
            rows.append(UserRow(data, where, arrival))
            continue
        try:
            inner = deaggregate(data)
        except AggregateError as exc:
            bad.append(BadRecord(source, "deaggregation-failed", str(exc), data, where, arrival))
            continue
        rows.extend(UserRow(item.data, f"{where}#{index}", arrival) for index, item in enumerate(inner))
    return rows, bad


def decode_rows(decoder: RecordDecoder, rows: list[UserRow], bounds: TimeBounds | None = None) -> DecodedRows:
    """Decode user records as one NDJSON chunk; arrival_time is each record's own. With `bounds`,
    rows whose event time cannot be true (judged against their own arrival time) are errors."""
    table, bad, good = _decode_all(decoder, rows)
    if bounds is None or table.num_rows == 0:
        return DecodedRows(table, bad, good)
    mask, reasons = bounds.implausible(table)
    if not mask.any():
        return DecodedRows(table, bad, good)
    for reason, index in zip(reasons, np.flatnonzero(mask), strict=True):
        row = good[index]
        bad.append(BadRecord(decoder.source, "implausible-event-time", reason, row.data, row.position, row.arrival))
    kept = [row for row, implausible in zip(good, mask, strict=True) if not implausible]
    return DecodedRows(table.filter(pa.array(~mask)), bad, kept)


def _decode_all(decoder: RecordDecoder, rows: list[UserRow]) -> tuple[pa.Table, list[BadRecord], list[UserRow]]:
    lines: list[bytes] = []
    kept: list[UserRow] = []
    bad: list[BadRecord] = []
    for row in rows:
        line = decoder.one_record(row.data)
        if isinstance(line, str):
            bad.append(BadRecord(decoder.source, "format-conversion-failed", line, row.data, row.position, row.arrival))
            continue
        lines.append(line)
        kept.append(row)
    if not kept:
        return _with_arrivals(decoder.schema.empty_table(), []), bad, []
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    # Decoded with one placeholder arrival; each row's own is attached once the rows are known.
    table, errors = decoder.decode(b"\n".join(lines), "kinesis", 0, _EPOCH)
    if decoder.many_rows_per_record and table.num_rows + len(errors) != len(kept):
        # Some record held several rows (KDA's RecordRowDelimiter): decode record by record.
        return _decode_each(decoder, kept, lines, kept, bad)
    failed: set[int] = set()
    for error in errors:
        index = bisect.bisect_right(starts, int(error.position.rsplit("@", 1)[1])) - 1
        failed.add(index)
        row = kept[index]
        bad.append(BadRecord(error.source, error.error_code, error.message, row.data, row.position, row.arrival))
    good = [row for index, row in enumerate(kept) if index not in failed]
    if table.num_rows != len(good):
        # A record held more than one JSON value: decode one by one to find which.
        return _decode_each(decoder, good, lines, kept, bad)
    return _with_arrivals(table.drop_columns([ARRIVAL_TIME]), good), bad, good


def _decode_each(
    decoder: RecordDecoder, good: list[UserRow], lines: list[bytes], kept: list[UserRow], bad: list[BadRecord]
) -> tuple[pa.Table, list[BadRecord], list[UserRow]]:
    line_of = {id(row): line for row, line in zip(kept, lines, strict=True)}
    tables: list[pa.Table] = []
    taken: list[UserRow] = []
    for row in good:
        table, errors = decoder.decode(line_of[id(row)], "kinesis", 0, _EPOCH)
        if decoder.many_rows_per_record:
            bad.extend(
                BadRecord(
                    e.source,
                    e.error_code,
                    e.message,
                    e.raw,
                    f"{row.position}@{e.position.rsplit('@', 1)[1]}",
                    row.arrival,
                )
                for e in errors
            )
        elif table.num_rows != 1:
            bad.append(
                BadRecord(
                    decoder.source,
                    "format-conversion-failed",
                    "a record must hold exactly one JSON object",
                    row.data,
                    row.position,
                    row.arrival,
                )
            )
            continue
        tables.append(table.drop_columns([ARRIVAL_TIME]))
        taken.extend([row] * table.num_rows)
    table = pa.concat_tables(tables) if tables else decoder.schema.empty_table()
    return _with_arrivals(table, taken), bad, taken


def _with_arrivals(table: pa.Table, rows: list[UserRow]) -> pa.Table:
    micros = [_micros(row.arrival - _EPOCH) for row in rows]
    column = pa.array(micros, pa.int64()).cast(pa.timestamp("us"))
    return table.append_column(pa.field(ARRIVAL_TIME, pa.timestamp("us")), column)


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)
