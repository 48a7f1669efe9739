"""Where front ends plug into the core, as dialects do in sqlglot: a front end reads statements
of its own (KDA's streams and pumps), a table kind keeps a table's state for the engine (CDC).

The core looks them up here and never imports them; the built-in ones are imported by module
name on the first lookup, and register themselves as they load.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from sqlglot.tokens import Token

    from flowsql.engine.planner import OperatorPlan, StreamInfo
    from flowsql.pipeline.model import EmitPolicy, Pipeline, TableDecl

# Imported on the first lookup; each calls register_front_end / register_table_kind.
BUILT_IN = ("flowsql.kda", "flowsql.cdc.kind")

Output = tuple["OperatorPlan", "pa.Table"]


class FrontEnd(Protocol):
    """Statements of another SQL dialect in a pipeline file: the parser hands a statement to the
    first front end that claims it."""

    name: str

    def claims(self, tokens: list[Token]) -> bool:
        """Whether the statement (its tokens) is this front end's."""
        ...

    def add_statement(self, pipeline: Pipeline, tokens: list[Token], base_dir: Path) -> None:
        """Read the statement into the pipeline (views, inserts, its own state in `extensions`)."""
        ...

    def prepare(self, pipeline: Pipeline) -> None:
        """Load what its statements need at run time (KDA's reference data); validate and
        explain never call it."""
        ...


class TableFeed(Protocol):
    """One table's current state, kept from its change stream, and the reports (EMIT) over it."""

    @property
    def clock_is_arrival(self) -> bool: ...

    def add_report(self, plan: OperatorPlan) -> None: ...
    def push(self, changes: pa.Table) -> list[Output]: ...
    def advance(self, clock_us: int) -> list[Output]: ...
    def finish(self) -> list[Output]: ...
    def snapshot(self, prefix: str) -> tuple[dict[str, Any], dict[str, pa.Table]]: ...
    def restore(self, data: dict[str, Any], tables: dict[str, pa.Table], prefix: str) -> None: ...


class TableKind(Protocol):
    """What the planner and engine need to run queries over a table (CREATE TABLE)."""

    def state_schema(self, changes: pa.Schema) -> pa.Schema:
        """The table's own columns, from the schema of its change stream."""
        ...

    def report_schema(self, query_schema: pa.Schema, emit: EmitPolicy) -> pa.Schema:
        """The rows a report over the table's state gives, from its query's columns."""
        ...

    def open(self, decl: TableDecl, stream: StreamInfo, con: duckdb.DuckDBPyConnection) -> TableFeed:
        """The table's state on the engine's database."""
        ...


_FRONT_ENDS: dict[str, FrontEnd] = {}
_TABLE_KINDS: dict[str, TableKind] = {}
_loaded = False


def register_front_end(front_end: FrontEnd) -> None:
    _FRONT_ENDS[front_end.name] = front_end


def register_table_kind(name: str, kind: TableKind) -> None:
    _TABLE_KINDS[name] = kind


def front_ends() -> list[FrontEnd]:
    _load_built_ins()
    return list(_FRONT_ENDS.values())


def front_end_for(tokens: list[Token]) -> FrontEnd | None:
    """The front end that reads this statement, if any does."""
    return next((f for f in front_ends() if f.claims(tokens)), None)


def table_kind(name: str = "cdc") -> TableKind:
    _load_built_ins()
    if name not in _TABLE_KINDS:
        raise LookupError(f"no table kind '{name}' is registered (known: {', '.join(sorted(_TABLE_KINDS))})")
    return _TABLE_KINDS[name]


def _load_built_ins() -> None:
    global _loaded
    if not _loaded:
        for module in BUILT_IN:
            importlib.import_module(module)
        _loaded = True
