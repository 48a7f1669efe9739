"""Reading what the iceberg sink wrote, as any PyIceberg user would: the embedded catalog's
SQLite file opened with SqlCatalog, tables scanned to Arrow."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.table import Table


def open_catalog(warehouse: Path) -> SqlCatalog:
    warehouse = warehouse.resolve()
    return SqlCatalog("flowsql", uri=f"sqlite:///{warehouse}/catalog.db", warehouse=f"file://{warehouse}")


def load(warehouse: Path, identifier: str) -> Table:
    return open_catalog(warehouse).load_table(identifier)


def scan(warehouse: Path, identifier: str, columns: list[str] | None = None) -> list[tuple]:  # type: ignore[type-arg]
    """The table's rows, sorted, as tuples (of `columns` when given)."""
    table = load(warehouse, identifier).scan().to_arrow()
    if columns is not None:
        table = table.select(columns)
    return sorted(tuple(row.values()) for row in table.to_pylist())


def flowsql_marks(table: Table) -> list[tuple[str, str, str, str]]:
    """(sink, run, epoch, sequence) of every snapshot the sink committed, oldest first."""
    marks = []
    for snapshot in table.metadata.snapshots:
        summary = snapshot.summary
        if summary is not None and summary.get("flowsql.run"):
            marks.append(
                (
                    str(summary.get("flowsql.sink")),
                    str(summary.get("flowsql.run")),
                    str(summary.get("flowsql.epoch")),
                    str(summary.get("flowsql.sequence")),
                )
            )
    return marks


def arrow_rows(table: pa.Table) -> list[tuple]:  # type: ignore[type-arg]
    return sorted(tuple(row.values()) for row in table.to_pylist())
