"""The columns flowsql adds around a CDC table: the change stream's and the reports'."""

from __future__ import annotations

import pyarrow as pa
from sqlglot import exp

from flowsql.cdc.formats import OP, SYSTEM_COLUMNS
from flowsql.pipeline.model import EmitPolicy

SNAPSHOT_TIME = "snapshot_time"


def row_schema(change_schema: pa.Schema) -> pa.Schema:
    """The table's own columns: the change stream without op, change_time, position, arrival_time."""
    return pa.schema([f for f in change_schema if f.name not in SYSTEM_COLUMNS])


def report_schema(query_schema: pa.Schema, emit: EmitPolicy) -> pa.Schema:
    """A report's rows: snapshot_time, then op for a changelog, then the query's columns."""
    fields = [pa.field(SNAPSHOT_TIME, pa.timestamp("us"))]
    if emit.kind == "changes":
        fields.append(pa.field(OP, pa.string()))
    return pa.schema([*fields, *query_schema])


def group_columns(query: exp.Query, names: list[str]) -> list[str]:
    """The output columns that identify a group: those computed without an aggregate."""
    select = query if isinstance(query, exp.Select) else query.find(exp.Select)
    if select is None:
        return names
    expressions = select.expressions
    if len(expressions) != len(names) or any(isinstance(e, exp.Star) for e in expressions):
        return names
    return [n for n, e in zip(names, expressions, strict=True) if e.find(exp.AggFunc) is None]
