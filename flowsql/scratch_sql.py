"""One DuckDB connection per thread for the short questions planning asks (an interval's length,
a type's Arrow form, a query's schema): opening a connection costs 10-20 ms, and a pipeline's
planning asks dozens of them."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

if TYPE_CHECKING:
    from flowsql.pipeline.functions import UserFunction

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect()
    return con


@contextmanager
def scratch_connection(
    functions: Iterable[UserFunction] = (), **tables: pa.Table
) -> Iterator[duckdb.DuckDBPyConnection]:
    """This thread's scratch connection with `tables` registered under their names for the
    block, and unregistered after it, so one question's tables never answer the next. A question
    about queries that call the pipeline's own functions gets a connection of its own with them
    (they cannot be left on a shared connection: another pipeline may name its functions alike)."""
    functions = tuple(functions)
    if functions:
        from flowsql.pipeline.functions import register_functions

        own = register_functions(duckdb.connect(), functions)
        try:
            for name, table in tables.items():
                own.register(name, table)
            yield own
        finally:
            own.close()
        return
    con = _connection()
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield con
    finally:
        for name in tables:
            con.unregister(name)
