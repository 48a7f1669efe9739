"""The state's memory budget (`SET state_memory`): DuckDB's memory limit on the engine's
connection, and a directory of its own where DuckDB spills what does not fit."""

from __future__ import annotations

import shutil
import tempfile
import weakref

import duckdb


def apply_budget(owner: object, con: duckdb.DuckDBPyConnection, state_memory: int) -> str:
    """Limit `con` to `state_memory` bytes, spilling to a new temporary directory that goes
    when `owner` does. Returns the directory."""
    directory = tempfile.mkdtemp(prefix="flowsql-state-")
    con.execute(f"SET memory_limit = '{int(state_memory)}B'").fetchall()
    con.execute(f"SET temp_directory = '{directory}'").fetchall()
    weakref.finalize(owner, shutil.rmtree, directory, True)
    return directory
