"""Firehose prefix expressions: parse and validate at load, render object keys at flush.

`!{timestamp:<Java date pattern>}` (UTC), `!{firehose:random-string}`,
`!{firehose:error-output-type}` (error prefix only), `!{partitionKeyFromQuery:column}` and
`!{partitionKeyFromLambda:key}` (a key a transformation handler returned; see transform.py).
Values taken from the data are escaped as Hive escapes partition values, so no record can
put a `/`, a `..` or a control character into a key or a path, and distinct values never share
a folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from urllib.parse import quote

from flowsql.javadate import PREFIX_FIELDS, UnclosedQuote, UnsupportedPattern, field_names, format_date

_EXPRESSION = re.compile(r"!\{([^}:]*):([^}]*)\}")
HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # NULL, as Hive writes it
EMPTY_PARTITION = "__EMPTY_STRING__"  # '' (Hive folds it into NULL; here it keeps a folder of its own)
# Objects wait under this root of an S3 bucket until their checkpoint commits (delivery/s3.py);
# no prefix may write there, and a data value cannot produce it (leading '.' is escaped).
STAGING_ROOT = ".flowsql-staging/"
_MAX_VALUE_LENGTH = 200
MAX_PREFIX_LENGTH = 1024
DEFAULT_PREFIX = "!{timestamp:yyyy/MM/dd/HH}/"
DEFAULT_ERROR_PREFIX = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"


class PrefixError(ValueError):
    """A prefix that breaks Firehose's rules; the message says which and how to fix it."""


@dataclass(frozen=True)
class Part:
    literal: str = ""
    namespace: str = ""
    value: str = ""


@dataclass(frozen=True)
class Prefix:
    text: str
    parts: tuple[Part, ...]

    @property
    def fixed_start(self) -> str:
        """The folders every rendered key starts with (the literal text before any expression,
        up to its last '/')."""
        literal = ""
        for part in self.parts:
            if part.namespace:
                break
            literal += part.literal
        return literal[: literal.rfind("/") + 1]

    @property
    def partition_keys(self) -> tuple[str, ...]:
        return tuple(p.value for p in self.parts if p.namespace == "partitionKeyFromQuery")

    @property
    def lambda_keys(self) -> tuple[str, ...]:
        """Keys of `!{partitionKeyFromLambda:key}`: a transformation handler's partition keys."""
        return tuple(p.value for p in self.parts if p.namespace == "partitionKeyFromLambda")

    @property
    def partition_columns(self) -> tuple[str, ...]:
        """The columns a batch is split by: query columns, then the handler's keys' columns."""
        return self.partition_keys + tuple(lambda_key_column(k) for k in self.lambda_keys)

    @property
    def hive_keys(self) -> tuple[str, ...]:
        """Partition keys written as `key=!{partitionKeyFromQuery:key}` folders."""
        keys = []
        for before, part in pairwise(self.parts):
            if part.namespace == "partitionKeyFromQuery" and before.literal.endswith(f"{part.value}="):
                keys.append(part.value)
        return tuple(keys)

    @property
    def timestamp_patterns(self) -> tuple[str, ...]:
        return tuple(p.value for p in self.parts if p.namespace == "timestamp")

    @property
    def uses_expressions(self) -> bool:
        return any(p.namespace for p in self.parts)

    def render(
        self, when: datetime, partition: dict[str, object] | None = None, error_type: str | None = None, seed: str = ""
    ) -> str:
        if when.tzinfo is not None:
            when = when.astimezone(UTC)
        out = []
        for part in self.parts:
            if not part.namespace:
                out.append(part.literal)
            elif part.namespace == "timestamp":
                out.append(format_java_date(part.value, when))
            elif part.value == "random-string":
                # Deterministic per object (the seed is the object's name), so a replay writes
                # the same key and overwrites instead of duplicating.
                out.append(hashlib.sha256(seed.encode()).hexdigest()[:11])
            elif part.value == "error-output-type":
                out.append(sanitise_value(error_type or "unknown"))
            elif part.namespace == "partitionKeyFromLambda":
                out.append(sanitise_value((partition or {}).get(lambda_key_column(part.value))))
            else:
                out.append(sanitise_value((partition or {}).get(part.value)))
        return "".join(out)


def parse_prefix(text: str, *, error_prefix: bool = False) -> Prefix:
    """Split a prefix into literal text and expressions, with Firehose's validation rules."""
    if len(text) > MAX_PREFIX_LENGTH:
        raise PrefixError(f"a prefix is at most {MAX_PREFIX_LENGTH} characters (this one has {len(text)})")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise PrefixError(f"prefix {text!r} holds a control character")
    parts: list[Part] = []
    position = 0
    for match in _EXPRESSION.finditer(text):
        if match.start() > position:
            parts.append(Part(literal=text[position : match.start()]))
        namespace, value = match.group(1).strip(), match.group(2).strip()
        if "!{" in namespace or "!{" in value:
            raise PrefixError(f"expressions cannot be nested: {match.group(0)!r} in prefix {text!r}")
        if not value:
            raise PrefixError(f"{match.group(0)!r} in prefix {text!r} needs a value, as in !{{timestamp:yyyy}}")
        _check_expression(namespace, value, error_prefix)
        parts.append(Part(namespace=namespace, value=value))
        position = match.end()
    if position < len(text):
        parts.append(Part(literal=text[position:]))
    for part in parts:
        if "!{" in part.literal or "}" in part.literal and "!{" in text:
            raise PrefixError(f"unclosed or malformed expression in prefix {text!r}: write !{{namespace:value}}")
    prefix = Prefix(text, tuple(parts))
    _check_shape(prefix)
    if error_prefix and prefix.uses_expressions and not any(p.value == "error-output-type" for p in parts):
        raise PrefixError(
            f"error_output_prefix {text!r} uses expressions, so it must hold !{{firehose:error-output-type}} "
            "(Firehose's rule: failed records of different kinds must not share a folder)"
        )
    return prefix


