"""A CDC table's feed: any source connector reads the change records, the table's format turns
them into change batches in the reader thread, so decoding overlaps with the engine's SQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from flowsql.cdc.formats import FORMATS, SYSTEM_COLUMNS, ChangeDecoder, TableShape
from flowsql.errors import ConfigError
from flowsql.pipeline.model import SourceDecl, TableDecl
from flowsql.records import SourceBatch
from flowsql.sources import Source, create_source


class ChangeFeedSource(Source):
    """Wraps the connector's source; yields change batches (formats.change_schema)."""

    def __init__(self, decl: TableDecl, inner: Source, decoder: ChangeDecoder) -> None:
        self.table = decl
        self.inner = inner
        self.decoder = decoder
        self.name = decl.name
        self.decl = inner.decl
        self.options = inner.options
        self.schema = decoder.schema

    @property
    def bounded(self) -> bool:
        return self.inner.bounded

    @property
    def live(self) -> bool:
        return self.inner.live

    def seek(self, position: dict[str, Any]) -> None:
        self.inner.seek(position)

    def read(self, stop: threading.Event) -> Iterator[SourceBatch]:
        for batch in self.inner.read(stop):
            changes, rejected = self.decoder.decode(batch.table)
            yield SourceBatch(
                self.name, changes, [*batch.errors, *rejected], batch.position, batch.raw_bytes, batch.progress
            )


def create_change_source(decl: TableDecl) -> ChangeFeedSource:
    """The feed of a CREATE TABLE: its connector's source, reading records of its format."""
    format_option = next((o for o in decl.options if o.key.lower() == "format"), None)
    allowed = ", ".join(FORMATS)
    if format_option is None:
        raise ConfigError(
            f"table '{decl.name}' needs format = one of: {allowed}",
            decl.location,
            hint="the format says how the change records are written",
        )
    format_name = str(format_option.value).lower()
    if format_name not in FORMATS:
        raise ConfigError(
            f"bad value {format_option.value!r} for option 'format' of table '{decl.name}': allowed: {allowed}",
            format_option.location,
            format_option.source_line,
        )
    reserved = next((c for c in decl.columns if c.name.lower() in SYSTEM_COLUMNS), None)
    if reserved is not None:
        raise ConfigError(
            f"table '{decl.name}': the column name '{reserved.name}' is taken by the change stream",
            decl.location,
            hint="its change events carry " + ", ".join(SYSTEM_COLUMNS),
        )
    shape = TableShape(decl.name, decl.columns, decl.primary_key)
    records = SourceDecl(
        name=decl.name,
        columns=FORMATS[format_name].envelope_columns(shape),
        watermark=None,
        options=tuple(o for o in decl.options if o.key.lower() != "format"),
        location=decl.location,
    )
    return ChangeFeedSource(decl, create_source(records), ChangeDecoder(shape, format_name, decl.name))
