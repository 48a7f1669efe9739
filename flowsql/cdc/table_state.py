"""The current state of a CDC table in DuckDB: change batches applied by primary key in one SQL
statement each, so a batch costs the same whatever its order and however many duplicates it holds.

Every key keeps the position of the last change applied to it, deleted keys included (as
tombstones): a change at an older position than the one applied is ignored, so reordering and
at-least-once delivery converge on the source table's state. On equal positions the later
arrival wins, which makes a duplicate a no-op.
"""

from __future__ import annotations

import itertools

import duckdb
import pyarrow as pa

from flowsql.cdc.formats import CHANGE_POSITION, OP, POSITION_TYPE, TableShape

_names = itertools.count()
POSITION = "__flowsql_position"
DELETED = "__flowsql_deleted"
_ARRIVAL_ORDER = "__flowsql_arrival_order"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class TableState:
    """One CDC table on the engine's DuckDB connection: `relation` names its current rows."""

    def __init__(self, shape: TableShape, con: duckdb.DuckDBPyConnection) -> None:
        self.shape = shape
        self.con = con
        suffix = next(_names)
        self.table = f"__flowsql_cdc_state_{suffix}"
        self.relation = f"__flowsql_cdc_{suffix}"
        self._batch = f"__flowsql_cdc_batch_{suffix}"
        columns = ", ".join(f"{_quote(c.name)} {c.sql_type}" for c in shape.columns)
        key = ", ".join(_quote(k) for k in shape.key)
        con.execute(
            f"CREATE TABLE {self.table} ({columns}, {POSITION} {POSITION_TYPE} NOT NULL, "
            f"{DELETED} BOOLEAN NOT NULL, PRIMARY KEY ({key}))"
        )
        names = ", ".join(_quote(c.name) for c in shape.columns)
        con.execute(f"CREATE VIEW {self.relation} AS SELECT {names} FROM {self.table} WHERE NOT {DELETED}")
        self._apply_sql = self._merge_sql(names, key)

    def _merge_sql(self, names: str, key: str) -> str:
        non_key = [c.name for c in self.shape.columns if c.name not in self.shape.key]
        updates = ", ".join(
            [f"{_quote(n)} = EXCLUDED.{_quote(n)}" for n in non_key]
            + [f"{POSITION} = EXCLUDED.{POSITION}", f"{DELETED} = EXCLUDED.{DELETED}"]
        )
        # Within the batch only each key's latest change counts (latest arrival on equal
        # positions); against the table it counts only if it is not older than what is there.
        latest = (
            f"SELECT {names}, {CHANGE_POSITION} AS {POSITION}, {OP} = 'd' AS {DELETED} FROM {self._batch} "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {CHANGE_POSITION} DESC, "
            f"{_ARRIVAL_ORDER} DESC) = 1"
        )
        return (
            f"INSERT INTO {self.table} ({names}, {POSITION}, {DELETED}) {latest} "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates} "
            f"WHERE EXCLUDED.{POSITION} >= {self.table}.{POSITION}"
        )

    def apply(self, changes: pa.Table) -> None:
        """Apply a change batch (see formats.change_schema) in arrival order."""
        if changes.num_rows == 0:
            return
        numbered = changes.append_column(_ARRIVAL_ORDER, pa.array(range(changes.num_rows), pa.int64()))
        self.con.register(self._batch, numbered)
        try:
            self.con.execute(self._apply_sql)
        finally:
            self.con.unregister(self._batch)

    def rows(self) -> pa.Table:
        """The table's current rows (no tombstones), in key order."""
        key = ", ".join(_quote(k) for k in self.shape.key)
        return self.con.sql(f"SELECT * FROM {self.relation} ORDER BY {key}").to_arrow_table()

    def state(self) -> pa.Table:
        """Everything needed to resume: rows, tombstones and each key's last position."""
        return self.con.sql(f"SELECT * FROM {self.table}").to_arrow_table()

    def restore(self, state: pa.Table) -> None:
        """Replace the state with one `state()` returned (for checkpoints)."""
        self.con.execute(f"DELETE FROM {self.table}")
        if state.num_rows:
            self.con.register(self._batch, state)
            try:
                self.con.execute(f"INSERT INTO {self.table} BY NAME SELECT * FROM {self._batch}")
            finally:
                self.con.unregister(self._batch)

    @property
    def tombstones(self) -> int:
        rows = self.con.sql(f"SELECT count(*) FROM {self.table} WHERE {DELETED}").fetchall()
        return int(rows[0][0])
