"""The error output every sink shares: bad records grouped by error type, one object per group,
named from the pipeline, the sink, the records' time and a tag fixed by their position, and
encoded as Firehose writes error records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flowsql.delivery.prefix import Prefix, sanitise_value
from flowsql.records import BadRecord

CONTENT_TYPE = "application/x-ndjson"


@dataclass(frozen=True)
class ErrorObject:
    """One object of the error output, ready for a sink to write (or stage)."""

    key: str
    data: bytes
    records: int


class ErrorOutput:
    """Names and encodes a sink's error objects under its `error_output_prefix`."""

    def __init__(self, prefix: Prefix, pipeline_name: str, sink_name: str) -> None:
        self.prefix = prefix
        self.pipeline_name = pipeline_name
        self.sink_name = sink_name

    def objects(self, records: list[BadRecord], position: int, ended: datetime) -> list[ErrorObject]:
        """One object per error type, in type order. `position` is where the records start in
        the sink's error output: with the type in the tag, a replay of the same records writes the
        same names, and two types never share one under a literal prefix."""
        return [
            self.object(group, error_type, f"{position:012d}-{error_type}", ended)
            for error_type, group in by_error_type(records)
        ]

    def object(
        self, records: list[BadRecord], error_type: str, tag: str, ended: datetime, attempts: int = 1
    ) -> ErrorObject:
        """The object of `records` (all of `error_type`), named by their oldest arrival time and `tag`."""
        when = min(r.arrival_time for r in records)
        stamp = when.astimezone(UTC).strftime("%Y-%m-%d-%H-%M-%S")
        name = f"{sanitise_value(self.pipeline_name)}-{self.sink_name}-{stamp}-{sanitise_value(tag)}.json"
        key = self.prefix.render(when, error_type=error_type, seed=name) + name
        return ErrorObject(key, encode_error_records(records, ended, attempts), len(records))


def by_error_type(records: list[BadRecord]) -> list[tuple[str, list[BadRecord]]]:
    """The records grouped by error code, codes in sorted order, records in their own order."""
    groups: dict[str, list[BadRecord]] = {}
    for record in records:
        groups.setdefault(record.error_code, []).append(record)
    return sorted(groups.items())


def encode_error_records(records: list[BadRecord], wall: datetime, attempts: int = 1) -> bytes:
    """Error output as Firehose writes it: one JSON document a line with the raw data in base64,
    the error code and message, the attempts made and when the last one ended."""
    ended = int(wall.timestamp() * 1000)
    lines = []
    for record in records:
        document = {"attemptsMade": attempts, **record.to_json(), "attemptEndingTimestamp": ended}
        lines.append(json.dumps(document, separators=(",", ":")) + "\n")
    return "".join(lines).encode()
