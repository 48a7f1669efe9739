"""Java date patterns (the letters of SimpleDateFormat and DateTimeFormatter), read in one place:
as DuckDB strftime/strptime formats (KDA's CHAR_TO_TIMESTAMP, TIMESTAMP_TO_CHAR, log parsing),
formatted in Python (a prefix's `!{timestamp:...}`), and as a regex for the rendered text (the
catalog's partition folders)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Piece:
    """A pattern cut into letter runs (fields) and literal text (quoted or not)."""

    text: str
    is_field: bool


@dataclass(frozen=True)
class Field:
    code: str  # the DuckDB strftime code; Python's strftime takes the same for the prefix fields
    regex: str = r"[^/]+"  # what the field looks like once rendered


# Letter runs are matched whole: "MMM" is the month's short name, "MM" its number.
FIELDS = {
    "yyyy": Field("%Y", r"\d{4}"),
    "yy": Field("%y", r"\d{2}"),
    "y": Field("%Y"),
    "MMMM": Field("%B"),
    "MMM": Field("%b", r"[A-Za-z]{3}"),
    "MM": Field("%m", r"\d{2}"),
    "M": Field("%-m"),
    "dd": Field("%d", r"\d{2}"),
    "d": Field("%-d"),
    "HH": Field("%H", r"\d{2}"),
    "H": Field("%-H"),
    "hh": Field("%I"),
    "h": Field("%-I"),
    "mm": Field("%M", r"\d{2}"),
    "m": Field("%-M"),
    "ss": Field("%S", r"\d{2}"),
    "s": Field("%-S"),
    "SSS": Field("%g", r"\d{3}"),
    "SSSSSS": Field("%f"),
    "a": Field("%p"),
    "EEEE": Field("%A"),
    "EEE": Field("%a", r"[A-Za-z]{3}"),
    "E": Field("%a"),
    "Z": Field("%z"),
    "XXX": Field("%z"),
    "X": Field("%z"),
    "zzz": Field("%Z"),
    "z": Field("%Z"),
    "D": Field("%j"),
    "DDD": Field("%j", r"\d{3}"),
}

# The fields a prefix's !{timestamp:...} may use (Firehose's subset), all zero-padded or fixed
# in width, so a folder's text can be matched back to its time (catalog/layout.py).
PREFIX_FIELDS = frozenset({"yyyy", "yy", "MM", "dd", "HH", "mm", "ss", "SSS", "DDD", "EEE", "MMM"})


class UnsupportedPattern(ValueError):
    """A pattern with a letter run the translation has not, or an unclosed quote."""


class UnclosedQuote(UnsupportedPattern):
    """A quote in a pattern that no second quote closes."""


def pieces(pattern: str) -> list[Piece]:
    """`pattern` cut into fields and literals; '' inside or outside quotes is one quote."""
    out: list[Piece] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            text, index = _quoted(pattern, index)
            out.append(Piece(text, False))
        elif char.isalpha():
            run = re.match(rf"{re.escape(char)}+", pattern[index:])
            assert run is not None
            out.append(Piece(run.group(0), True))
            index += len(run.group(0))
        else:
            out.append(Piece(char, False))
            index += 1
    return out


def _quoted(pattern: str, start: int) -> tuple[str, int]:
    """The literal that the quote at `start` opens, and where the pattern goes on after it.
    As in Java, '' is a quote: on its own, and inside quoted text ('o''clock')."""
    text: list[str] = []
    index = start + 1
    while True:
        end = pattern.find("'", index)
        if end < 0:
            raise UnclosedQuote(f"unclosed quote in date pattern {pattern!r}")
        text.append(pattern[index:end])
        if end + 1 < len(pattern) and pattern[end + 1] == "'" and end > start + 1:
            text.append("'")
            index = end + 2
            continue
        return "".join(text) or "'", end + 1


def field_names(pattern: str) -> list[str]:
    """The letter runs of `pattern`, in order."""
    return [piece.text for piece in pieces(pattern) if piece.is_field]


def java_to_strftime(pattern: str, parsing: bool = False) -> str:
    """The DuckDB format for `pattern`; `parsing` drops the no-padding flags strptime lacks."""
    out: list[str] = []
    for piece in pieces(pattern):
        if not piece.is_field:
            out.append(piece.text.replace("%", "%%"))
            continue
        if piece.text not in FIELDS:
            raise UnsupportedPattern(f"date pattern letters {piece.text!r} in {pattern!r} are not supported")
        code = FIELDS[piece.text].code
        out.append(code.replace("%-", "%") if parsing else code)
    return "".join(out)


def format_date(pattern: str, when: datetime, allowed: frozenset[str] = PREFIX_FIELDS) -> str:
    """`when` formatted by `pattern` in Python, for patterns of the `allowed` fields."""
    out: list[str] = []
    for piece in pieces(pattern):
        if not piece.is_field:
            out.append(piece.text)
        elif piece.text not in allowed or piece.text not in FIELDS:
            raise UnsupportedPattern(f"unsupported date field {piece.text!r} in {pattern!r}")
        elif piece.text == "SSS":  # DuckDB's %g; Python has only microseconds
            out.append(f"{when.microsecond // 1000:03d}")
        else:
            out.append(when.strftime(FIELDS[piece.text].code))
    return "".join(out)


def pattern_regex(pattern: str) -> str:
    """A regex for the text `pattern` renders to (fields of no fixed form match up to a '/')."""
    return "".join(
        FIELDS[p.text].regex if p.is_field and p.text in FIELDS else r"[^/]+" if p.is_field else re.escape(p.text)
        for p in pieces(pattern)
    )
