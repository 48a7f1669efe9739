"""Destinations write one encoded object under a name, idempotently: writing the same name
again replaces it, so a replay after a crash overwrites instead of duplicating."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from flowsql.errors import DeliveryError


class Destination(Protocol):
    def write(self, key: str, data: bytes, content_type: str) -> str:
        """Store `data` under `key`; returns where it landed (a path or URL)."""
        ...

    def describe(self) -> str: ...


class LocalDestination:
    """Objects as files under a root folder, each written whole to a temporary file and
    renamed into place, so a reader never sees half an object."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def describe(self) -> str:
        return str(self.root)

    def write(self, key: str, data: bytes, content_type: str) -> str:
        target = (self.root / key).resolve()
        root = self.root.resolve()
        if root not in target.parents:
            raise DeliveryError(f"object key {key!r} would leave the sink's folder {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".flowsql-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, target)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        return str(target)
