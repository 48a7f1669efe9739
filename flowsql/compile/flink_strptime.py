"""DuckDB's strptime/try_strptime as Flink's TO_TIMESTAMP with a Java pattern. Flink's parser
is lenient (30 February becomes 28 February, `2024-5-3` reads as `yyyyMMdd`) where DuckDB gives
NULL, so the parsed value counts only when it formats back to the text it came from."""

from __future__ import annotations

import re

from sqlglot import exp

# DuckDB specifier -> Java pattern letters
_SPECIFIERS = {
    "Y": "yyyy",
    "y": "yy",
    "m": "MM",
    "d": "dd",
    "H": "HH",
    "I": "hh",
    "M": "mm",
    "S": "ss",
    "g": "SSS",
    "b": "MMM",
    "B": "MMMM",
    "p": "a",
    "j": "DDD",
    "a": "EEE",
    "A": "EEEE",
}
# Fields DuckDB also reads without a leading zero, written unpadded by a second pattern.
_UNPADDED = {"d": "d", "m": "M"}


class FlinkCall(exp.Expression):
    """A Flink function written as is: `name(arguments)`."""

    arg_types = {"this": True, "expressions": False}  # noqa: RUF012 - sqlglot declares it so


def java_patterns(duckdb_format: str) -> tuple[str, str] | None:
    """The Java pattern of a DuckDB strptime format, and the same with day and month unpadded;
    None when the format uses a specifier this does not know."""
    padded, unpadded = [], []
    for token in re.findall(r"%.|[A-Za-z]+|[^%A-Za-z]+", duckdb_format):
        if token == "%%":
            text = "%"
        elif token.startswith("%"):
            if token[1] not in _SPECIFIERS:
                return None
            padded.append(_SPECIFIERS[token[1]])
            unpadded.append(_UNPADDED.get(token[1], _SPECIFIERS[token[1]]))
            continue
        else:  # Java reads letters as text only in quotes, and a quote as two
            text = f"'{token}'" if token[0].isalpha() else token.replace("'", "''")
        padded.append(text)
        unpadded.append(text)
    return "".join(padded), "".join(unpadded)


def to_timestamp(text: exp.Expression, duckdb_format: str) -> exp.Expression | None:
    """`strptime(text, format)` as Flink SQL that is NULL wherever DuckDB's try_strptime is."""
    patterns = java_patterns(duckdb_format)
    if patterns is None:
        return None
    padded, unpadded = patterns
    patterns_used = list(dict.fromkeys((padded, unpadded)))
    attempts = [FlinkCall(this="TO_TIMESTAMP", expressions=[text.copy(), exp.Literal.string(p)]) for p in patterns_used]

    def parsed() -> exp.Expression:
        # A fixed-width pattern reads adjacent numbers (yyyyMMdd); an unpadded one reads `May 1`.
        return (
            attempts[0].copy()
            if len(attempts) == 1
            else exp.Coalesce(this=attempts[0].copy(), expressions=[attempts[1].copy()])
        )

    checks = [
        exp.EQ(
            this=FlinkCall(this="DATE_FORMAT", expressions=[parsed(), exp.Literal.string(p)]), expression=text.copy()
        )
        for p in patterns_used
    ]
    condition = checks[0] if len(checks) == 1 else exp.Or(this=checks[0], expression=checks[1])
    return exp.Case(ifs=[exp.If(this=condition, true=parsed())])
