"""A deterministic Debezium-style change feed of an `orders` table, for the `cdc-orders` generator.

Every order lives through four changes: a create ('pending'), an update to 'paid' or
'cancelled' (sometimes with a discounted amount), an update to 'shipped' (or a refund to 0 for a
cancelled order), and finally either an update to 'delivered' or a delete. Change n of the feed
is a pure function of (seed, n), computed vectorised, so the feed is the same whatever the batch
size. Delivery is at-least-once and out of order within documented bounds:

- the feed is cut into chunks of `reorder_window` consecutive changes (in LSN order); within a
  chunk the changes are delivered in a random order, never outside it, so a change arrives at
  most reorder_window - 1 records away from its place;
- a change is delivered twice with probability `duplicate_rate`, both copies in its chunk;
- change n happens at start_time + n / rate (its source.ts_ms); every record of a chunk
  arrives (arrival_time) at the time of the chunk's last change, so arrival is never before the
  change and change_time runs at most reorder_window / rate behind the newest one seen.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from flowsql.records import ARRIVAL_TIME

ORDER_COLUMNS = {
    "order_id": pa.int64(),
    "customer_id": pa.string(),
    "region": pa.string(),
    "status": pa.string(),
    "amount": pa.float64(),
    "updated_at": pa.timestamp("us"),
}
REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south", "sa-east"]
STATUSES = ["pending", "paid", "cancelled", "shipped", "delivered"]
LSN_BASE = 1_000_000
LSN_STEP = 8
# Order k's change v takes slot 4 * (k + LAG[v]) + v: versions of an order lie LAG rounds apart,
# so changes of many orders interleave; a create and its first update (and the last two
# changes) lie only 12 to 16 changes apart, so a reorder window above that delivers changes of
# the same order out of order.
LAG = np.array([0, 3, 400, 404], dtype=np.int64)
_FIRST_FULL_SLOT = 4 * int(LAG.max())
_EARLY_SLOTS = np.array([s for s in range(_FIRST_FULL_SLOT) if s // 4 >= LAG[s % 4]], dtype=np.int64)
_SKIPPED = _FIRST_FULL_SLOT - len(_EARLY_SLOTS)


def change_slot(change: np.ndarray) -> np.ndarray:
    """The slot of change n: early rounds skip slots whose order does not exist yet."""
    early = change < len(_EARLY_SLOTS)
    return np.where(early, _EARLY_SLOTS[np.minimum(change, len(_EARLY_SLOTS) - 1)], change + _SKIPPED)


def slot_change(slot: np.ndarray) -> np.ndarray:
    """The inverse of change_slot for valid slots."""
    early = np.searchsorted(_EARLY_SLOTS, slot)
    return np.where(slot < _FIRST_FULL_SLOT, early, slot - _SKIPPED)


def _mix(seed: int, *parts: np.ndarray | int) -> np.ndarray:
    """A splitmix64 hash of (seed, parts): uniform uint64, the same on every call."""
    value = np.full(np.shape(parts[0]), (seed * 0x9E3779B97F4A7C15) % (1 << 64), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in parts:
            value = value ^ (np.asarray(part).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
            value = (value ^ (value >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            value = (value ^ (value >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            value = value ^ (value >> np.uint64(31))
    return value


def _uniform(seed: int, *parts: np.ndarray | int) -> np.ndarray:
    return (_mix(seed, *parts) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def order_images(
    seed: int, order: np.ndarray, version: np.ndarray, time_us: np.ndarray, customers: int, delete_rate: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The row of `order` after its change `version` (changed at time_us), and whether that
    change is a delete (then the row is the last one before it)."""
    base = np.round(2.0 + _uniform(seed, order, 0) * 298.0, 2)
    discounted = np.round(base * 0.9, 2)
    cancelled = _uniform(seed, order, 1) < 0.12
    discount = _uniform(seed, order, 2) < 0.3
    deleted = (version == 3) & (cancelled | (_uniform(seed, order, 3) < delete_rate))
    status = np.select(
        [version == 0, cancelled & (version >= 1), version == 1, version == 2],
        [0, 2, 1, 3],
        default=4,
    )
    status = np.where(deleted, np.where(cancelled, 2, 3), status)
    amount = np.where(version == 0, base, np.where(discount, discounted, base))
    amount = np.where(cancelled & (version >= 2), 0.0, amount)
    row = {
        "order_id": order + 1,
        "customer_id": np.array([f"c{n:05d}" for n in range(customers)], dtype=object)[
            (_mix(seed, order, 4) % np.uint64(customers)).astype(np.int64)
        ],
        "region": np.array(REGIONS, dtype=object)[(_mix(seed, order, 5) % np.uint64(len(REGIONS))).astype(np.int64)],
        "status": np.array(STATUSES, dtype=object)[status],
        "amount": amount,
        "updated_at": time_us,
    }
    return row, deleted


