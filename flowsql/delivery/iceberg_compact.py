"""`flowsql compact`: small-file care for the tables of a pipeline's iceberg sinks.

PyIceberg has no data-file rewrite action, so compaction reads each partition that holds more
than one small file and writes its rows back as few files, all such partitions in one overwrite
commit (readers see the old files or the new ones, never both). Then snapshots older than the
retention are expired, and the files only they referenced are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.table import FileScanTask, Table

from flowsql.delivery.iceberg_files import conform, write_data_files


@dataclass
class CompactionReport:
    table: str
    files_before: int = 0
    files_after: int = 0
    partitions_rewritten: int = 0
    snapshots_expired: int = 0
    files_deleted: int = 0

    def text(self) -> str:
        return (
            f"{self.table}: {self.files_before:,} data files -> {self.files_after:,} "
            f"({self.partitions_rewritten:,} partitions rewritten); {self.snapshots_expired:,} snapshots "
            f"expired, {self.files_deleted:,} files no snapshot references deleted"
        )


def small_file_groups(table: Table, target_size: int) -> list[list[FileScanTask]]:
    """Per partition, the small files worth merging (two or more, none with delete files)."""
    groups: dict[tuple[object, ...], list[FileScanTask]] = {}
    for task in table.scan().plan_files():
        if task.delete_files or task.file.file_size_in_bytes >= target_size:
            continue
        partition = task.file.partition  # a Record: indexed, with no __iter__ for mypy to see
        key = (task.file.spec_id, *(partition[i] for i in range(len(partition))))
        groups.setdefault(key, []).append(task)
    return [tasks for tasks in groups.values() if len(tasks) > 1]


def rewrite_small_files(table: Table, target_size: int) -> int:
    """Merge the small files of every partition that has several, in one overwrite commit."""
    groups = small_file_groups(table, target_size)
    if not groups:
        return 0
    reader = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue())
    rows = [conform(reader.to_table(tasks), table.schema()) for tasks in groups]
    added = write_data_files(table, pa.concat_tables(rows))
    with (
        table.transaction() as transaction,
        transaction.update_snapshot(snapshot_properties={"flowsql.compaction": "true"}).overwrite() as commit,
    ):
        for tasks in groups:
            for task in tasks:
                commit.delete_data_file(task.file)
        for data_file in added:
            commit.append_data_file(data_file)
    return len(groups)


def referenced_files(table: Table, snapshot_ids: set[int], live_only: bool) -> set[str]:
    """The files (data files, manifests, manifest lists) the given snapshots reference; with
    `live_only`, not the data files a snapshot records as deleted."""
    paths: set[str] = set()
    for snapshot in table.metadata.snapshots:
        if snapshot.snapshot_id not in snapshot_ids:
            continue
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            paths.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=live_only):
                paths.add(entry.data_file.file_path)
    return paths


def expire_snapshots(table: Table, older_than: timedelta, retain_last: int) -> tuple[int, int]:
    """Expire snapshots older than `older_than` beyond the newest `retain_last`; delete the files
    only they referenced. Returns (snapshots expired, files deleted)."""
    cutoff = int((datetime.now(UTC) - older_than).timestamp() * 1000)
    snapshots = sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms)
    keep = {s.snapshot_id for s in snapshots[-max(1, retain_last) :]}
    current = table.current_snapshot()
    if current is not None:
        keep.add(current.snapshot_id)
    expired = [s.snapshot_id for s in snapshots if s.timestamp_ms < cutoff and s.snapshot_id not in keep]
    if not expired:
        return 0, 0
    remaining = {s.snapshot_id for s in snapshots} - set(expired)
    before = referenced_files(table, set(expired), False) - referenced_files(table, remaining, True)
    table.maintenance.expire_snapshots().by_ids(expired).commit()
    for path in before:
        table.io.delete(path)
    return len(expired), len(before)


def compact(
    table: Table, name: str, target_size: int, older_than: timedelta | None, retain_last: int
) -> CompactionReport:
    report = CompactionReport(name, files_before=len(list(table.scan().plan_files())))
    report.partitions_rewritten = rewrite_small_files(table, target_size)
    table.refresh()
    if older_than is not None:
        report.snapshots_expired, report.files_deleted = expire_snapshots(table, older_than, retain_last)
        table.refresh()
    report.files_after = len(list(table.scan().plan_files()))
    return report
