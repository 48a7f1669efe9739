"""What one checkpoint holds, and how it is written as plain files (JSON plus Arrow IPC)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from pyarrow import ipc


@dataclass
class CheckpointState:
    epoch: int
    fingerprint: str
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)
    engine: dict[str, Any] = field(default_factory=dict)
    sinks: dict[str, dict[str, Any]] = field(default_factory=dict)
    promotions: list[dict[str, str]] = field(default_factory=list)  # {sink, staged, key}
    finished_sources: list[str] = field(default_factory=list)
    tables: dict[str, pa.Table] = field(default_factory=dict)  # named row sets the parts above refer to

    def to_json(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "fingerprint": self.fingerprint,
            "positions": self.positions,
            "engine": self.engine,
            "sinks": self.sinks,
            "promotions": self.promotions,
            "finished_sources": self.finished_sources,
            "tables": sorted(self.tables),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], tables: dict[str, pa.Table]) -> CheckpointState:
        return cls(
            epoch=int(data["epoch"]),
            fingerprint=str(data["fingerprint"]),
            positions=data["positions"],
            engine=data["engine"],
            sinks=data["sinks"],
            promotions=data["promotions"],
            finished_sources=list(data.get("finished_sources", [])),
            tables=tables,
        )

    def rows_held(self) -> int:
        return sum(t.num_rows for t in self.tables.values())


def table_to_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def table_from_bytes(data: bytes) -> pa.Table:
    return ipc.open_file(pa.BufferReader(data)).read_all()


def pipeline_fingerprint(parts: dict[str, Any]) -> str:
    """A hash of everything a checkpoint's meaning depends on (schemas, queries, windows)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def state_to_bytes(state: CheckpointState) -> bytes:
    """One checkpoint as a single zip blob (for stores that hold values, not folders)."""
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("state.json", json.dumps(state.to_json()))
        for name, table in state.tables.items():
            archive.writestr(f"{name}.arrow", table_to_bytes(table))
    return buffer.getvalue()


def state_from_bytes(data: bytes) -> CheckpointState:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        header = json.loads(archive.read("state.json"))
        tables = {name: table_from_bytes(archive.read(f"{name}.arrow")) for name in header["tables"]}
    return CheckpointState.from_json(header, tables)
