"""The iceberg sink: buffered rows become Iceberg commits, exactly once.

Each flush is one catalog commit whose snapshot summary names the pipeline, the sink, the run,
the checkpoint epoch and the flush's sequence within it, and whose table properties carry the
same mark as a high-water mark (it survives snapshot expiry). With checkpoints a flush is staged
(Arrow IPC in the checkpoint's staging folder) and committed only after the checkpoint listing
it has committed; recovery commits what the checkpoint lists unless the table already holds that
mark, so no flush is committed twice and none is lost (see flowsql/checkpoint).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.schema import Schema
from pyiceberg.table import Table

from flowsql.catalog.iceberg import EMBEDDED, CatalogChoice, split_identifier
from flowsql.catalog.iceberg_table import (
    PartitionTerm,
    describe_terms,
    iceberg_schema,
    parse_partition_by,
    schema_change,
    spec_terms,
)
from flowsql.checkpoint.participants import TransactionalSink
from flowsql.checkpoint.state import table_to_bytes
from flowsql.delivery.buffer import BufferedDelivery, Buffering, BufferOptions, DeliveryBuffer
from flowsql.delivery.error_output import encode_error_records
from flowsql.delivery.iceberg_changes import BATCH_COLUMN, WriteMode, resolve, write_mode
from flowsql.delivery.iceberg_files import apply_change
from flowsql.delivery.iceberg_staging import CommitMark, IcebergStaging, StagedFlush
from flowsql.delivery.sink import SinkStats
from flowsql.errors import ConfigError, DeliveryError
from flowsql.options import choice
from flowsql.pipeline.model import SinkDecl
from flowsql.records import BadRecord

log = logging.getLogger("flowsql")
_COMMIT_ATTEMPTS = 8
MARK_PREFIX = "flowsql.last-commit."


@dataclass(frozen=True)
class IcebergSinkOptions(BufferOptions):
    # Each flush is a catalog commit and a data file per partition: fewer, larger ones.
    DEFAULT_BUFFERING: ClassVar[Buffering] = Buffering(128 * 1000**2, 60.0)

    connector: str = ""
    table: str = ""  # namespace.table
    warehouse: str = ""  # a folder or URL; the embedded catalog lives in it as catalog.db
    catalog: str = choice(EMBEDDED, "glue", "rest")
    catalog_name: str = "flowsql"  # PyIceberg's name for the catalog: its configuration is looked up by it
    uri: str = ""  # the REST catalog's URI
    partition_by: str = ""  # Iceberg transforms: 'day(window_start), page'
    primary_key: str = ""  # with it, rows replace (and op = 'delete' removes) the rows of their key


class IcebergSink(BufferedDelivery, TransactionalSink):
    """Delivers query results into one Iceberg table (see the module docstring)."""

    def __init__(self, decl: SinkDecl, options: IcebergSinkOptions, pipeline_name: str, schema: pa.Schema) -> None:
        self.name = decl.name
        self.decl = decl
        self.options = options
        self.pipeline_name = pipeline_name
        self.schema = schema
        identifier = split_identifier(options.table)
        if identifier is None or (options.catalog == "glue" and options.table != options.table.lower()):
            raise option_error(
                decl,
                "table",
                f"{options.table!r} is not a table name: write namespace.table, "
                "two identifiers of letters, digits and _"
                + (" in lower case (Glue stores names lower-cased)" if options.catalog == "glue" else ""),
            )
        self.identifier = identifier
        self.catalog_choice = _catalog_choice(decl, options)
        self.mode: WriteMode = write_mode(decl, options.primary_key, schema)
        try:
            self.table_schema: Schema = iceberg_schema(self.mode.table_columns(schema))
        except ValueError as exc:
            raise ConfigError(f"sink '{decl.name}' (iceberg): {exc}", decl.location) from None
        try:
            self.partition: list[PartitionTerm] = parse_partition_by(options.partition_by, self.table_schema)
        except ValueError as exc:
            raise option_error(decl, "partition_by", str(exc)) from None
        self.destination = IcebergStaging(self.catalog_choice, options.table)
        self.buffering = options.buffering
        self.buffer = DeliveryBuffer(self.buffering.size, self.buffering.interval)
        self.errors: list[BadRecord] = []
        self.rows_taken = 0  # BufferedDelivery's checkpointed counters (flushes here are named by sequence)
        self.errors_taken = 0
        self.stats = SinkStats()
        self.delivered: list[str] = []
        self.sequence = 0  # flushes so far (names staged files)
        self.run_id = uuid.uuid4().hex[:12]  # a new lineage unless a checkpoint restores one
        self.checkpoint_epoch = 0  # the last committed checkpoint's epoch; its flushes go in the next one
        self.epoch_sequence = 0
        self.batches = 0  # micro-batches added (orders a changelog's rows)
        self.staging = False
        self.staged: list[dict[str, str]] = []
        self._catalog: Catalog | None = None
        self.existing_partition: list[PartitionTerm] | None = None
        self._check_existing_table()

    # -- the table --------------------------------------------------------------------------
    @property
    def mark_property(self) -> str:
        return f"{MARK_PREFIX}{self.pipeline_name}.{self.name}"

    def catalog(self) -> Catalog:
        if self._catalog is None:
            try:
                self._catalog = self.catalog_choice.open()
            except (ValueError, TypeError, KeyError) as exc:
                raise option_error(
                    self.decl, "catalog", f"cannot open the {self.catalog_choice.kind} catalog: {exc}"
                ) from None
        return self._catalog

    def _check_existing_table(self) -> None:
        """At load (and so at `validate`): an existing table must take the query's rows."""
        if not self.catalog_choice.exists():
            return
        try:
            table = self.catalog().load_table(self.identifier)
        except NoSuchTableError:
            return
        except ConfigError:
            raise
        except Exception as exc:  # a catalog that cannot be reached: a runtime failure, not configuration
            raise DeliveryError(
                f"sink '{self.name}': cannot read table {self.options.table} from the "
                f"{self.catalog_choice.describe()}: {exc}"
            ) from exc
        try:
            schema_change(table.schema(), self.table_schema)
        except ValueError as exc:
            raise option_error(
                self.decl, "table", f"table {self.options.table} cannot take the query's rows: {exc}"
            ) from None
        existing = spec_terms(table.spec(), table.schema())
        self.existing_partition = existing
        wanted = [(t.column, str(t.transform)) for t in self.partition]
        if self.options.partition_by and wanted != [(t.column, str(t.transform)) for t in existing]:
            raise option_error(
                self.decl,
                "partition_by",
                f"table {self.options.table} is partitioned by "
                f"{describe_terms(existing)}, not {describe_terms(self.partition)}; write that, "
                "or leave partition_by out to use the table's spec",
            )

    def open_table(self) -> Table:
        """The table, created from the query's schema and partition_by if missing, evolved to
        take the query's columns."""
        catalog = self.catalog()
        try:
            table = catalog.load_table(self.identifier)
        except NoSuchTableError:
            table = self._create(catalog)
        change = schema_change(table.schema(), self.table_schema)
        if change:
            with table.update_schema() as update:
                for name, kind in change.add:
                    update.add_column(name, kind)
                for name, kind in change.widen:
                    update.update_column(name, field_type=kind)
            log.info(
                "sink '%s': table %s evolved: %s",
                self.name,
                self.options.table,
                change.describe(),
                extra={"event": "iceberg_schema_evolved", "sink": self.name},
            )
            table = catalog.load_table(self.identifier)
        return table

    def _create(self, catalog: Catalog) -> Table:
        catalog.create_namespace_if_not_exists(self.identifier[0])
        try:
            transaction = catalog.create_table_transaction(self.identifier, schema=self.table_schema)
            if self.partition:
                with transaction.update_spec() as spec:
                    for term in self.partition:
                        spec.add_field(term.column, term.transform, term.name)
            transaction.commit_transaction()
        except TableAlreadyExistsError:
            pass  # another process created it first: use theirs
        return catalog.load_table(self.identifier)

    # -- buffering ---------------------------------------------------------------------------
    def add(self, table: pa.Table, now: float | None = None) -> None:
        if table.num_rows and self.mode.ordered:
            # A changelog's rows for one key must apply in order: each micro-batch is numbered.
            self.batches += 1
            table = table.append_column(BATCH_COLUMN, pa.array([self.batches] * table.num_rows, pa.int64()))
        super().add(table, now)

    def flush(self, wall_time: datetime | None = None) -> list[str]:
        rows = self.buffer.take()
        errors, self.errors = self.errors, []
        if rows is None and not errors:
            return []
        self.sequence += 1
        self.epoch_sequence += 1
        self.rows_taken += rows.num_rows if rows is not None else 0
        self.errors_taken += len(errors)
        mark = CommitMark(self.run_id, self.checkpoint_epoch + 1 if self.staging else 0, self.epoch_sequence)
        if not self.staging:
            data = encode_error_records(errors, datetime.now(UTC)) if errors else b""
            self.commit(mark, StagedFlush(rows=rows, error_data=data))
            return [mark.text()]
        item = {"key": mark.text(), "staged": "", "errors": ""}
        if rows is not None:
            item["staged"] = self.destination.stage(f"{self.sequence:09d}-rows.arrow", table_to_bytes(rows))
        if errors:
            item["errors"] = self.destination.stage(
                f"{self.sequence:09d}-errors.json", encode_error_records(errors, datetime.now(UTC))
            )
        self.staged.append(item)
        return [mark.text()]

    # -- checkpoints -------------------------------------------------------------------------
    def snapshot(self) -> tuple[dict[str, Any], pa.Table | None]:
        data, rows = super().snapshot()
        data.update(run=self.run_id, epoch=self.checkpoint_epoch + 1, batches=self.batches, sequence=self.sequence)
        return data, rows

    def restore(self, data: dict[str, Any], rows: pa.Table | None) -> None:
        super().restore(data, rows)
        self.run_id = str(data["run"])
        self.checkpoint_epoch = int(data["epoch"])
        self.epoch_sequence = 0
        self.batches = int(data.get("batches", 0))
        self.sequence = int(data.get("sequence", 0))

    def begin_staging(self, folder: Path, pipeline: str) -> None:
        self.destination.use_staging(folder, pipeline)
        self.staging = True

    def discard_staged(self) -> None:
        self.destination.discard_staged(set())

    def promote_staged(self) -> None:
        """The checkpoint listing the staged flushes has committed: commit them, in order."""
        for item in self.staged:
            self.promote(item)
        self.staged = []
        if self.staging:
            self.checkpoint_epoch += 1
            self.epoch_sequence = 0

    def promote(self, item: dict[str, str]) -> None:
        """Commit one staged flush unless the table already has it (recovery finishes a commit)."""
        mark = CommitMark.parse(item["key"])
        if mark is None:
            raise DeliveryError(
                f"sink '{self.name}': a checkpoint names a staged flush {item['key']!r} this version cannot read"
            )
        self.commit(mark, StagedFlush(item.get("staged", ""), item.get("errors", "")))
        for path in (item.get("staged"), item.get("errors")):
            if path and os.path.exists(path):
                os.unlink(path)

    # -- committing --------------------------------------------------------------------------
    def committed(self, table: Table, mark: CommitMark) -> bool:
        """Whether the table holds this flush: by the high-water mark, or by a snapshot's summary."""
        if mark.covered_by(CommitMark.parse(table.properties.get(self.mark_property, ""))):
            return True
        for snapshot in table.metadata.snapshots:
            summary = snapshot.summary
            if (
                summary is not None
                and summary.get("flowsql.pipeline") == self.pipeline_name
                and summary.get("flowsql.sink") == self.name
                and summary.get("flowsql.run") == mark.run
                and summary.get("flowsql.epoch") == str(mark.epoch)
                and summary.get("flowsql.sequence") == str(mark.sequence)
            ):
                return True
        return False

    def commit(self, mark: CommitMark, flush: StagedFlush) -> None:
        """One flush as one catalog commit, retried when another writer committed first."""
        summary = {
            "flowsql.pipeline": self.pipeline_name,
            "flowsql.sink": self.name,
            "flowsql.run": mark.run,
            "flowsql.epoch": str(mark.epoch),
            "flowsql.sequence": str(mark.sequence),
        }
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            try:
                table = self.open_table()
                if self.committed(table, mark):
                    return
                change = resolve(self.mode, flush.load_rows(self.name))
                error_data = flush.load_errors(self.name)
                if error_data:
                    self._write_errors(table, mark, error_data)
                result = apply_change(table, change, summary, {self.mark_property: mark.text()})
            except CommitFailedException as exc:
                if attempt == _COMMIT_ATTEMPTS:
                    raise DeliveryError(
                        f"sink '{self.name}': table {self.options.table} kept changing under "
                        f"the commit ({exc}); is another writer committing without pause?"
                    ) from exc
                time.sleep(min(2.0, 0.05 * 2**attempt))
                continue
            except DeliveryError:
                raise
            except Exception as exc:
                raise DeliveryError(
                    f"sink '{self.name}': commit to Iceberg table {self.options.table} failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            self.stats.rows += result.rows_added
            self.stats.objects += result.files_added
            self.stats.bytes += result.bytes_added
            self.delivered.append(mark.text())
            return

    def _write_errors(self, table: Table, mark: CommitMark, data: bytes) -> None:
        """Bad records beside the table (not a data file of it), under a name fixed by the mark,
        so a repeated commit rewrites the same object."""
        name = f"{self.pipeline_name}-{self.name}-{mark.run}-{mark.epoch:09d}-{mark.sequence:04d}.json"
        path = f"{table.location().rstrip('/')}/flowsql-errors/{name}"
        with table.io.new_output(path).create(overwrite=True) as out:
            out.write(data)
        self.stats.errors += data.count(b"\n")

    def describe(self) -> str:
        return self.destination.describe()

    def explain_lines(self) -> list[str]:
        """What `flowsql explain` says about this sink."""
        spec = self.existing_partition if self.existing_partition is not None else self.partition
        origin = " (the existing table's)" if self.existing_partition is not None else ""
        return [
            f"iceberg table {self.options.table}, catalog: {self.catalog_choice.describe()}",
            f"partition spec: {describe_terms(spec)}{origin}",
            f"writes: {self.mode.describe()}",
            f"commits: one Iceberg commit per flush ({self.buffering.describe()}); with checkpoints, after the "
            "checkpoint that lists the flush; "
            "its snapshot summary carries flowsql.pipeline, flowsql.run, flowsql.epoch and flowsql.sequence",
        ]


def _catalog_choice(decl: SinkDecl, options: IcebergSinkOptions) -> CatalogChoice:
    warehouse = options.warehouse
    if options.catalog == EMBEDDED:
        if not warehouse:
            raise option_error(decl, "warehouse", "the embedded catalog needs a warehouse folder (such as 'lake/')")
        if "://" in warehouse and not warehouse.startswith("file://"):
            raise option_error(
                decl,
                "warehouse",
                "the embedded catalog keeps catalog.db in a local folder; for a "
                "warehouse on S3 use catalog = 'glue' (or 'rest')",
            )
        warehouse = warehouse.removeprefix("file://")
    if options.catalog == "glue" and warehouse and not warehouse.startswith("s3://"):
        raise option_error(decl, "warehouse", "a Glue catalog's warehouse is an s3:// URL")
    if options.uri and options.catalog != "rest":
        raise option_error(decl, "uri", "uri is the REST catalog's address; add catalog = 'rest'")
    return CatalogChoice(options.catalog, options.catalog_name, warehouse, options.uri)


def option_error(decl: SinkDecl, key: str, message: str) -> ConfigError:
    option = next((o for o in decl.options if o.key.lower() == key), None)
    return ConfigError(
        f"sink '{decl.name}' (iceberg), option '{key}': {message}",
        option.location if option else decl.location,
        option.source_line if option else None,
    )


def iceberg_sink(decl: SinkDecl, pipeline_name: str, schema: pa.Schema) -> IcebergSink:
    from flowsql.options import bind_options

    options = bind_options(IcebergSinkOptions, list(decl.options), f"sink '{decl.name}' (iceberg)")
    if not options.table:
        raise ConfigError(f"sink '{decl.name}' (iceberg) needs the option 'table' (namespace.table)", decl.location)
    return IcebergSink(decl, options, pipeline_name, schema)
