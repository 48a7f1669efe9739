"""What a KDA application declares: its in-application streams and the pumps that fill them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowsql.engine.planner import FrontEndQuery
from flowsql.errors import Location
from flowsql.pipeline.model import Column, Pipeline
from flowsql.records import ARRIVAL_TIME

WINDOW_END = "window_end"


@dataclass(frozen=True)
class KdaStream:
    """`CREATE OR REPLACE STREAM "NAME" (cols)`; `rowtime` names the system column that holds
    its ROWTIME once a pump fills it (arrival_time, or window_end for windowed pumps)."""

    name: str
    columns: tuple[Column, ...]
    location: Location
    rowtime: str | None = None


@dataclass(frozen=True)
class PumpDecl(FrontEndQuery):
    """A pump translated into a flowsql query; `factory` builds a KDA-only operator (sliding,
    stagger, join, random cut forest) and `translation` says in words how the pump was translated."""

    pump: str = ""
    translation: str = ""

    def note(self) -> str:
        return f'kda pump "{self.pump}": {self.translation}'


@dataclass
class KdaApplication:
    """The KDA statements met so far in one pipeline file."""

    streams: dict[str, KdaStream] = field(default_factory=dict)
    pumps: dict[str, Location] = field(default_factory=dict)
    filled: set[str] = field(default_factory=set)
    references: dict[str, Any] = field(default_factory=dict)
    upstream: dict[str, set[str]] = field(default_factory=dict)  # stream -> the streams its rows come from
    sink_pumps: dict[str, list[Any]] = field(default_factory=dict)  # sink-bound stream -> its pumps, untranslated

    def rowtime_of(self, pipeline: Pipeline, name: str) -> str | None:
        """The column holding ROWTIME in stream `name`, None when no pump fills it yet."""
        key = name.lower()
        if any(s.lower() == key for s in pipeline.sources):
            return ARRIVAL_TIME
        stream = self.streams.get(key)
        return stream.rowtime if stream else None


def application(pipeline: Pipeline) -> KdaApplication:
    """The pipeline's KDA application, created at its first KDA statement."""
    app = pipeline.extensions.get("kda")
    if app is None:
        app = pipeline.extensions["kda"] = KdaApplication()
    assert isinstance(app, KdaApplication)
    return app
