"""What a pipeline file declares: sources, sinks, views and the queries that feed sinks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

from flowsql.errors import Location
from flowsql.options import Option

if TYPE_CHECKING:
    from flowsql.pipeline.functions import UserFunction


@dataclass(frozen=True)
class Column:
    """A declared column: its name and DuckDB type, and for nested JSON the path it is read
    from (`MAPPING '$.data.price'`)."""

    name: str
    sql_type: str
    mapping: str | None = None


@dataclass(frozen=True)
class Watermark:
    """`WATERMARK FOR column AS column - INTERVAL ...`: event time with a bounded delay."""

    column: str
    delay_seconds: float


class _WithOptions:
    """A declaration's `WITH (...)` options, looked up by key as written (case-insensitive)."""

    options: tuple[Option, ...]

    def option(self, key: str) -> str | None:
        for opt in self.options:
            if opt.key.lower() == key:
                return str(opt.value)
        return None


@dataclass(frozen=True)
class SourceDecl(_WithOptions):
    name: str
    columns: tuple[Column, ...]
    watermark: Watermark | None
    options: tuple[Option, ...]
    location: Location


@dataclass(frozen=True)
class SinkDecl(_WithOptions):
    name: str
    options: tuple[Option, ...]
    location: Location


@dataclass(frozen=True)
class TableDecl(_WithOptions):
    """`CREATE TABLE name (cols, PRIMARY KEY (k)) WITH (...)`: the current state of a table kept
    from a change feed (CDC); `format` in the options names the change record format."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    watermark: Watermark | None
    options: tuple[Option, ...]
    location: Location


@dataclass(frozen=True)
class FunctionDecl:
    """`CREATE FUNCTION name[(types)] [RETURNS type] AS 'module:function' [WITH (vectorized = ...)]`:
    a Python scalar function; types left out come from the function's annotations."""

    name: str
    parameters: tuple[str, ...] | None
    returns: str | None
    target: str
    vectorized: bool | None  # None: vectorized when the arguments are annotated as Arrow arrays
    location: Location
    name_offset: int  # where the name and the target are written (errors point there)
    target_offset: int


@dataclass(frozen=True)
class EmitPolicy:
    """`EMIT EVERY INTERVAL ...` (a full snapshot each interval) or `EMIT CHANGES` (a changelog)."""

    kind: str  # "every" | "changes"
    interval_seconds: float = 0.0


@dataclass(frozen=True)
class QueryDecl:
    """`CREATE VIEW name AS <query>` or `INSERT INTO sink <query>`: `target` names the output."""

    target: str
    is_view: bool
    query: exp.Query
    location: Location
    text: str
    emit: EmitPolicy | None = None


@dataclass
class Pipeline:
    path: Path
    name: str
    text: str
    sources: dict[str, SourceDecl] = field(default_factory=dict)
    sinks: dict[str, SinkDecl] = field(default_factory=dict)
    views: dict[str, QueryDecl] = field(default_factory=dict)
    tables: dict[str, TableDecl] = field(default_factory=dict)
    inserts: list[QueryDecl] = field(default_factory=list)
    settings: list[Option] = field(default_factory=list)  # SET key = value; (pipeline-wide)
    functions: dict[str, UserFunction] = field(default_factory=dict)  # CREATE FUNCTION, by lower-case name
    extensions: dict[str, object] = field(default_factory=dict)  # state of other SQL dialects (kda)
    unparsed: set[str] = field(default_factory=set)  # lower-case names whose statements did not parse

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""
