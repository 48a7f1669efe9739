"""Python functions the python_functions.sql example calls from SQL."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def page_section(page: str) -> str:
    """'/product/2' -> 'product', '/' -> 'home': called once per row (types from the annotations)."""
    section = page.strip("/").split("/", 1)[0]
    return section or "home"


def price_bands(prices: pa.Array) -> pa.Array:
    """Each price's band of 50 (0, 50, 100, ...): called once per chunk of rows with Arrow arrays."""
    return pc.multiply(pc.floor(pc.divide(prices, 50.0)), 50.0).cast(pa.int64())
