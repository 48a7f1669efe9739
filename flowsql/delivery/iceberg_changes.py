"""How an iceberg sink's buffered rows change its table: appended, upserted by the primary key,
applied as a changelog (a CDC report's EMIT CHANGES: insert/update upsert, delete removes), or
replacing the table (a keyed EMIT EVERY snapshot report: the latest snapshot is the table)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from flowsql.cdc.columns import SNAPSHOT_TIME
from flowsql.cdc.formats import OP
from flowsql.delivery.iceberg_files import TableChange
from flowsql.errors import ConfigError
from flowsql.pipeline.model import SinkDecl

BATCH_COLUMN = "__flowsql_batch"
_ROW = "__flowsql_row"


@dataclass(frozen=True)
class WriteMode:
    kind: str  # append, upsert, changelog or snapshot
    key: tuple[str, ...] = ()

    @property
    def ordered(self) -> bool:
        """Whether rows carry the number of their micro-batch (a changelog's order matters)."""
        return self.kind == "changelog"

    def table_columns(self, schema: pa.Schema) -> pa.Schema:
        """The table's columns: a changelog's op says what to do with a row, it is not data."""
        if self.kind == "changelog":
            return pa.schema([f for f in schema if f.name != OP])
        return schema

    def describe(self) -> str:
        key = ", ".join(self.key)
        return {
            "append": "appends every row",
            "upsert": f"upserts by primary key ({key}): a row replaces the row of its key",
            "changelog": f"applies the changelog by primary key ({key}): insert and update upsert, delete removes "
            "the key's row, so the table mirrors the report",
            "snapshot": f"replaces the table with each flush's latest snapshot (keyed by {key})",
        }[self.kind]


def write_mode(decl: SinkDecl, primary_key: str, schema: pa.Schema) -> WriteMode:
    """The mode from `primary_key` and the query's columns; a key column must be in them."""
    if not primary_key.strip():
        return WriteMode("append")
    names = {n.lower(): n for n in schema.names}
    key = []
    for part in primary_key.split(","):
        found = names.get(part.strip().lower())
        if found is None or found == OP:
            option = next((o for o in decl.options if o.key.lower() == "primary_key"), None)
            raise ConfigError(
                f"sink '{decl.name}' (iceberg), option 'primary_key': {part.strip()!r} is not a column of the "
                f"query's result ({', '.join(n for n in schema.names if n != OP)})",
                option.location if option else decl.location,
                option.source_line if option else None,
            )
        key.append(found)
    if OP in schema.names and SNAPSHOT_TIME in schema.names:
        return WriteMode("changelog", tuple(key))
    if SNAPSHOT_TIME in schema.names:
        return WriteMode("snapshot", tuple(key))
    return WriteMode("upsert", tuple(key))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def resolve(mode: WriteMode, rows: pa.Table | None) -> TableChange:
    """The table change one flush's rows make."""
    if rows is None or rows.num_rows == 0:
        return TableChange()
    if mode.kind == "append":
        return TableChange(add=rows)
    con = duckdb.connect()
    numbered = rows.append_column(_ROW, pa.array(range(rows.num_rows), pa.int64()))
    con.register("flushed", numbered)
    keys = ", ".join(_quote(k) for k in mode.key)
    if mode.kind == "snapshot":
        latest = con.execute(
            f"SELECT * EXCLUDE ({_ROW}) FROM flushed WHERE {_quote(SNAPSHOT_TIME)} = "
            f"(SELECT max({_quote(SNAPSHOT_TIME)}) FROM flushed)"
        ).to_arrow_table()
        return TableChange(add=latest, replace_all=True)
    # The last word on each key wins: its latest micro-batch, and within that batch an insert or
    # update over a delete (a changed row is reported as the old one deleted and the new inserted).
    order = f"{_ROW} DESC" if mode.kind == "upsert" else f"{BATCH_COLUMN} DESC, ({_quote(OP)} = 'delete'), {_ROW} DESC"
    drop = f"{_ROW}, __rank" + (f", {BATCH_COLUMN}" if mode.ordered else "")
    final = con.execute(
        f"SELECT * EXCLUDE ({drop}) FROM (SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY {order}) "
        f"AS __rank FROM flushed) WHERE __rank = 1"
    ).to_arrow_table()
    assert final is not None  # a SELECT always has a result
    remove = final.select(list(mode.key))
    if mode.kind == "changelog":
        con.register("resolved", final)
        kept = con.execute(f"SELECT * EXCLUDE ({_quote(OP)}) FROM resolved WHERE {_quote(OP)} <> 'delete'")
        return TableChange(add=kept.to_arrow_table(), remove_keys=remove)
    return TableChange(add=final, remove_keys=remove)
