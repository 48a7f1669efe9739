"""What a sink with a transformation handler does the same way whatever it delivers to: rows
wait in the handler's buffer, go to it when that buffer is due (or at a flush), and what comes
back fills the sink's own delivery buffer; the waiting records are part of its checkpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from flowsql.delivery.buffer import BufferedDelivery, DeliveryBuffer
from flowsql.delivery.transform_rows import RAW_DATA
from flowsql.errors import UsageError
from flowsql.records import BadRecord

if TYPE_CHECKING:
    from flowsql.delivery.sink import SinkStats
    from flowsql.delivery.transform import TransformStage


class TransformingDelivery:
    """Mixed into a sink that sets `transform` (None: rows go straight to `buffer`)."""

    name: str
    buffer: DeliveryBuffer
    stats: SinkStats
    transform: TransformStage | None = None
    add_errors: Callable[[list[BadRecord]], None]  # the sink's own: where failed records go

    def has_transform(self) -> bool:
        return self.transform is not None

    def add(self, table: pa.Table, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.transform is None:
            self.buffer.add(table, now)
        else:
            self.transform.add(table, now)

    def transform_if_due(self, now: float) -> None:
        """The runner asks a sink between micro-batches whether it is due; the handler's own
        buffer is served from there."""
        if self.transform is not None and self.transform.due(now):
            self.run_transform(now)

    def transform_pending(self) -> None:
        """Before a flush: records still waiting for the handler go to it first."""
        if self.transform is not None and self.transform.pending:
            self.run_transform(time.monotonic())

    def run_transform(self, now: float) -> None:
        assert self.transform is not None
        outcome = self.transform.run()
        self.stats.dropped += outcome.dropped
        self.stats.invocations += outcome.invocations
        self.add_errors(outcome.failed)
        self.buffer.add(outcome.table, now)

    def use_transform(self, stage: TransformStage) -> None:
        self.transform = stage

    def output_records(self, table: pa.Table, encode: Callable[[pa.Table], list[bytes]]) -> list[bytes]:
        """The records a flush delivers, one per row: the handler's own bytes when it gives
        records as they are, else the rows (without the columns that never reach the output)."""
        if self.transform is None:
            return encode(table)
        if self.transform.rows.raw:
            return [bytes(data) for data in table.column(RAW_DATA).to_pylist()]
        return encode(table.drop_columns(list(self.transform.rows.hidden)))

    def transform_lines(self) -> list[str]:
        return [f"transform: {self.transform.describe()}"] if self.transform is not None else []

    def snapshot_transform(self, data: dict[str, Any]) -> None:
        if self.transform is not None:
            data["transform"] = self.transform.snapshot()

    def restore_transform(self, data: dict[str, Any]) -> None:
        if (self.transform is None) != ("transform" not in data):
            raise UsageError(
                f"sink '{self.name}': the checkpoint was written "
                f"{'without' if self.transform else 'with'} a transformation handler; "
                "run with --reset to start over"
            )
        if self.transform is not None:
            self.transform.restore(data["transform"], time.monotonic())


class TransformingBufferedDelivery(TransformingDelivery, BufferedDelivery):
    """A buffered sink with a transformation handler: the handler's buffer is served when the
    runner asks whether the sink is due, and its waiting records go into the sink's checkpoint."""

    def due(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.transform_if_due(now)
        return super().due(now)

    def snapshot(self) -> tuple[dict[str, Any], pa.Table | None]:
        data, rows = super().snapshot()
        self.snapshot_transform(data)
        return data, rows

    def restore(self, data: dict[str, Any], rows: pa.Table | None) -> None:
        self.restore_transform(data)
        super().restore(data, rows)
