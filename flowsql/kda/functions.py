"""KDA functions as DuckDB expressions: each call in a pump is rewritten to SQL DuckDB runs
itself, so no function has to be registered on the engine's connection."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp, parse_one

from flowsql.javadate import UnsupportedPattern, java_to_strftime
from flowsql.kda.call_error import FunctionError
from flowsql.kda.log_parse import fixed_column_log_parse, sys_log_parse, variable_column_log_parse

TIME_UNITS = {
    "MILLISECOND": 1_000,
    "SECOND": 1_000_000,
    "MINUTE": 60_000_000,
    "HOUR": 3_600_000_000,
    "DAY": 86_400_000_000,
}
_CALENDAR_UNITS = {"WEEK", "MONTH", "QUARTER", "YEAR"}


def rewrite_functions(query: exp.Expr) -> exp.Expr:
    """Every KDA-only call in `query` replaced by its DuckDB equivalent, innermost first so
    that a call's arguments are already DuckDB SQL when the call is rewritten."""
    for node in reversed(list(query.walk())):
        replacement = _rewrite_node(node)
        if replacement is not node:
            if node is query:
                return replacement
            node.replace(replacement)
    return query


def floor_unit(node: exp.Expr) -> str | None:
    """`FLOOR(ts TO MINUTE)` (read as FLOOR(ts, MINUTE)): the unit, else None."""
    if isinstance(node, (exp.Floor, exp.Ceil)):
        unit = node.args.get("decimals")
        units = TIME_UNITS.keys() | _CALENDAR_UNITS
        if isinstance(unit, exp.Column) and not unit.table and unit.name.upper() in units:
            return unit.name.upper()
    return None


def _rewrite_node(node: exp.Expr) -> exp.Expr:
    unit = floor_unit(node)
    if unit is not None:
        return _floor_or_ceil(node, unit)
    if (
        isinstance(node, exp.Column)
        and not node.table
        and node.name.upper() == "CURRENT_ROW_TIMESTAMP"
        and not node.this.quoted
    ):
        return _sql("CAST(timezone('UTC', now()) AS TIMESTAMP)")
    if isinstance(node, exp.SimilarTo):
        return _similar_to(node)
    if isinstance(node, exp.UnixToTime) and node.args.get("scale") is None and node.args.get("format") is None:
        return _call("epoch_ms", node.this)  # KDA's TO_TIMESTAMP takes milliseconds, DuckDB's seconds
    if isinstance(node, exp.Anonymous):
        name = str(node.this).upper()
        handler = _CALLS.get(name)
        if handler is not None:
            return handler(node, list(node.expressions))
    return node


def _sql(text: str) -> exp.Expr:
    return parse_one(text, read="duckdb")


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def interval_us(node: exp.Expr) -> int | None:
    if not isinstance(node, exp.Interval):
        return None
    unit = node.args.get("unit")
    unit_name = (unit.name if unit is not None else "SECOND").upper().rstrip("S")
    amount = node.this.name if isinstance(node.this, exp.Literal) else None
    if amount is None or unit_name not in TIME_UNITS:
        return None
    parts = amount.strip().split()
    try:
        return int(round(float(parts[0]) * TIME_UNITS[unit_name]))
    except ValueError:
        return None


def step_bucket(time: exp.Expression, size_us: int) -> exp.Expression:
    """The start of the `size_us` bucket (aligned to the epoch) that `time` falls in."""
    return _sql(f"make_timestamp((epoch_us(CAST(__t AS TIMESTAMP)) // {size_us}) * {size_us})").transform(
        lambda n: time.copy() if isinstance(n, exp.Column) and n.name == "__t" else n
    )


