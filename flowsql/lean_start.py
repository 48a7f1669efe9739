"""What the `flowsql` command skips at start: pyarrow looks for pandas the first time it builds
an array and imports it when installed (about 0.2 s, half of a short command's imports), though
flowsql never hands pyarrow a pandas object."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

import pyarrow as pa


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "pandas":
            raise ModuleNotFoundError("pandas is not looked for at start", name=fullname)
        return None


def skip_pandas_probe() -> None:
    """Let pyarrow's one look for pandas find none. pyarrow remembers the answer for its
    conversions of incoming objects, while an explicit `to_pandas()` still imports pandas."""
    if "pandas" in sys.modules:
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        pa.array([0])  # pyarrow's first conversion makes its one look for pandas
    finally:
        sys.meta_path.remove(finder)
