"""An iceberg sink's flushes on their way to the table: the mark that identifies a commit, and
flushes staged in the checkpoint's staging folder until the checkpoint listing them commits."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from flowsql.catalog.iceberg import CatalogChoice
from flowsql.checkpoint.state import table_from_bytes
from flowsql.errors import DeliveryError


@dataclass(frozen=True)
class CommitMark:
    """What identifies one flush in the table: run (a checkpoint lineage), epoch and sequence."""

    run: str
    epoch: int
    sequence: int

    def text(self) -> str:
        return f"{self.run}/{self.epoch}/{self.sequence}"

    @classmethod
    def parse(cls, text: str) -> CommitMark | None:
        parts = text.split("/")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        return cls(parts[0], int(parts[1]), int(parts[2]))

    def covered_by(self, other: CommitMark | None) -> bool:
        return (
            other is not None and other.run == self.run and (other.epoch, other.sequence) >= (self.epoch, self.sequence)
        )


@dataclass
class StagedFlush:
    """One flush's rows and error records: in memory, or staged files read when committing."""

    rows_path: str = ""
    errors_path: str = ""
    rows: pa.Table | None = None
    error_data: bytes = b""

    def load_rows(self, sink: str) -> pa.Table | None:
        if self.rows is None and self.rows_path:
            self.rows = table_from_bytes(_read_staged(self.rows_path, sink))
        return self.rows

    def load_errors(self, sink: str) -> bytes:
        if not self.error_data and self.errors_path:
            self.error_data = _read_staged(self.errors_path, sink)
        return self.error_data


def _read_staged(path: str, sink: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DeliveryError(
            f"sink '{sink}': the staged flush {path} is gone and the table does not hold it; "
            "the checkpoint's staging folder was changed by hand"
        ) from None


class IcebergStaging:
    """Staged flushes as files in the checkpoint's staging folder (the coordinator's contract)."""

    def __init__(self, catalog: CatalogChoice, identifier: str) -> None:
        self.catalog = catalog
        self.identifier = identifier
        self.folder: Path | None = None

    def use_staging(self, folder: Path, pipeline: str) -> None:
        self.folder = folder

    def stage(self, name: str, data: bytes) -> str:
        if self.folder is None:
            raise DeliveryError("staging needs a checkpoint state folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / name
        temporary = path.with_suffix(".tmp")
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
        return str(path)

    def discard_staged(self, keep: set[str]) -> int:
        if self.folder is None or not self.folder.exists():
            return 0
        removed = 0
        for path in self.folder.iterdir():
            if str(path) not in keep:
                path.unlink()
                removed += 1
        return removed

    def describe(self) -> str:
        return f"iceberg table {self.identifier} in the {self.catalog.describe()}"
