"""An iceberg sink's table shape: the partition spec from `partition_by` (Iceberg's transform
names), the Iceberg schema of a query's output, and how an existing table may evolve to take it.

Evolution rules: a query column the table lacks is added as an optional column; a column whose
type Iceberg may widen (int to long, float to double, a decimal's precision) is widened; a
narrower query type is cast up on write; anything else is a conflict, refused at `validate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
from pyiceberg.io.pyarrow import _ConvertToIcebergWithoutIDs, visit_pyarrow
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema, assign_fresh_schema_ids
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
)
from pyiceberg.types import DecimalType, DoubleType, FloatType, IcebergType, IntegerType, LongType

_TERM = re.compile(r"^\s*(?:(\w+)\s*\(\s*(?:(\d+)\s*,\s*)?(\w+)\s*\)|(\w+))\s*$")
_TIME_TRANSFORMS = {"year": YearTransform, "month": MonthTransform, "day": DayTransform, "hour": HourTransform}
_SUFFIX = {"year": "year", "month": "month", "day": "day", "hour": "hour", "bucket": "bucket", "truncate": "trunc"}


@dataclass(frozen=True)
class PartitionTerm:
    """One partition field: a source column, a transform and the field's name."""

    column: str
    transform: Transform
    name: str

    def describe(self) -> str:
        """The term as written in `partition_by` (and in Athena's PARTITIONED BY)."""
        text = str(self.transform)
        if text == "identity":
            return self.column
        match = re.fullmatch(r"(\w+)\[(\d+)\]", text)
        if match:
            return f"{match.group(1)}({match.group(2)}, {self.column})"
        return f"{text}({self.column})"


def parse_partition_by(text: str, schema: Schema) -> list[PartitionTerm]:
    """`day(window_start), page, bucket(16, user_id)` into partition terms; ValueError names the
    term that is wrong."""
    terms: list[PartitionTerm] = []
    for piece in [p for p in _split_terms(text) if p.strip()]:
        match = _TERM.match(piece)
        if not match:
            raise ValueError(
                f"cannot read partition term {piece.strip()!r}; write a column, or a transform such "
                "as day(ts), hour(ts), month(ts), year(ts), bucket(16, id), truncate(10, name)"
            )
        name, width, column, bare = match.groups()
        column = column or bare
        found = schema.find_field(column, case_sensitive=False) if _has(schema, column) else None
        if found is None:
            raise ValueError(
                f"partition term {piece.strip()!r} names no column of the query's result "
                f"({', '.join(f.name for f in schema.fields)})"
            )
        terms.append(_term(name, width, found.name, found.field_type, piece.strip()))
    return terms


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses (bucket(16, id) holds one)."""
    pieces, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            pieces.append(current)
            current = ""
        else:
            current += char
    return [*pieces, current]


def _has(schema: Schema, column: str) -> bool:
    return any(f.name.lower() == column.lower() for f in schema.fields)


def _term(name: str | None, width: str | None, column: str, kind: IcebergType, text: str) -> PartitionTerm:
    if name is None:
        return PartitionTerm(column, IdentityTransform(), column)
    name = name.lower()
    if name in _TIME_TRANSFORMS:
        if width is not None:
            raise ValueError(f"{name}() takes one column: {text!r}")
        transform: Transform = _TIME_TRANSFORMS[name]()
    elif name in ("bucket", "truncate"):
        if width is None:
            raise ValueError(f"{name}() takes a width and a column, as {name}(16, {column}): {text!r}")
        transform = BucketTransform(int(width)) if name == "bucket" else TruncateTransform(int(width))
    elif name == "identity" and width is None:
        return PartitionTerm(column, IdentityTransform(), column)
    else:
        raise ValueError(
            f"unknown partition transform {name!r} in {text!r}; Iceberg's transforms are identity, "
            "year, month, day, hour, bucket and truncate"
        )
    if not transform.can_transform(kind):
        raise ValueError(f"{name}() cannot partition column {column!r} of type {kind}")
    return PartitionTerm(column, transform, f"{column}_{_SUFFIX[name]}")


def spec_terms(spec: PartitionSpec, schema: Schema) -> list[PartitionTerm]:
    """An existing table's partition spec as terms, to compare with `partition_by`."""
    return [PartitionTerm(schema.find_field(f.source_id).name, f.transform, f.name) for f in spec.fields]


def describe_terms(terms: list[PartitionTerm]) -> str:
    return ", ".join(t.describe() for t in terms) or "unpartitioned"


def iceberg_schema(schema: pa.Schema) -> Schema:
    """The Iceberg schema of an Arrow schema (optional columns, fresh field ids); ValueError names
    a column Iceberg has no type for."""
    try:
        converted = visit_pyarrow(schema, _ConvertToIcebergWithoutIDs())
    except Exception as exc:  # PyIceberg's UnsupportedPyArrowTypeException and TypeError alike
        raise ValueError(f"{exc}; CAST the column to a type Iceberg has (timestamps in microseconds)") from None
    return assign_fresh_schema_ids(converted)


@dataclass
class SchemaChange:
    """What the table needs before it takes the query's rows."""

    add: list[tuple[str, IcebergType]] = field(default_factory=list)
    widen: list[tuple[str, IcebergType]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.add or self.widen)

    def describe(self) -> str:
        parts = [f"add column {n} {t}" for n, t in self.add] + [f"widen {n} to {t}" for n, t in self.widen]
        return ", ".join(parts)


def schema_change(table: Schema, query: Schema) -> SchemaChange:
    """How `table` evolves to take rows of `query`; ValueError says what cannot be reconciled."""
    change = SchemaChange()
    for column in query.fields:
        existing = next((f for f in table.fields if f.name == column.name), None)
        if existing is None:
            change.add.append((column.name, column.field_type))
            continue
        have, want = existing.field_type, column.field_type
        if have == want or _widens(want, have):
            continue  # the same, or the query's values cast up to the table's type on write
        if _widens(have, want):
            change.widen.append((column.name, want))
            continue
        raise ValueError(
            f"column {column.name!r} is {have} in the table and {want} in the query's result; Iceberg "
            "can only widen int to long, float to double and a decimal's precision. CAST the column "
            "in the query to the table's type, or write to a new table"
        )
    for existing in table.fields:
        if existing.required and not any(f.name == existing.name for f in query.fields):
            raise ValueError(f"the table's required column {existing.name!r} is not in the query's result")
    return change


def _widens(narrow: IcebergType, wide: IcebergType) -> bool:
    if isinstance(narrow, IntegerType) and isinstance(wide, LongType):
        return True
    if isinstance(narrow, FloatType) and isinstance(wide, DoubleType):
        return True
    return (
        isinstance(narrow, DecimalType)
        and isinstance(wide, DecimalType)
        and narrow.scale == wide.scale
        and narrow.precision < wide.precision
    )
