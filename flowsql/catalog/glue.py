"""Glue catalog registration for a sink (options glue_database, glue_table): the table is
created or brought up to date on the first delivered object, and each partition is added
once, when its first object becomes visible. Re-adding a partition that exists is harmless,
so a second run (or a replay after a crash) creates nothing twice."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from flowsql.catalog.athena import JSON_SERDE, SinkTable, sink_table
from flowsql.errors import ConfigError, DeliveryError
from flowsql.pipeline.model import SinkDecl

if TYPE_CHECKING:
    from flowsql.delivery.sink import ObjectSink

_PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
_JSON = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {"SerializationLibrary": JSON_SERDE},
}


class GlueRegistrar:
    """Keeps one Glue table and its partitions in step with what a sink has delivered."""

    def __init__(self, table: SinkTable, client: Any = None) -> None:
        self.table = table
        self._client = client
        self._table_ready = False
        self.registered: set[tuple[str, ...]] = set()

    @property
    def client(self) -> Any:
        if self._client is None:
            from flowsql import aws  # AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_GLUE are honoured by boto3 itself

            self._client = aws.client("glue")
        return self._client

    def table_input(self) -> dict[str, Any]:
        layout = self.table.layout
        storage = dict(_PARQUET if self.table.format == "parquet" else _JSON)
        return {
            "Name": self.table.table,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"EXTERNAL": "TRUE", "classification": self.table.format},
            "PartitionKeys": [{"Name": k.name, "Type": k.athena_type} for k in layout.keys],
            "StorageDescriptor": {
                **storage,
                "Columns": [{"Name": c, "Type": t} for c, t in self.table.columns],
                "Location": layout.location,
            },
        }

    def ensure_table(self) -> None:
        """Create the database and table if missing; update the table if its columns changed."""
        glue, wanted = self.client, self.table_input()
        with contextlib.suppress(glue.exceptions.AlreadyExistsException):
            glue.create_database(DatabaseInput={"Name": self.table.database})
        try:
            current = glue.get_table(DatabaseName=self.table.database, Name=self.table.table)["Table"]
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=self.table.database, TableInput=wanted)
            self._table_ready = True
            return
        same = (
            current.get("PartitionKeys", []) == wanted["PartitionKeys"]
            and current["StorageDescriptor"].get("Columns") == wanted["StorageDescriptor"]["Columns"]
            and current["StorageDescriptor"].get("Location") == wanted["StorageDescriptor"]["Location"]
        )
        if not same:
            glue.update_table(DatabaseName=self.table.database, TableInput=wanted)
        self._table_ready = True

    def on_delivered(self, key: str, partition: dict[str, object]) -> None:
        """Hook for ObjectSink: register the partition holding `key` the first time it is seen."""
        try:
            if not self._table_ready:
                self.ensure_table()
            found = self.table.layout.partition_of(key)
            if found is None or not found[0]:
                return
            values, folder = found
            if tuple(values) in self.registered:
                return
            self._add_partition(values, self.table.layout.location + folder)
            self.registered.add(tuple(values))
        except DeliveryError:
            raise
        except Exception as exc:  # botocore errors: the object is delivered, the catalog is not
            raise DeliveryError(
                f"sink '{self.table.sink}': Glue registration of {key} in "
                f"{self.table.database}.{self.table.table} failed: {exc}"
            ) from exc

    def _add_partition(self, values: list[str], location: str) -> None:
        storage = {**self.table_input()["StorageDescriptor"], "Location": location}
        answer = self.client.batch_create_partition(
            DatabaseName=self.table.database,
            TableName=self.table.table,
            PartitionInputList=[{"Values": values, "StorageDescriptor": storage}],
        )
        for error in answer.get("Errors", []):
            if error.get("ErrorDetail", {}).get("ErrorCode") != "AlreadyExistsException":
                raise DeliveryError(
                    f"sink '{self.table.sink}': Glue refused partition {values}: {error.get('ErrorDetail')}"
                )


def attach_glue(sink: ObjectSink, decl: SinkDecl) -> GlueRegistrar:
    """Check the options at load time; the registrar is the sink's catalog hook."""
    options = sink.options
    if not (options.glue_database and options.glue_table):
        missing = "glue_table" if options.glue_database else "glue_database"
        raise ConfigError(
            f"sink '{decl.name}': glue_database and glue_table go together; add '{missing}'", decl.location
        )
    table = sink_table(decl, sink.prefix, sink.schema, options.format, options.glue_database, options.glue_table)
    if table is None:
        raise ConfigError(
            f"sink '{decl.name}': Glue registration needs a file or s3 sink with its location", decl.location
        )
    return GlueRegistrar(table)
