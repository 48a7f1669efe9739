"""Java SimpleDateFormat patterns (KDA's CHAR_TO_TIMESTAMP / TIMESTAMP_TO_CHAR) as DuckDB
strftime/strptime formats."""

from __future__ import annotations

import re

# Longest letter runs first: "MMMM" before "MMM" before "MM".
_LETTERS = {
    "yyyy": "%Y", "yy": "%y", "y": "%Y",
    "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%-m",
    "dd": "%d", "d": "%-d",
    "HH": "%H", "H": "%-H", "hh": "%I", "h": "%-I",
    "mm": "%M", "m": "%-M", "ss": "%S", "s": "%-S",
    "SSS": "%g", "SSSSSS": "%f",
    "a": "%p", "EEEE": "%A", "EEE": "%a", "E": "%a",
    "Z": "%z", "XXX": "%z", "X": "%z", "zzz": "%Z", "z": "%Z", "D": "%j", "DDD": "%j",
}


class UnsupportedPattern(ValueError):
    """A pattern letter run with no DuckDB equivalent."""


def java_to_strftime(pattern: str, parsing: bool = False) -> str:
    """Translate a Java date pattern; `parsing` drops the no-padding flags strptime lacks."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            end = pattern.find("'", index + 1)
            if end < 0:
                raise UnsupportedPattern(f"unclosed quote in date pattern {pattern!r}")
            literal = pattern[index + 1 : end] or "'"
            out.append(literal.replace("%", "%%"))
            index = end + 1
        elif char.isalpha():
            run = re.match(rf"{re.escape(char)}+", pattern[index:])
            assert run is not None
            letters = run.group(0)
            if letters not in _LETTERS:
                raise UnsupportedPattern(f"date pattern letters {letters!r} in {pattern!r} are not supported")
            code = _LETTERS[letters]
            out.append(code.replace("%-", "%") if parsing else code)
            index += len(letters)
        else:
            out.append("%%" if char == "%" else char)
            index += 1
    return "".join(out)
