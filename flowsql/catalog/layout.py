"""How a sink's prefix maps to a partitioned table: the LOCATION, the partition keys with
their projections, and the `storage.location.template` that finds each partition's folder.

Hive folders (`key=!{...}/`) give partition columns named after the key. Folders of bare
timestamps (the default `yyyy/MM/dd/HH/`) become one synthetic date key, `partition_time`,
whose projection format holds the slashes; bare query values become `partition_<column>`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from flowsql.delivery.prefix import Part, Prefix
from flowsql.javadate import field_names, pattern_regex

# Prefix times can be event time (window_start, a time_column), so the range reaches back
# five years; widen it in the DDL for older data.
DATE_RANGE = "NOW-5YEARS,NOW"
# The finest field of a pattern decides the projection's step.
_UNITS = [
    ("ss", "SECONDS"),
    ("mm", "MINUTES"),
    ("HH", "HOURS"),
    ("dd", "DAYS"),
    ("DDD", "DAYS"),
    ("EEE", "DAYS"),
    ("MMM", "MONTHS"),
    ("MM", "MONTHS"),
    ("yyyy", "YEARS"),
    ("yy", "YEARS"),
]
_SINGLE_FIELD_RANGES = {"MM": (1, 12), "dd": (1, 31), "HH": (0, 23), "mm": (0, 59), "ss": (0, 59)}


@dataclass(frozen=True)
class PartitionKey:
    name: str  # lower-case, as Athena names it
    athena_type: str
    projection: dict[str, str]  # projection.<name>.<property> = value, without the prefix
    value_regex: str  # what one rendered value looks like in a key
    query_column: str | None = None  # the query column a Hive folder takes its value from


@dataclass(frozen=True)
class TableLayout:
    location: str  # where the table starts, ending with '/'
    template: str  # relative to location, with ${key} for each partition key
    keys: tuple[PartitionKey, ...] = field(default_factory=tuple)
    static: str = ""  # the prefix's literal folders, part of location

    @property
    def hive_columns(self) -> tuple[str, ...]:
        """Query columns that live only in folder names (dropped from the objects)."""
        return tuple(k.query_column for k in self.keys if k.query_column)

    def storage_template(self) -> str:
        return self.location + self.template

    def partition_of(self, relative_key: str) -> tuple[list[str], str] | None:
        """Partition values and folder (relative to location) of an object key (relative to the
        sink's root), or None if it lies elsewhere."""
        if not relative_key.startswith(self.static):
            return None
        relative_key = relative_key[len(self.static) :]
        regex = "^" + "".join(
            f"({next(k.value_regex for k in self.keys if k.name == piece[2:-1])})"
            if piece.startswith("${")
            else re.escape(piece)
            for piece in re.split(r"(\$\{[a-z0-9_]+\})", self.template)
            if piece
        )
        match = re.match(regex, relative_key)
        if match is None:
            return None
        return [unquote(v) for v in match.groups()], match.group(0)


def table_layout(prefix: Prefix, base: str, query_columns: list[str]) -> TableLayout:
    """The layout of objects written under `base` (a URL ending with '/') with `prefix`."""
    parts = list(prefix.parts)
    static = ""
    # LOCATION takes the literal folders before the first expression.
    if parts and not parts[0].namespace:
        literal = parts[0].literal
        cut = literal.rfind("/") + 1
        static = literal[:cut]
        parts = ([Part(literal=literal[cut:])] if literal[cut:] else []) + parts[1:]
    if not any(p.namespace for p in prefix.parts):
        return TableLayout(base + static, "", (), static)
    taken = {c.lower() for c in query_columns}
    keys: list[PartitionKey] = []
    template: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if not part.namespace:
            template.append(part.literal)
            i += 1
            continue
        if part.namespace == "firehose":
            break  # random names are not partitions: the template stops before them
        before = template[-1] if template else ""
        hive = re.search(r"(?:^|/)([A-Za-z_][A-Za-z0-9_]*)=$", before)
        if hive:
            key = _hive_key(hive.group(1).lower(), part)
            i += 1
        elif part.namespace == "timestamp":
            # Bare timestamps and the literals between them make one date key.
            pattern, i = _merge_timestamps(parts, i)
            key = _date_key(_free_name("partition_time", taken), pattern)
        else:
            key = _injected_key(_free_name(f"partition_{part.value.lower()}", taken), None)
            i += 1
        taken.add(key.name)
        keys.append(key)
        template.append("${" + key.name + "}")
    text = "".join(template)
    text = text[: text.rfind("/") + 1]  # only whole folders are partitions
    kept = tuple(k for k in keys if "${" + k.name + "}" in text)
    return TableLayout(base + static, text, kept, static)


def location_base(connector: str, options: dict[str, str]) -> str | None:
    """Where a sink's prefix starts, from its options: s3://bucket/ or file:///abs/path/."""
    if connector == "s3" and options.get("bucket"):
        return f"s3://{options['bucket']}/"
    if connector == "file" and options.get("path"):
        return "file://" + os.path.abspath(options["path"]).rstrip("/") + "/"
    return None


def _hive_key(name: str, part: Part) -> PartitionKey:
    if part.namespace == "partitionKeyFromQuery":
        return _injected_key(name, part.value)
    if part.namespace == "partitionKeyFromLambda":  # a transformation handler's key: no column holds it
        return _injected_key(name, None)
    pattern = part.value
    single = _SINGLE_FIELD_RANGES.get(pattern)
    if single is not None:
        return PartitionKey(
            name, "int", {"type": "integer", "range": f"{single[0]},{single[1]}", "digits": "2"}, r"\d{2}"
        )
    if "y" in pattern:
        return _date_key(name, pattern)
    # A time-of-day without a year has no date to project: its values are given in queries.
    return PartitionKey(name, "string", {"type": "injected"}, pattern_regex(pattern))


def _injected_key(name: str, column: str | None) -> PartitionKey:
    return PartitionKey(name, "string", {"type": "injected"}, r"[^/]+", column)


def _date_key(name: str, pattern: str) -> PartitionKey:
    fields = set(field_names(pattern))
    unit = next(u for token, u in _UNITS if token in fields)
    return PartitionKey(
        name,
        "string",
        {"type": "date", "format": pattern, "range": DATE_RANGE, "interval": "1", "interval.unit": unit},
        pattern_regex(pattern),
    )


def _merge_timestamps(parts: list[Part], i: int) -> tuple[str, int]:
    pattern = parts[i].value
    i += 1
    while (
        i + 1 < len(parts)
        and not parts[i].namespace
        and "=" not in parts[i].literal
        and parts[i + 1].namespace == "timestamp"
    ):
        pattern += _quote_literal(parts[i].literal) + parts[i + 1].value
        i += 2
    return pattern, i


def _quote_literal(text: str) -> str:
    return "".join(f"'{c}'" if c.isalpha() else c for c in text)


def _free_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate
