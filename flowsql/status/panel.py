"""The live status panel drawn with rich on a terminal: sources, watermarks, sinks."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from flowsql.status.view import StatusView, human_bytes, human_seconds, shard_state


def render_panel(pipeline: str, view: StatusView, shards: bool = False) -> RenderableType:
    title = Text.assemble(
        (f"flowsql {pipeline}", "bold"),
        f"  up {human_seconds(view.uptime_seconds)}",
        f"  open windows {view.open_window_rows:,} rows",
    )
    if view.checkpoint_epoch is not None:
        failures = view.checkpoint_failures
        title.append(f"  checkpoint epoch {view.checkpoint_epoch}, {human_seconds(view.checkpoint_age_seconds)} ago")
        title.append(f", {failures:,} failed" if failures else "", style="bold red" if failures else "")
    sources = Table(title="sources", title_justify="left", expand=False)
    for column in ("source", "events/s", "events in", "errors", "late", "lag", "throttles"):
        sources.add_column(column, justify="left" if column == "source" else "right")
    for s in view.sources:
        sources.add_row(
            s.name,
            f"{s.events_per_second:,.0f}",
            f"{s.events:,}",
            f"{s.errors:,}",
            f"{s.late:,}",
            human_seconds(s.lag_seconds),
            f"{s.throttles:,}",
        )
        if shards:
            for shard in sorted(set(s.shard_lag_seconds) | set(s.shard_events_per_second)):
                rate = s.shard_events_per_second.get(shard)
                sources.add_row(
                    f"  {shard}",
                    "-" if rate is None else f"{rate:,.0f}",
                    "",
                    "",
                    "",
                    human_seconds(s.shard_lag_seconds.get(shard)),
                    "",
                )
    watermarks = Table(title="watermarks", title_justify="left")
    for column in ("stream", "column", "watermark (UTC)", "behind wall clock"):
        watermarks.add_column(column, justify="right" if column == "behind wall clock" else "left")
    for w in view.watermarks:
        watermarks.add_row(w.stream, w.column, w.watermark, human_seconds(w.behind_seconds))
    shard_table = _shard_watermarks(view) if shards else None
    sinks = Table(title="sinks", title_justify="left")
    for column in (
        "sink",
        "rows/s",
        "rows out",
        "objects",
        "delivered",
        "buffered",
        "next flush",
        "retries",
        "throttles",
        "errors",
    ):
        sinks.add_column(column, justify="left" if column == "sink" else "right")
    for k in view.sinks:
        sinks.add_row(
            k.name,
            f"{k.rows_per_second:,.0f}",
            f"{k.rows:,}",
            f"{k.objects:,}",
            human_bytes(k.bytes),
            f"{human_bytes(k.buffer_bytes)} / {k.buffer_rows:,} rows",
            human_seconds(k.next_flush_seconds),
            f"{k.retries:,}",
            f"{k.throttles:,}",
            f"{k.error_records + k.failures:,}",
        )
    parts: list[RenderableType] = [title, sources, watermarks]
    parts += ([shard_table] if shard_table is not None else []) + [sinks]
    return Group(*parts)


def _shard_watermarks(view: StatusView) -> Table | None:
    """Each shard's watermark per time column and whether it is read, idle or paused."""
    sources = [s for s in view.sources if s.shard_watermarks]
    if not sources:
        return None
    columns = sorted({c for s in sources for marks in s.shard_watermarks.values() for c in marks})
    table = Table(title="shard watermarks (UTC)", title_justify="left")
    for name in ("source", "shard", *columns, "state"):
        table.add_column(name)
    for s in sources:
        for shard, marks in sorted(s.shard_watermarks.items()):
            table.add_row(s.name, shard, *(marks.get(c, "-") for c in columns), shard_state(s, shard))
    return table
