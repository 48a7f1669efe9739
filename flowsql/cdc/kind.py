"""CDC tables as the engine's table kind: a table's state kept from its change feed, and the
reports (EMIT) over it; registered with flowsql.frontends so the engine never imports cdc."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from flowsql.cdc.columns import report_schema, row_schema
from flowsql.cdc.report import TableFeed
from flowsql.engine.planner import StreamInfo
from flowsql.frontends import register_table_kind
from flowsql.pipeline.model import EmitPolicy, TableDecl


class CdcTableKind:
    def state_schema(self, changes: pa.Schema) -> pa.Schema:
        return row_schema(changes)

    def report_schema(self, query_schema: pa.Schema, emit: EmitPolicy) -> pa.Schema:
        return report_schema(query_schema, emit)

    def open(self, decl: TableDecl, stream: StreamInfo, con: duckdb.DuckDBPyConnection) -> TableFeed:
        return TableFeed.create(decl, stream, con)


register_table_kind("cdc", CdcTableKind())
