"""Event time per Kinesis shard: each shard's latest times, children after their parents, and
the pause of a shard that runs too far ahead of the slowest (alignment).

The source's progress is the least over the shards being read (PartitionClocks). A parent read
to its end keeps holding time until its children are listed and started from where it ended,
so the watermark never passes records of a child that is not read yet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flowsql.sources.event_time import PartitionClocks, Times
from flowsql.sources.kinesis_records import UserRow

Shard = Mapping[str, Any]  # one entry of a ListShards answer


def parents_of(shard: Shard) -> list[str]:
    return [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p]


def latest_per_shard(table: pa.Table, rows: list[UserRow], columns: Iterable[str]) -> dict[str, Times]:
    """Per shard, the greatest time of each column among its rows (`rows[i]` made `table`'s row i)."""
    if not rows:
        return {}
    names = {name.lower(): name for name in table.column_names}
    data: dict[str, pa.Array | pa.ChunkedArray] = {"shard": pa.array([row.shard for row in rows])}
    for column in columns:
        if column in names:
            values = table.column(names[column])
            if not pa.types.is_timestamp(values.type) or values.type.unit != "us" or values.type.tz is not None:
                values = pc.cast(values, pa.timestamp("us"))
            data[column] = values.cast(pa.int64())
    measured = [c for c in data if c != "shard"]
    grouped = pa.table(data).group_by("shard").aggregate([(c, "max") for c in measured]).to_pylist()
    return {g["shard"]: {c: g[f"{c}_max"] for c in measured if g[f"{c}_max"] is not None} for g in grouped}


class ShardClocks:
    """The source's per-shard clocks, told by the source's loop and asked by its shard readers."""

    def __init__(self, clocks: PartitionClocks) -> None:
        self.clocks = clocks
        self.moved = threading.Condition()  # notified when the progress moves: paused readers look again
        self._reading: set[str] = set()  # shards registered and not released
        self._held: dict[str, int] = {}  # a shard read to its end -> the listing count when it ended
        self._ended: dict[str, Times] = {}  # a released shard -> where its time ended
        self._listings = 0
        self._progress: dict[str, int | None] = {}

    # -- the source's loop -------------------------------------------------------------------
    def start(self, shard_id: str, shard: Shard) -> None:
        """The shard is ready to read: it holds time from now on, from where its parents ended
        (for a merge, the lesser of the two)."""
        parents = parents_of(shard)
        for parent in parents:
            if parent in self._held:
                self._release(parent)
        ends = [self._ended[p] for p in parents if p in self._ended]
        start = {c: min(e[c] for e in ends if c in e) for c in self.clocks.columns if any(c in e for e in ends)}
        self.clocks.add(shard_id, start)
        self._reading.add(shard_id)

    def observe(self, latest: dict[str, Times], fetched: Iterable[str]) -> None:
        """Shards `fetched` answered with records; `latest` holds their rows' greatest times."""
        for shard_id in fetched:
            self.clocks.observe(shard_id, latest.get(shard_id, {}))

    def ended(self, shard_id: str) -> None:
        """The shard was read to its end; it holds time until its children take over."""
        self._held[shard_id] = self._listings

    def listed(self, shards: Mapping[str, Shard]) -> None:
        """A new shard listing: parents whose children are all started, or are waited for by
        another parent still being read, stop holding time."""
        self._listings += 1
        children: dict[str, list[tuple[str, Shard]]] = {}
        for shard_id, shard in shards.items():
            for parent in parents_of(shard):
                children.setdefault(parent, []).append((shard_id, shard))
        for parent, ended_at in list(self._held.items()):
            mine = children.get(parent, [])
            if not mine:
                # No child listed: a listing taken after the end would show one if it existed.
                if self._listings > ended_at + 1 or parent not in shards:
                    self._release(parent)
                continue
            if all(child in self._reading or self._waits_on_other(parent, shard) for child, shard in mine):
                self._release(parent)

    def answered_empty(self, shard_id: str) -> None:
        self.clocks.answered_empty(shard_id)

    def progress(self) -> tuple[dict[str, int | None], bool]:
        """The source's progress, and whether it moved since last asked (readers are woken then)."""
        progress = self.clocks.progress()
        moved = progress != self._progress
        if moved:
            self._progress = progress
            self.wake()
        return progress, moved

    def wake(self) -> None:
        with self.moved:
            self.moved.notify_all()

    def snapshot(self) -> dict[str, dict[str, object]]:
        return self.clocks.snapshot()

    def _waits_on_other(self, parent: str, child: Shard) -> bool:
        """Another parent of `child` is still to be read to its end: it (or its own parents)
        holds time until the child starts."""
        return any(p != parent and p not in self._held and p not in self._ended for p in parents_of(child))

    def _release(self, shard_id: str) -> None:
        self._held.pop(shard_id, None)
        self._reading.discard(shard_id)
        self._ended[shard_id] = self.clocks.finish(shard_id)

    # -- the shard readers -------------------------------------------------------------------
    def wait_turn(self, shard_id: str, stop: threading.Event) -> bool:
        """Before asking a shard for records: while it runs more than max_drift ahead of the
        slowest shard, wait (paused) until the slowest moves. True if it was paused."""
        if not self.clocks.ahead(shard_id):
            return False
        self.clocks.set_paused(shard_id, True)
        try:
            with self.moved:
                while not stop.is_set() and self.clocks.ahead(shard_id):
                    # Woken when the progress moves; the timeout only lets a stop be seen.
                    self.moved.wait(timeout=1.0)
        finally:
            self.clocks.set_paused(shard_id, False)
        return True