def change_events(
    seed: int, first: int, last: int, start_us: int, rate: float, customers: int, delete_rate: float
) -> dict[str, np.ndarray]:
    """Changes first..last-1 in LSN order, as flat columns (op, lsn, ts_us, before_*, after_*)."""
    change = np.arange(first, last, dtype=np.int64)
    slot = change_slot(change)
    version = slot % 4
    order = slot // 4 - LAG[version]
    step_us = 1_000_000 / rate
    time_us = start_us + (change * step_us).astype(np.int64) // 1000 * 1000  # Debezium's ts_ms
    after, deleted = order_images(seed, order, version, time_us, customers, delete_rate)
    previous = np.maximum(version - 1, 0)
    previous_change = slot_change(4 * (order + LAG[previous]) + previous)
    previous_us = start_us + (previous_change * step_us).astype(np.int64) // 1000 * 1000
    before, _ = order_images(seed, order, previous, previous_us, customers, delete_rate)
    op = np.where(version == 0, "c", np.where(deleted, "d", "u")).astype(object)
    events: dict[str, np.ndarray] = {
        "op": op,
        "lsn": LSN_BASE + change * LSN_STEP,
        "ts_us": time_us,
        "has_before": version > 0,
        "has_after": ~deleted,
    }
    for name in ORDER_COLUMNS:
        events[f"before_{name}"] = before[name]
        events[f"after_{name}"] = np.where(deleted, before[name], after[name]) if name != "updated_at" else after[name]
    return events


def delivery_order(seed: int, first: int, last: int, window: int, duplicate_rate: float) -> np.ndarray:
    """Which changes (absolute numbers, duplicates repeated) are delivered, in delivery order, for
    the whole chunks of `window` changes in first..last-1 (first is a multiple of window)."""
    change = np.arange(first, last, dtype=np.int64)
    duplicated = change[_uniform(seed, change, 101) < duplicate_rate]
    items = np.concatenate([change, duplicated])
    copy = np.concatenate([np.zeros(len(change), np.int64), np.ones(len(duplicated), np.int64)])
    shuffle = _uniform(seed, items, 102 + copy)
    order = np.lexsort((shuffle, items // window))
    return items[order]


def _struct(
    values: dict[str, np.ndarray],
    take: np.ndarray,
    valid: np.ndarray,
    target: pa.StructType,
) -> pa.StructArray:
    arrays = []
    for field in target:
        source = values.get(field.name)
        if source is None:
            arrays.append(pa.nulls(len(take), field.type))
            continue
        kind = ORDER_COLUMNS[field.name]
        arrays.append(pa.array(source[take], kind).cast(field.type))
    return pa.StructArray.from_arrays(arrays, fields=list(target), mask=pa.array(~valid[take]))


def debezium_table(
    events: dict[str, np.ndarray], take: np.ndarray, arrival_us: np.ndarray, schema: pa.Schema
) -> pa.Table:
    """Records in Debezium's envelope (before, after, op, ts_ms, source{lsn, ts_ms}), shaped to
    `schema` (the columns a CDC table's format reads, or the default envelope)."""
    before = {name: events[f"before_{name}"] for name in ORDER_COLUMNS}
    after = {name: events[f"after_{name}"] for name in ORDER_COLUMNS}
    ts_ms = events["ts_us"][take] // 1000
    columns: dict[str, pa.Array] = {}
    for field in schema:
        if field.name == "before":
            columns["before"] = _struct(before, take, events["has_before"], field.type)
        elif field.name == "after":
            columns["after"] = _struct(after, take, events["has_after"], field.type)
        elif field.name == "op":
            columns["op"] = pa.array(events["op"][take], pa.string())
        elif field.name == "ts_ms":
            columns["ts_ms"] = pa.array(ts_ms + 150, pa.int64()).cast(field.type)  # Debezium reads a bit later
        elif field.name == "source":
            source = {"lsn": pa.array(events["lsn"][take]), "ts_ms": pa.array(ts_ms)}
            arrays = [
                source[f.name].cast(f.type) if f.name in source else pa.nulls(len(take), f.type) for f in field.type
            ]
            columns["source"] = pa.StructArray.from_arrays(arrays, fields=list(field.type))
        elif field.name == ARRIVAL_TIME:
            columns[ARRIVAL_TIME] = pa.array(arrival_us, pa.int64()).cast(pa.timestamp("us"))
        else:
            columns[field.name] = pa.nulls(len(take), field.type)
    return pa.table(columns, schema=schema)


DEFAULT_SCHEMA = pa.schema(
    [
        ("before", pa.struct(list(ORDER_COLUMNS.items()))),
        ("after", pa.struct(list(ORDER_COLUMNS.items()))),
        ("op", pa.string()),
        ("ts_ms", pa.int64()),
        ("source", pa.struct([("lsn", pa.int64()), ("ts_ms", pa.int64())])),
    ]
)


def unknown_columns(schema: pa.Schema) -> list[str]:
    """Columns this generator cannot fill: image columns it has no value for, or the Debezium
    envelope's own fields missing (a CDC table reading it with another format)."""
    missing = [name for name in ("op", "after") if name not in schema.names]
    if missing:
        return missing
    out = []
    for name in ("before", "after"):
        if name in schema.names and pa.types.is_struct(schema.field(name).type):
            out += [f.name for f in schema.field(name).type if f.name not in ORDER_COLUMNS]
    return sorted(set(out))
