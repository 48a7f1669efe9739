"""The `shard_column` option of the Kinesis source: a declared column that holds, for each row,
the id of the shard its record was read from (KDA's SHARD_ID), filled by the source rather
than read from the record."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from flowsql.errors import ConfigError
from flowsql.pipeline.model import Column, SourceDecl


@dataclass(frozen=True)
class ShardColumn:
    """Where the shard id goes among the declared columns, and under which name."""

    index: int
    name: str

    def add(self, table: pa.Table, shards: list[str]) -> pa.Table:
        return table.add_column(self.index, pa.field(self.name, pa.string()), pa.array(shards, pa.string()))


def shard_column(decl: SourceDecl, option: str) -> tuple[ShardColumn | None, tuple[Column, ...]]:
    """The shard column named by the option (None without it), and the columns read from records."""
    if not option:
        return None, decl.columns
    for index, column in enumerate(decl.columns):
        if column.name.lower() == option.lower():
            if column.sql_type.upper().split("(")[0] not in ("VARCHAR", "TEXT", "STRING"):
                raise ConfigError(
                    f"source '{decl.name}': shard_column '{column.name}' must be declared VARCHAR", decl.location
                )
            if column.mapping:
                raise ConfigError(
                    f"source '{decl.name}': shard_column '{column.name}' is filled by the source, "
                    "so it takes no MAPPING",
                    decl.location,
                )
            return ShardColumn(index, column.name), decl.columns[:index] + decl.columns[index + 1 :]
    raise ConfigError(f"source '{decl.name}': shard_column '{option}' is not a declared column", decl.location)
