"""`flowsql ddl` for iceberg sinks: what Athena needs to query the table. A Glue catalog needs
nothing (Athena reads Glue's Iceberg tables as they are); otherwise Athena's own CREATE TABLE
... TBLPROPERTIES ('table_type' = 'ICEBERG'), which makes an Iceberg table in Glue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowsql.catalog.athena import athena_type, quote
from flowsql.errors import ConfigError

if TYPE_CHECKING:
    from flowsql.delivery.iceberg import IcebergSink


def iceberg_ddl(sink: IcebergSink) -> tuple[str | None, str]:
    """The statement (None when none is needed) and a note on what it does."""
    namespace, name = sink.identifier
    if sink.catalog_choice.kind == "glue":
        return None, (
            f"sink '{sink.name}': Iceberg table {namespace}.{name} is in the Glue catalog; Athena "
            "queries it as it is, no DDL needed"
        )
    columns = []
    for field in sink.mode.table_columns(sink.schema):
        try:
            columns.append(f"  {quote(field.name)} {athena_type(field.type)}")
        except ValueError as exc:
            raise ConfigError(f"sink '{sink.name}', column '{field.name}': {exc}", sink.decl.location) from None
    terms = sink.existing_partition if sink.existing_partition is not None else sink.partition
    lines = [f"CREATE TABLE {quote(namespace)}.{quote(name)} (", ",\n".join(columns), ")"]
    if terms:
        lines.append("PARTITIONED BY (" + ", ".join(t.describe() for t in terms) + ")")
    location = f"{sink.catalog_choice.warehouse_url().rstrip('/')}/{namespace}/{name}"
    lines.append(f"LOCATION '{location}'")
    lines.append("TBLPROPERTIES ('table_type' = 'ICEBERG');")
    if location.startswith("file://"):
        note = (
            f"sink '{sink.name}': Athena cannot read a local warehouse; with the warehouse on S3 this statement "
            "makes the table in Glue for Athena"
        )
    else:
        note = (
            f"sink '{sink.name}': Athena reads Iceberg tables from the Glue catalog only; this statement makes "
            "a new table there. For Athena to see each commit flowsql makes, write with catalog = 'glue'"
        )
    return "\n".join(lines), note
