"""Iceberg data files for the iceberg sink: rows split by the table's partition spec (transforms
computed with pyarrow), written with PyIceberg's Parquet writer, and the copy-on-write rewrite of
the files that hold keys being replaced or deleted. One change is one snapshot, committed with
the table properties that record it in the same catalog commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import AlwaysTrue, In
from pyiceberg.io.pyarrow import ArrowScan, bin_pack_arrow_table, schema_to_pyarrow, write_file
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table, TableProperties, WriteTask
from pyiceberg.transforms import (
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    YearTransform,
)
from pyiceberg.types import DateType, IcebergType

_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US


@dataclass(frozen=True)
class TableChange:
    """What one flush does to the table: rows to add, keys whose rows go first (upserts and
    deletes), or every row replaced (a keyed snapshot report)."""

    add: pa.Table | None = None
    remove_keys: pa.Table | None = None  # the key columns only
    replace_all: bool = False


@dataclass(frozen=True)
class ChangeResult:
    files_added: int = 0
    files_removed: int = 0
    rows_added: int = 0
    bytes_added: int = 0


def conform(rows: pa.Table, schema: Schema) -> pa.Table:
    """Rows in exactly the table's Arrow shape: columns in its order, missing ones null, narrower
    types cast up."""
    target = schema_to_pyarrow(schema, include_field_ids=False)
    columns = []
    for field in target:
        if field.name in rows.column_names:
            columns.append(rows.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(rows.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=target)


def _transform_values(column: pa.ChunkedArray, transform: Transform, kind: IcebergType) -> pa.Array:
    """A partition transform over a column, vectorised for the time transforms (PyIceberg's own
    vectorised transforms need an optional native package) and per distinct value otherwise."""
    if isinstance(transform, IdentityTransform):
        return column.combine_chunks()
    if isinstance(transform, (YearTransform, MonthTransform)):
        years = pc.subtract(pc.year(column), 1970)
        if isinstance(transform, YearTransform):
            return years.cast(pa.int32()).combine_chunks()
        months = pc.add(pc.multiply(years, 12), pc.subtract(pc.month(column), 1))
        return months.cast(pa.int32()).combine_chunks()
    if isinstance(transform, DayTransform):
        if isinstance(kind, DateType):
            return column.cast(pa.int32()).combine_chunks()
        return _floor_div(column, _DAY_US)
    if isinstance(transform, HourTransform):
        return _floor_div(column, _HOUR_US)
    scalar = transform.transform(kind)
    distinct = pc.unique(column)
    mapped = pa.array([None if v is None else scalar(_internal(v, kind)) for v in distinct.to_pylist()])
    return mapped.take(pc.index_in(column, distinct)).combine_chunks()


def _floor_div(column: pa.ChunkedArray, unit: int) -> pa.Array:
    # Only pyarrow's timestamp types carry `tz`; a date column has none.
    micros = column.cast(pa.timestamp("us", getattr(column.type, "tz", None))).cast(pa.int64())
    # Floor, not truncation: an hour before 1970 is -1, as Iceberg's transform has it.
    return pc.floor(pc.divide(micros.cast(pa.float64()), float(unit))).cast(pa.int32()).combine_chunks()


def _internal(value: Any, kind: IcebergType) -> Any:
    from pyiceberg.partitioning import _to_partition_representation

    return _to_partition_representation(kind, value)


def partition_groups(rows: pa.Table, spec: PartitionSpec, schema: Schema) -> list[tuple[PartitionKey | None, pa.Table]]:
    """The rows of each partition, with its key."""
    if spec.is_unpartitioned() or rows.num_rows == 0:
        return [(None, rows)]
    names = [f"__p{i}" for i in range(len(spec.fields))]
    parts = {}
    for name, part in zip(names, spec.fields, strict=True):
        source = schema.find_field(part.source_id)
        parts[name] = _transform_values(rows.column(source.name), part.transform, source.field_type)
    keyed = pa.table({**parts, "__row": pa.array(range(rows.num_rows), pa.int64())})
    grouped = keyed.group_by(names, use_threads=False).aggregate([("__row", "list")]).to_pylist()
    groups: list[tuple[PartitionKey | None, pa.Table]] = []
    for group in grouped:
        values = [PartitionFieldValue(part, group[name]) for name, part in zip(names, spec.fields, strict=True)]
        groups.append(
            (
                PartitionKey(field_values=values, partition_spec=spec, schema=schema),
                rows.take(pa.array(group["__row_list"], pa.int64())),
            )
        )
    return groups


def write_data_files(table: Table, rows: pa.Table) -> list[DataFile]:
    """Rows (in the table's shape) as Parquet data files, at most the table's target size each."""
    if rows.num_rows == 0:
        return []
    metadata = table.metadata
    target = int(
        metadata.properties.get(
            TableProperties.WRITE_TARGET_FILE_SIZE_BYTES, TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT
        )
    )
    write_uuid = uuid.uuid4()
    tasks: list[WriteTask] = []
    for key, part in partition_groups(rows, metadata.spec(), metadata.schema()):
        for batches in bin_pack_arrow_table(part, target):
            tasks.append(
                WriteTask(
                    write_uuid=write_uuid,
                    task_id=len(tasks),
                    schema=metadata.schema(),
                    record_batches=batches,
                    partition_key=key,
                )
            )
    return list(write_file(table.io, metadata, iter(tasks)))


def files_holding(table: Table, keys: pa.Table) -> list[tuple[DataFile, pa.Table]]:
    """Each data file that holds one of `keys`, with the rows it keeps once they are gone."""
    if table.current_snapshot() is None or keys.num_rows == 0:
        return []
    first = keys.column_names[0]
    values = {v for v in keys.column(first).to_pylist() if v is not None}
    scan = table.scan(row_filter=In(term=first, values=values)) if values else table.scan()
    reader = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
    holding = []
    for task in scan.plan_files():
        rows = reader.to_table([task])
        if rows.num_rows == 0:
            continue
        # The keys in the file's own types (string or large_string, a widened long), for the join.
        typed = keys.cast(pa.schema([rows.schema.field(n) for n in keys.column_names]))
        kept = rows.join(typed, keys=keys.column_names, join_type="left anti")
        if kept.num_rows < rows.num_rows:
            holding.append((task.file, conform(kept, table.schema())))
    return holding


def all_files(table: Table) -> list[tuple[DataFile, pa.Table]]:
    """Every data file of the current snapshot, keeping none of its rows."""
    if table.current_snapshot() is None:
        return []
    empty = schema_to_pyarrow(table.schema(), include_field_ids=False).empty_table()
    return [(task.file, empty) for task in table.scan().plan_files()]


def apply_change(
    table: Table, change: TableChange, snapshot_properties: dict[str, str], table_properties: dict[str, str]
) -> ChangeResult:
    """Write the change's files and commit them with `table_properties` as one catalog commit:
    a fast append when nothing is removed, an overwrite snapshot otherwise, and only the
    properties when the change turned out to touch no row."""
    rewritten: list[tuple[DataFile, pa.Table]] = []
    if change.replace_all:
        rewritten = all_files(table)
    elif change.remove_keys is not None and change.remove_keys.num_rows:
        rewritten = files_holding(table, change.remove_keys)
    pieces = [kept for _, kept in rewritten if kept.num_rows]
    if change.add is not None and change.add.num_rows:
        pieces.append(conform(change.add, table.schema()))
    added = write_data_files(table, pa.concat_tables(pieces)) if pieces else []
    with table.transaction() as transaction:
        if rewritten:
            with transaction.update_snapshot(snapshot_properties=snapshot_properties).overwrite() as snapshot:
                for old, _ in rewritten:
                    snapshot.delete_data_file(old)
                for new in added:
                    snapshot.append_data_file(new)
        elif added:
            with transaction.update_snapshot(snapshot_properties=snapshot_properties).fast_append() as snapshot:
                for new in added:
                    snapshot.append_data_file(new)
        transaction.set_properties(table_properties)
    return ChangeResult(
        len(added),
        len(rewritten),
        change.add.num_rows if change.add is not None else 0,
        sum(f.file_size_in_bytes for f in added),
    )