def _check_shape(prefix: Prefix) -> None:
    """A key must not climb out of its bucket or folder: no leading '/', no '.' or '..' segment,
    no empty segment. Checked on a sample rendering so quoted text in date patterns counts too."""
    sample = prefix.render(
        datetime(2000, 1, 1, tzinfo=UTC), {k: "x" for k in prefix.partition_columns}, error_type="x", seed="x"
    )
    segments = sample.split("/")
    closing = segments[:-1] if sample.endswith("/") else segments
    if sample.startswith("/") or any(s in (".", "..") for s in segments) or "" in closing[1:]:
        raise PrefixError(f"prefix {prefix.text!r} must not start with '/' or hold '.', '..' or empty ('//') folders")
    if sample.startswith(STAGING_ROOT):
        raise PrefixError(
            f"prefix {prefix.text!r} starts with {STAGING_ROOT!r}, where objects wait for their "
            "checkpoint: choose another folder"
        )


def _check_expression(namespace: str, value: str, error_prefix: bool) -> None:
    if namespace == "timestamp":
        format_java_date(value, datetime(2000, 1, 1))
        return
    if namespace == "firehose":
        if value == "random-string":
            return
        if value == "error-output-type":
            if not error_prefix:
                raise PrefixError("!{firehose:error-output-type} is allowed only in error_output_prefix")
            return
        raise PrefixError(f"unknown expression !{{firehose:{value}}}: use random-string or error-output-type")
    if namespace == "partitionKeyFromQuery":
        if error_prefix:
            raise PrefixError("!{partitionKeyFromQuery:...} is not allowed in error_output_prefix")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise PrefixError(f"!{{partitionKeyFromQuery:{value}}} must name a column of the query")
        return
    if namespace == "partitionKeyFromLambda":
        # Whether the sink has a handler to return the key is the sink's check (sink.py).
        if error_prefix:
            raise PrefixError("!{partitionKeyFromLambda:...} is not allowed in error_output_prefix")
        if not value or any(ord(c) < 32 for c in value):
            raise PrefixError(f"!{{partitionKeyFromLambda:{value}}} must name a key the handler returns")
        return
    raise PrefixError(
        f"unknown namespace {namespace!r} in !{{{namespace}:{value}}}: use timestamp, firehose, "
        "partitionKeyFromQuery or partitionKeyFromLambda"
    )


def lambda_key_column(key: str) -> str:
    """The column that carries a handler's partition key through the delivery buffer. Named as
    the expression itself, which no column of a query or a transform_schema is called."""
    return f"!{{partitionKeyFromLambda:{key}}}"


# The date fields by the unit they change with, finest first (pyarrow's floor_temporal units).
_FIELD_UNITS = (
    ("SSS", "millisecond"),
    ("ss", "second"),
    ("mm", "minute"),
    ("HH", "hour"),
    ("dd", "day"),
    ("DDD", "day"),
    ("EEE", "day"),
    ("MM", "month"),
    ("MMM", "month"),
    ("yyyy", "year"),
    ("yy", "year"),
)


def finest_unit(patterns: tuple[str, ...]) -> str | None:
    """The finest time unit the date patterns show: times that floor to the same instant of it
    render alike. None when the patterns show no date field."""
    tokens = {token for pattern in patterns for token in field_names(pattern)}
    return next((unit for field, unit in _FIELD_UNITS if field in tokens), None)


def format_java_date(pattern: str, when: datetime) -> str:
    """Format `when` with a Java DateTimeFormatter pattern (the subset prefixes use)."""
    try:
        return format_date(pattern, when, PREFIX_FIELDS)
    except UnclosedQuote as exc:
        raise PrefixError(str(exc)) from None
    except UnsupportedPattern as exc:
        raise PrefixError(f"{exc}: use yyyy, MM, dd, HH, mm, ss") from None


def sanitise_value(value: object) -> str:
    """A data value made safe as one path segment: Hive-style %XX escapes, never empty, and
    one-to-one, so two values never share a folder. NULL and '' get reserved names; a value
    starting with '.' or '_' has that character escaped, because readers of a lake skip such
    folders as hidden and the reserved names and the staging folder start that way."""
    if value is None:
        return HIVE_DEFAULT_PARTITION
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if text == "":
        return EMPTY_PARTITION
    escaped = quote(text, safe=" -_.~+,:@")
    if set(escaped) <= {"."}:
        escaped = escaped.replace(".", "%2E")
    elif escaped[0] in "._":
        escaped = f"%{ord(escaped[0]):02X}" + escaped[1:]
    if len(escaped) > _MAX_VALUE_LENGTH:
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        escaped = escaped[: _MAX_VALUE_LENGTH - 17] + "-" + digest
    return escaped