def _step(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    if len(args) != 2:
        raise FunctionError("STEP takes (expression BY interval-or-number)", node)
    size_us = interval_us(args[1])
    if size_us is not None:
        if size_us <= 0:
            raise FunctionError("STEP needs an interval longer than zero", node)
        return step_bucket(args[0], size_us)
    if isinstance(args[1], exp.Interval):
        raise FunctionError("STEP takes a fixed interval (MILLISECOND to DAY)", node)
    # STEP(23 BY 5) = 20: round down to a multiple, on numbers.
    return exp.Mul(
        this=exp.Paren(this=exp.Anonymous(this="FLOOR", expressions=[exp.Div(this=args[0], expression=args[1])])),
        expression=args[1].copy(),
    )


def _floor_or_ceil(node: exp.Expr, unit: str) -> exp.Expr:
    value = node.this
    truncated = _call("date_trunc", exp.Literal.string(unit.lower()), value.copy())
    if isinstance(node, exp.Floor):
        return truncated
    one = exp.Interval(this=exp.Literal.string("1"), unit=exp.Var(this=unit))
    later = exp.Add(this=truncated.copy(), expression=one)
    return exp.Case(
        ifs=[exp.If(this=exp.EQ(this=truncated.copy(), expression=value.copy()), true=truncated)], default=later
    )


def _similar_to(node: exp.SimilarTo) -> exp.Expression:
    """SQL's SIMILAR TO (% and _ wildcards, regex alternation) as a full regex match;
    DuckDB's own SIMILAR TO takes a plain regular expression instead."""
    pattern = node.expression
    if not isinstance(pattern, exp.Literal) or not pattern.is_string:
        raise FunctionError("SIMILAR TO needs a quoted pattern", node)
    regex = "".join(".*" if c == "%" else "." if c == "_" else "\\." if c == "." else c for c in pattern.this)
    return _call("regexp_full_match", node.this, exp.Literal.string(regex))


def _tsdiff(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    if len(args) != 2:
        raise FunctionError("TSDIFF takes two timestamps", node)
    return exp.Paren(this=exp.Sub(this=_call("epoch_ms", args[0]), expression=_call("epoch_ms", args[1])))


def _pattern(node: exp.Expression, arg: exp.Expression, parsing: bool) -> exp.Expression:
    if not isinstance(arg, exp.Literal) or not arg.is_string:
        raise FunctionError("the date pattern must be a quoted literal", node)
    try:
        return exp.Literal.string(java_to_strftime(arg.this, parsing))
    except UnsupportedPattern as exc:
        raise FunctionError(str(exc), node) from None


def _char_to_timestamp(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    if len(args) != 2:
        raise FunctionError("CHAR_TO_TIMESTAMP takes (pattern, string)", node)
    return _call("strptime", args[1], _pattern(node, args[0], parsing=True))


def _timestamp_to_char(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    if len(args) != 2:
        raise FunctionError("TIMESTAMP_TO_CHAR takes (pattern, timestamp)", node)
    timestamp = exp.Cast(this=args[1], to=exp.DataType.build("TIMESTAMP"))
    return _call("strftime", timestamp, _pattern(node, args[0], parsing=False))


def _unix_timestamp(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    if len(args) != 1:
        raise FunctionError("UNIX_TIMESTAMP takes one timestamp", node)
    return _call("epoch_ms", args[0])


def capture_groups(pattern: str) -> int:
    """Capturing groups of a regular expression: '(' not escaped, not in a class, not '(?'."""
    count, index, in_class = 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif (
            char == "("
            and not pattern.startswith("(?", index)
            or pattern.startswith("(?<", index)
            and not pattern.startswith(("(?<=", "(?<!"), index)
        ):
            count += 1
        index += 1
    return count


def _lazy(pattern: str) -> str:
    """Greedy quantifiers made lazy, as FAST_REGEX_LOG_PARSE scans."""
    return re.sub(r"(?<!\\)([*+?}])(?![?+])", r"\1?", pattern)


def _log_parse(lazy: bool) -> Callable[[exp.Anonymous, list[exp.Expression]], exp.Expression]:
    def rewrite(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
        name = str(node.this).upper()
        if len(args) != 2 or not isinstance(args[1], exp.Literal) or not args[1].is_string:
            raise FunctionError(f"{name} takes (string, 'pattern') with a quoted pattern", node)
        pattern = args[1].this
        groups = capture_groups(pattern)
        if groups == 0:
            raise FunctionError(f"{name}'s pattern has no capturing group, so it gives no column", node)
        if lazy:
            pattern = _lazy(pattern)
        literal = exp.Literal.string(pattern)
        names = exp.Array(expressions=[exp.Literal.string(f"COLUMN{i}") for i in range(1, groups + 1)])
        # KDA: a string the pattern does not match gives NULL, not empty columns.
        return exp.Case(
            ifs=[
                exp.If(
                    this=_call("regexp_full_match", args[0].copy(), literal.copy()),
                    true=_call("regexp_extract", args[0], literal, names),
                )
            ]
        )

    return rewrite


_W3C_FORMATS = {
    "COMMON": '%h %l %u %t "%r" %>s %b',
    "COMMON WITH VHOST": '%v %h %l %u %t "%r" %>s %b',
    "NCSA EXTENDED": '%h %l %u %t "%r" %>s %b "%[Referer]i" "%[User-agent]i"',
    "REFERER": "%[Referer]i ---> %U",
    "AGENT": "%[User-agent]i",
}
_W3C_SPECIFIER = re.compile(r"%(?:[<>]|!?\d+(?:,\d+)*)?(?:\[[^\]]*\])?[a-zA-Z%]")


def w3c_pattern(log_format: str) -> str:
    """An Apache/W3C log format as a regular expression with one group per specifier: a
    quoted specifier takes everything up to the closing quote, %t the bracketed time, any
    other a run of non-blanks (the last one of a format whose only field it is, the line)."""
    out, position = [], 0
    only_field = bool(re.fullmatch(_W3C_SPECIFIER.pattern, log_format.strip()))
    for match in _W3C_SPECIFIER.finditer(log_format):
        out.append(re.escape(log_format[position : match.start()]))
        spec = match.group(0)
        quoted = match.start() > 0 and log_format[match.start() - 1] == '"'
        if spec == "%%":
            out.append("%")
        elif quoted:
            out.append('([^"]*)')
        elif spec.endswith("t"):
            # %t is the bracketed time, brackets kept; written as [%t], the time inside them.
            inside = (
                log_format[match.start() - 1 : match.start()] == "["
                and log_format[match.end() : match.end() + 1] == "]"
            )
            out.append(r"([^\]]*)" if inside else r"(\[[^\]]*\])")
        else:
            out.append("(.*)" if only_field else r"(\S+)")
        position = match.end()
    out.append(re.escape(log_format[position:]))
    return "".join(out)


def _w3c_log_parse(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    if len(args) != 2 or not isinstance(args[1], exp.Literal) or not args[1].is_string:
        raise FunctionError("W3C_LOG_PARSE takes (string, 'format') with a quoted format", node)
    name = " ".join(args[1].this.split()).upper()
    if name == "IIS":
        raise FunctionError("W3C_LOG_PARSE's IIS format is not supported", node)
    pattern = w3c_pattern(_W3C_FORMATS.get(name, args[1].this))
    return _log_parse(lazy=False)(node, [args[0], exp.Literal.string(pattern)])


def _regex_replace(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    """REGEX_REPLACE(s, regex, replacement, start, occurrence): from 1-based `start`, every match
    (occurrence 0) or the first (1) replaced; Java's `$n` group references become DuckDB's `\\n`."""
    if len(args) != 5:
        raise FunctionError("REGEX_REPLACE takes (string, regex, replacement, start position, occurrence)", node)
    value, pattern, replacement, start, occurrence = args
    if not isinstance(occurrence, exp.Literal) or occurrence.this not in ("0", "1"):
        raise FunctionError("REGEX_REPLACE is supported for occurrence 0 (every match) or 1 (the first)", node)
    if isinstance(replacement, exp.Literal) and replacement.is_string:
        text = re.sub(r"(?<!\\)\$(\d)", r"\\\1", replacement.this).replace("\\$", "$")
        replacement = exp.Literal.string(text)
    if not isinstance(start, exp.Literal) or not start.this.isdigit() or int(start.this) < 1:
        raise FunctionError("REGEX_REPLACE needs a start position that is a whole number from 1", node)
    flags = [exp.Literal.string("g")] if occurrence.this == "0" else []
    at = int(start.this)
    if at == 1:
        return _call("regexp_replace", value, pattern, replacement, *flags)
    head = _call("substring", value.copy(), exp.Literal.number(1), exp.Literal.number(at - 1))
    tail = _call("regexp_replace", _call("substring", value, exp.Literal.number(at)), pattern, replacement, *flags)
    return exp.DPipe(this=head, expression=tail)


_CALLS: dict[str, Callable[[exp.Anonymous, list[exp.Expression]], exp.Expression]] = {
    "REGEX_REPLACE": _regex_replace,
    "STEP": _step,
    "TSDIFF": _tsdiff,
    "CHAR_TO_TIMESTAMP": _char_to_timestamp,
    "TIMESTAMP_TO_CHAR": _timestamp_to_char,
    "UNIX_TIMESTAMP": _unix_timestamp,
    "REGEX_LOG_PARSE": _log_parse(lazy=False),
    "FAST_REGEX_LOG_PARSE": _log_parse(lazy=True),
    "W3C_LOG_PARSE": _w3c_log_parse,
    "VARIABLE_COLUMN_LOG_PARSE": variable_column_log_parse,
    "FIXED_COLUMN_LOG_PARSE": fixed_column_log_parse,
    "SYS_LOG_PARSE": sys_log_parse,
}
