"""What a transformation handler's `Ok` records become in the sink's delivery buffer: the
records' bytes as they are (a JSON sink without `transform_schema`), or rows parsed from
their JSON against the output columns. Each row also carries the record's arrival time and
the partition keys the handler returned, in columns that never reach an object."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from flowsql.decode import NdjsonDecoder
from flowsql.delivery.prefix import lambda_key_column
from flowsql.pipeline.model import Column
from flowsql.records import ARRIVAL_TIME, BadRecord

RAW_DATA = "data"
ARRIVAL_COLUMN = "!{approximateArrivalTimestamp}"  # named so no output column can clash with it
PARTITIONING_FAILED = "partitioning-failed"
FORMAT_CONVERSION_FAILED = "format-conversion-failed"


@dataclass(frozen=True)
class PendingRecord:
    """A row waiting for the handler: its record id, its JSON bytes and its arrival (epoch ms)."""

    record_id: str
    data: bytes
    arrival_ms: int


@dataclass(frozen=True)
class OkRecord:
    """A record the handler answered Ok: its new bytes and partition keys."""

    source: PendingRecord
    data: bytes
    partition_keys: dict[str, str]


class TransformedRows:
    """Builds delivery-buffer rows from Ok records for one sink."""

    def __init__(self, sink: str, columns: tuple[Column, ...] | None, lambda_keys: tuple[str, ...]) -> None:
        self.sink = sink
        self.columns = columns
        self.lambda_keys = lambda_keys
        self.decoder = NdjsonDecoder(sink, columns) if columns is not None else None
        data_fields = [pa.field(RAW_DATA, pa.binary())] if self.decoder is None else list(self.decoder.schema)
        self.data_schema = pa.schema(data_fields)
        self.hidden = (ARRIVAL_COLUMN, *(lambda_key_column(k) for k in lambda_keys))
        self.schema = pa.schema(
            data_fields
            + [pa.field(ARRIVAL_COLUMN, pa.timestamp("ms"))]
            + [pa.field(lambda_key_column(k), pa.string()) for k in lambda_keys]
        )

    @property
    def raw(self) -> bool:
        return self.decoder is None

    def describe(self) -> str:
        if self.columns is None:
            return "output: the handler's records as they are"
        return "output columns: " + ", ".join(f"{c.name} {c.sql_type}" for c in self.columns)

    def table(self, records: list[OkRecord]) -> tuple[pa.Table, list[BadRecord]]:
        """Rows of the usable records; the others as error records holding the transformed bytes."""
        keyed: list[OkRecord] = []
        bad: list[BadRecord] = []
        for record in records:
            missing = [k for k in self.lambda_keys if k not in record.partition_keys]
            if missing:
                bad.append(
                    self._bad(
                        record,
                        PARTITIONING_FAILED,
                        f"the handler returned no partition key {missing[0]!r} (metadata.partitionKeys)",
                    )
                )
            else:
                keyed.append(record)
        if self.decoder is None:
            data = pa.array([r.data for r in keyed], pa.binary())
            return self._with_hidden(pa.table([data], schema=self.data_schema), keyed), bad
        table, good = self._parse(keyed, bad)
        return self._with_hidden(table, good), sorted(bad, key=lambda b: b.position)

    def _parse(self, records: list[OkRecord], bad: list[BadRecord]) -> tuple[pa.Table, list[OkRecord]]:
        assert self.decoder is not None
        lines: list[bytes] = []
        kept: list[OkRecord] = []
        for record in records:
            line = _one_line(record.data)
            if line is None:
                bad.append(self._bad(record, FORMAT_CONVERSION_FAILED, "the transformed record is not one JSON object"))
            else:
                lines.append(line)
                kept.append(record)
        if not kept:
            return self.data_schema.empty_table(), []
        offsets, at = {}, 0
        for index, line in enumerate(lines):
            offsets[at] = index
            at += len(line) + 1
        table, failed = self.decoder.decode(b"\n".join(lines), "transformed", 0, datetime.now(UTC))
        rejected = set()
        for failure in failed:
            index = offsets[int(failure.position.rsplit("@", 1)[1])]
            rejected.add(index)
            bad.append(self._bad(kept[index], FORMAT_CONVERSION_FAILED, failure.message))
        if ARRIVAL_TIME not in self.data_schema.names:
            table = table.drop_columns([ARRIVAL_TIME])
        return table, [r for i, r in enumerate(kept) if i not in rejected]

    def _with_hidden(self, table: pa.Table, records: list[OkRecord]) -> pa.Table:
        arrivals = pa.array([r.source.arrival_ms for r in records], pa.int64()).cast(pa.timestamp("ms"))
        table = table.append_column(self.schema.field(ARRIVAL_COLUMN), arrivals)
        for key in self.lambda_keys:
            column = lambda_key_column(key)
            table = table.append_column(
                self.schema.field(column), pa.array([r.partition_keys[key] for r in records], pa.string())
            )
        return table

    def _bad(self, record: OkRecord, code: str, message: str) -> BadRecord:
        arrival = datetime.fromtimestamp(record.source.arrival_ms / 1000, UTC)
        return BadRecord(self.sink, code, message, record.data, f"recordId {record.source.record_id}", arrival)


def _one_line(data: bytes) -> bytes | None:
    """The record as one NDJSON line: most handlers end a record with a newline, some
    pretty-print; a record that is not one JSON object is None."""
    line = data.strip()
    if not line or line == b"null":
        return None
    if b"\n" not in line and b"\r" not in line:
        return line
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return json.dumps(value, separators=(",", ":")).encode() if isinstance(value, dict) else None
