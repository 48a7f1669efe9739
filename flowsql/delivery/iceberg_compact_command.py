"""The `flowsql compact` command's work: pick the pipeline's iceberg sinks and compact each table."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from flowsql.errors import UsageError
from flowsql.options import parse_duration, parse_size

if TYPE_CHECKING:
    from flowsql.runner import PipelineRun


def compact_pipeline(
    run: PipelineRun, only: str | None, target_size: str, expire_older_than: str, retain_last: int
) -> list[str]:
    from flowsql.delivery.iceberg import IcebergSink
    from flowsql.delivery.iceberg_compact import compact

    try:
        target = parse_size(target_size)
        older = (
            None
            if expire_older_than.strip().lower() == "never"
            else timedelta(seconds=parse_duration(expire_older_than))
        )
    except ValueError as exc:
        raise UsageError(f"flowsql compact: {exc}") from None
    if retain_last < 1:
        raise UsageError("--retain-last must be at least 1")
    sinks = {n: s for n, s in run.sinks.items() if isinstance(s, IcebergSink)}
    if only is not None:
        sinks = {n: s for n, s in sinks.items() if n.lower() == only.lower()}
    if not sinks:
        raise UsageError(f"{run.pipeline.path} has no iceberg sink" + (f" named '{only}'" if only else ""))
    lines = []
    for sink in sinks.values():
        table = sink.open_table()
        lines.append(compact(table, sink.options.table, target, older, retain_last).text())
    return lines
