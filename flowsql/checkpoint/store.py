"""Checkpoint stores: load the last committed checkpoint, commit a new one atomically.

The local store keeps each epoch in its own folder and commits by renaming a small `CURRENT`
file that names the epoch: a rename is atomic, so a reader sees the old checkpoint or the new
one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Protocol

from flowsql.checkpoint.state import CheckpointState, table_from_bytes, table_to_bytes
from flowsql.errors import UsageError


class CheckpointStore(Protocol):
    def load(self) -> CheckpointState | None: ...
    def commit(self, state: CheckpointState) -> None: ...
    def reset(self) -> None: ...
    def staging_dir(self) -> Path: ...
    def describe(self) -> str: ...
    def close(self) -> None: ...


class LocalCheckpointStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def describe(self) -> str:
        return str(self.folder)

    def staging_dir(self) -> Path:
        return self.folder / "staging"

    def load(self) -> CheckpointState | None:
        current = self.folder / "CURRENT"
        if not current.exists():
            return None
        epoch_dir = self.folder / current.read_text().strip()
        data = json.loads((epoch_dir / "state.json").read_text())
        tables = {name: table_from_bytes((epoch_dir / f"{name}.arrow").read_bytes()) for name in data["tables"]}
        return CheckpointState.from_json(data, tables)

    def commit(self, state: CheckpointState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{state.epoch:09d}"
        epoch_dir = self.folder / name
        if epoch_dir.exists():
            shutil.rmtree(epoch_dir)
        epoch_dir.mkdir()
        for table_name, table in state.tables.items():
            _write_synced(epoch_dir / f"{table_name}.arrow", table_to_bytes(table))
        _write_synced(epoch_dir / "state.json", json.dumps(state.to_json(), indent=1).encode())
        _write_synced(self.folder / "CURRENT.tmp", name.encode())
        os.replace(self.folder / "CURRENT.tmp", self.folder / "CURRENT")
        _sync_dir(self.folder)
        for old in self.folder.glob("epoch-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)

    def reset(self) -> None:
        if self.folder.exists():
            shutil.rmtree(self.folder)

    def close(self) -> None:
        return None


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _sync_dir(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def open_store(spec: str | None, pipeline_path: Path, state_dir: Path | None) -> CheckpointStore:
    """The store a pipeline asks for: `dynamodb://table` or a local folder (the default:
    `<state_dir or the pipeline's folder>/<pipeline name>.flowsql-state`)."""
    if spec and spec.startswith("dynamodb://"):
        from flowsql.checkpoint.dynamodb import DynamoDBCheckpointStore

        local = (state_dir or pipeline_path.parent) / f"{pipeline_path.stem}.flowsql-state"
        return DynamoDBCheckpointStore(spec.removeprefix("dynamodb://"), pipeline_path.stem, local)
    if spec and not spec.startswith("file://") and "://" in spec:
        raise UsageError(f"unknown checkpoint store {spec!r}: use dynamodb://TABLE or a folder")
    if spec:
        return LocalCheckpointStore(Path(spec.removeprefix("file://")))
    base = state_dir or pipeline_path.parent
    return LocalCheckpointStore(base / f"{pipeline_path.stem}.flowsql-state")
