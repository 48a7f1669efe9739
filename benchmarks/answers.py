"""Checks a benchmark's streaming output against the batch answer: the same rows, row for row,
so that a figure is never printed for a run that computed something else."""

from __future__ import annotations

from pathlib import Path

import duckdb

# Sums of prices (two decimals) differ in their last bits with the order of addition; four
# decimals keep every real difference and none of that noise.
_DECIMALS = 4


def output_files(out: Path) -> list[str]:
    """The Parquet objects a file sink wrote under `out`, without its error output."""
    return sorted(str(p) for p in out.rglob("*.parquet") if "errors" not in p.relative_to(out).parts)


def differences(ours: list[str], batch: Path) -> tuple[int, int, int]:
    """(rows only in ours, rows only in the batch answer, rows in the batch answer)."""
    con = duckdb.connect()
    try:
        con.execute(f"CREATE VIEW batch AS SELECT * FROM read_parquet('{batch}')")
        if ours:
            con.execute(f"CREATE VIEW ours AS SELECT * FROM read_parquet({ours!r})")
        else:
            con.execute("CREATE VIEW ours AS SELECT * FROM batch LIMIT 0")
        columns = con.execute("SELECT column_name, column_type FROM (DESCRIBE batch)").fetchall()
        select = ", ".join(
            f'round("{name}", {_DECIMALS}) AS "{name}"' if kind in ("DOUBLE", "FLOAT") else f'"{name}"'
            for name, kind in columns
        )
        only_ours = _count(con, f"SELECT {select} FROM ours EXCEPT ALL SELECT {select} FROM batch")
        only_batch = _count(con, f"SELECT {select} FROM batch EXCEPT ALL SELECT {select} FROM ours")
        total = _count(con, "SELECT * FROM batch")
        return only_ours, only_batch, total
    finally:
        con.close()


def check_equal(name: str, out: Path, batch: Path) -> int:
    """The batch answer's row count; raises when the streaming output differs from it."""
    only_ours, only_batch, total = differences(output_files(out), batch)
    if only_ours or only_batch or total == 0:
        raise AssertionError(
            f"{name}: the output differs from DuckDB's batch answer: {only_ours} rows only in "
            f"flowsql's, {only_batch} of {total} rows only in the batch answer"
        )
    return total


def _count(con: duckdb.DuckDBPyConnection, query: str) -> int:
    row = con.execute(f"SELECT count(*) FROM ({query})").fetchone()
    assert row is not None
    return int(row[0])
