"""Typed connector options: `WITH (key = value, ...)` into frozen dataclasses.

Every connector declares its options as a dataclass; `bind_options` converts and checks the
raw values in one place, so an error always names the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from flowsql.errors import ConfigError, Location
from flowsql.secrets import redact_option, scrub

RawValue = str | int | float | bool


@dataclass(frozen=True)
class Option:
    """One `key = value` pair as written, with where it was written."""

    key: str
    value: RawValue
    location: Location | None = None
    source_line: str | None = None


_DURATION_UNITS = {
    "ms": 0.001,
    "millisecond": 0.001,
    "milliseconds": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_duration(value: RawValue) -> float:
    """'60 s', '5 minutes', '250ms' or a bare number of seconds, to seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number with a unit, such as '60 s' or '5 minutes'")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    if not match:
        raise ValueError("a duration is a number with a unit, such as '60 s' or '5 minutes'")
    number, unit = float(match.group(1)), match.group(2).lower() or "s"
    if unit not in _DURATION_UNITS:
        raise ValueError(f"unknown time unit {unit!r}; use ms, s, min, h or d")
    return number * _DURATION_UNITS[unit]


def parse_size(value: RawValue) -> int:
    """'64 MB', '1 MiB', '500kb' or a bare number of bytes, to bytes."""
    if isinstance(value, bool):
        raise ValueError("a size is a number with a unit, such as '64 MB'")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return int(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    if not match:
        raise ValueError("a size is a number with a unit, such as '64 MB' or '512 KiB'")
    number, unit = float(match.group(1)), match.group(2).lower() or "b"
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unknown size unit {unit!r}; use B, KB, MB, GB, KiB, MiB or GiB")
    return int(number * _SIZE_UNITS[unit])


def _parse_bool(value: RawValue) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ValueError("expected true or false")


def _parse_int(value: RawValue) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("expected a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError("expected a whole number") from None


def _parse_float(value: RawValue) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number") from None


def duration(default: float | None, positive: bool = False) -> Any:
    """A dataclass field holding seconds, written as '60 s' or '5 minutes'; `positive`: 0 is refused."""
    return dataclasses.field(default=default, metadata={"parse": parse_duration, "positive": positive})


def size(default: int | None, positive: bool = False) -> Any:
    """A dataclass field holding bytes, written as '64 MB'; `positive`: 0 is refused."""
    return dataclasses.field(default=default, metadata={"parse": parse_size, "positive": positive})


def count(default: int) -> Any:
    """A dataclass field holding a whole number of things that must be at least 1 (threads, files)."""
    return dataclasses.field(default=default, metadata={"positive": True})


def choice(default: str, *allowed: str) -> Any:
    """A string field limited to the given values (compared case-insensitively)."""
    return dataclasses.field(default=default, metadata={"choices": (default, *allowed)})


T = TypeVar("T")


def bind_options(cls: type[T], options: list[Option], what: str) -> T:
    """Build `cls` from options; unknown keys and bad values raise ConfigError naming the key."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for option in options:
        key = option.key.lower()
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(sorted(fields))
            raise ConfigError(f"unknown option '{option.key}' for {what}", option.location, option.source_line, hint)
        field = fields[key]
        try:
            values[key] = _convert(field, hints[key], expand_environment(option.value))
        except ValueError as exc:
            shown = redact_option(key, option.value)  # a secret's value is never printed
            detail = str(exc) if shown == option.value else scrub(str(exc), [str(option.value)])
            raise ConfigError(
                f"bad value {shown!r} for option '{key}' of {what}: {detail}",
                option.location,
                option.source_line,
            ) from None
    missing = [
        name
        for name, f in fields.items()
        if name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{what} needs the option '{missing[0]}'")
    return cls(**values)


_ENVIRONMENT_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_environment(value: RawValue) -> RawValue:
    """Replace each `${NAME}` in a string value with the environment variable NAME (or with
    `default` in `${NAME:-default}` when NAME is unset or empty), so one pipeline file runs
    against a test bucket and a production one; `$${` keeps a literal `${`."""
    if not isinstance(value, str) or "${" not in value:
        return value

    def lookup(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if default is not None and not os.environ.get(name):
            return default
        if name not in os.environ:
            raise ValueError(f"the environment variable {name} is not set")
        return os.environ[name]

    parts = value.split("$${")
    return "${".join(_ENVIRONMENT_REFERENCE.sub(lookup, part) for part in parts)


def _convert(field: dataclasses.Field[Any], hint: Any, value: RawValue) -> Any:
    converted = _converted(field, hint, value)
    # A chunk of 0 bytes reads nothing and a poll every 0 s spins: such values are refused here
    # rather than found out at run time.
    if field.metadata.get("positive") and isinstance(converted, (int, float)) and converted <= 0:
        raise ValueError("must be greater than 0")
    return converted


def _converted(field: dataclasses.Field[Any], hint: Any, value: RawValue) -> Any:
    parse = field.metadata.get("parse")
    if parse is not None:
        return parse(value)
    choices = field.metadata.get("choices")
    if choices is not None:
        text = str(value).lower()
        if text not in choices:
            close = difflib.get_close_matches(text, choices, n=1)
            raise ValueError((f"did you mean '{close[0]}'? " if close else "") + "allowed: " + ", ".join(choices))
        return text
    base = _strip_optional(hint)
    if base is bool:
        return _parse_bool(value)
    if base is int:
        return _parse_int(value)
    if base is float:
        return _parse_float(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strip_optional(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 else hint
