"""What a sink promises the checkpoint protocol: its state survives a restart
(`CheckpointedSink`), and its objects can wait staged until the checkpoint that lists them
commits (`TransactionalSink`: stage, commit, discard). The coordinator picks sinks by these."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pyarrow as pa


class CheckpointedSink(ABC):
    """A sink whose counters and unflushed rows travel in checkpoints, so a replay names its
    output (objects, request ids) as before."""

    name: str

    @abstractmethod
    def snapshot(self) -> tuple[dict[str, Any], pa.Table | None]:
        """Its state as JSON-able data, and its unflushed rows."""

    @abstractmethod
    def restore(self, data: dict[str, Any], rows: pa.Table | None) -> None:
        """Take back what `snapshot` gave, in a new sink of the same pipeline."""


class TransactionalSink(CheckpointedSink):
    """A sink whose flushes stage their output while checkpoints are on: `staged` lists what the
    next checkpoint must commit; after it committed, `promote_staged` makes it visible."""

    staged: list[dict[str, str]]

    @abstractmethod
    def begin_staging(self, folder: Path, pipeline: str) -> None:
        """From now on flushes stage (under `folder` where the destination needs a place)."""

    @abstractmethod
    def promote_staged(self) -> None:
        """The checkpoint listing `staged` has committed: make it visible."""

    @abstractmethod
    def promote(self, item: dict[str, str]) -> None:
        """Make one staged item visible (recovery finishes the commit of the last checkpoint)."""

    @abstractmethod
    def discard_staged(self) -> None:
        """Drop staged output no checkpoint names (left by a crash or a late retry)."""
