"""The Python functions the UDF benchmark calls from SQL: the same two computations as the
built-in functions beside them (upper(page), round(price * 1.2, 2)), written row by row and
over Arrow arrays, so only the calling differs."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def page_label(page: str) -> str:
    return page.upper()


def tax(price: float) -> float:
    return round(price * 1.2, 2)


def page_labels(pages: pa.Array) -> pa.Array:
    return pc.utf8_upper(pages)


def taxes(prices: pa.Array) -> pa.Array:
    return pc.round(pc.multiply(prices, 1.2), 2)
