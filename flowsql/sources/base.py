"""What every source is: a reader of one stream that yields decoded batches with positions."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from flowsql.options import choice, duration
from flowsql.pipeline.model import SourceDecl
from flowsql.records import SourceBatch


@dataclass(frozen=True)
class SourceOptions:
    """Options every source takes; connectors subclass this with their own."""

    connector: str = ""
    format: str = choice("json", "ndjson")
    allowed_lateness: float = duration(0.0)


class Source(ABC):
    """Reads one stream. `read` runs in a thread of its own and yields batches until the
    stream ends (bounded sources) or `stop` is set."""

    options_class: ClassVar[type[SourceOptions]] = SourceOptions
    schema: pa.Schema  # the decoded rows' columns, without arrival_time
    stop_when_caught_up: bool = False  # `run --until-caught-up`: end `read` once nothing is left

    def __init__(self, decl: SourceDecl, options: SourceOptions) -> None:
        self.decl = decl
        self.name = decl.name
        self.options = options

    @property
    @abstractmethod
    def bounded(self) -> bool:
        """True when the stream has an end (a file read once, a counted generator)."""

    @property
    def live(self) -> bool:
        """True when arrival time follows the wall clock, so it moves on while nothing arrives."""
        return not self.bounded

    @abstractmethod
    def read(self, stop: threading.Event) -> Iterator[SourceBatch]:
        """Yield decoded batches until the end of the stream or until `stop` is set."""

    def lag(self) -> dict[str, int]:
        """How far behind the newest record each part of the stream is, in milliseconds."""
        return {}

    def seek(self, position: dict[str, Any]) -> None:
        """Resume after `position`, a value this source put in a batch it yielded before."""
        raise ValueError(f"source '{self.name}' cannot resume from a position")
