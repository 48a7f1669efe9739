"""Functions a pipeline calls from SQL, written as plain Python: one row by row from its
annotations, one over whole Arrow arrays, one whose types the pipeline declares."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def price_cents(payload: str) -> int:
    """'EUR 12.50' -> 1250; a payload without a number is refused (ValueError)."""
    _, _, amount = payload.partition(" ")
    if not amount:
        raise ValueError(f"no amount in {payload!r}")
    return round(float(amount) * 100)


def with_tax(amounts: pa.Array) -> pa.Array:
    """Called once per batch of rows: every amount with 20 % tax, rounded to cents."""
    return pc.round(pc.multiply(amounts.cast(pa.float64()), 1.2), 2)


def label(code, size):  # types declared in the pipeline: CREATE FUNCTION label(VARCHAR, BIGINT)
    return f"{code.upper()}-{size:03d}"
