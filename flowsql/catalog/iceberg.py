"""Iceberg catalogs for the iceberg sink: the embedded SQLite catalog beside the data, AWS Glue
and REST, each opened through PyIceberg's own configuration (`.pyiceberg.yaml`, PYICEBERG_*)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyiceberg.catalog import Catalog, load_catalog

EMBEDDED = "embedded"
CATALOG_FILE = "catalog.db"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class CatalogChoice:
    """Which catalog holds the table: kind (embedded, glue, rest), PyIceberg's name for it, the
    warehouse as written and, for REST, its URI."""

    kind: str
    name: str
    warehouse: str
    uri: str = ""

    def warehouse_url(self) -> str:
        """The warehouse as PyIceberg wants it: a file:// URL for a local folder, else as written."""
        if "://" in self.warehouse:
            return self.warehouse
        return "file://" + str(Path(self.warehouse).resolve())

    def catalog_file(self) -> Path:
        return Path(self.warehouse).resolve() / CATALOG_FILE

    def describe(self) -> str:
        if self.kind == EMBEDDED:
            return f"embedded SQLite catalog {self.catalog_file()} (warehouse {self.warehouse_url()})"
        if self.kind == "glue":
            return f"AWS Glue catalog (warehouse {self.warehouse or 'from the Glue database'})"
        return f"REST catalog {self.uri or '(uri from the PyIceberg configuration)'}"

    def exists(self) -> bool:
        """Whether opening the catalog can find anything: an embedded catalog not yet written is
        empty, and is not created by just looking (so `validate` leaves no file behind)."""
        return self.kind != EMBEDDED or self.catalog_file().exists()

    def open(self) -> Catalog:
        if self.kind == EMBEDDED:
            from pyiceberg.catalog.sql import SqlCatalog

            self.catalog_file().parent.mkdir(parents=True, exist_ok=True)
            return SqlCatalog(self.name, uri=f"sqlite:///{self.catalog_file()}", warehouse=self.warehouse_url())
        properties: dict[str, Any] = {"type": self.kind}
        if self.warehouse:
            properties["warehouse"] = self.warehouse_url()
        if self.uri:
            properties["uri"] = self.uri
        # Everything else (endpoints, credentials, signing) comes from the PyIceberg configuration
        # of the catalog called `name`, as for any PyIceberg program.
        return load_catalog(self.name, **properties)


def split_identifier(text: str) -> tuple[str, str] | None:
    """'db.name' as (namespace, table); None when it is not two plain identifiers."""
    parts = text.split(".")
    if len(parts) != 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        return None
    return parts[0], parts[1]
