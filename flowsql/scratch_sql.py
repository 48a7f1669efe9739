"""One DuckDB connection per thread for the short questions planning asks (an interval's length,
a type's Arrow form, a query's schema): opening a connection costs 10-20 ms, and a pipeline's
planning asks dozens of them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect()
    return con


@contextmanager
def scratch_connection(**tables: pa.Table) -> Iterator[duckdb.DuckDBPyConnection]:
    """This thread's scratch connection with `tables` registered under their names for the
    block, and unregistered after it, so one question's tables never answer the next."""
    con = _connection()
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield con
    finally:
        for name in tables:
            con.unregister(name)
