"""KDA's delimited, fixed-width and syslog parsers (VARIABLE_COLUMN_LOG_PARSE,
FIXED_COLUMN_LOG_PARSE, SYS_LOG_PARSE) as DuckDB expressions that give a struct per line;
a line that does not parse gives NULL fields, never an error that stops the run."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp, parse_one
from sqlglot.errors import ParseError

from flowsql.javadate import UnsupportedPattern, java_to_strftime
from flowsql.kda.call_error import FunctionError

_INPUT = "__log_input"
_TEXT_TYPES = ("VARCHAR", "CHAR", "TEXT", "STRING")
_TIME_TYPES = ("DATE", "TIME", "TIMESTAMP")
_SCALAR_TYPE = re.compile(r"[A-Za-z]\w*(?:\s+[A-Za-z]\w*)*\s*(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?")
_DESCRIPTION = re.compile(
    r"""^\s*("(?:[^"]|"")+"|[A-Za-z_][\w$]*)\s+TYPE\s+(.+?)\s*('(?:[^']|'')*')?\s*(NOT\s+NULL)?"""
    r"""\s*(?:START\s+(\d+)(?:\s+FOR\s+(\d+))?)?\s*$""",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class LogColumn:
    """One `<identifier> TYPE <data type> ['format'] [NOT NULL] [START n [FOR m]]`."""

    name: str
    sql_type: str
    time_format: str | None = None
    not_null: bool = False
    start: int | None = None
    length: int | None = None


def split_descriptions(spec: str) -> list[str]:
    """The comma-separated column descriptions, commas inside parentheses or quotes kept."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in spec:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_columns(spec: str, node: exp.Expression, fixed: bool) -> list[LogColumn]:
    """The column list of a VARIABLE_ or FIXED_COLUMN_LOG_PARSE call, checked here so that a
    mistake is named at the call's place in the file."""
    name = "FIXED_COLUMN_LOG_PARSE" if fixed else "VARIABLE_COLUMN_LOG_PARSE"
    columns: list[LogColumn] = []
    for text in split_descriptions(spec):
        match = _DESCRIPTION.match(text)
        usage = "'name TYPE type [NOT NULL] START n [FOR m], ...'" if fixed else "'name TYPE type [NOT NULL], ...'"
        if match is None:
            raise FunctionError(f"{name}: cannot read the column description {text.strip()!r}; expected {usage}", node)
        ident, type_text, fmt, not_null, start, length = match.groups()
        if fixed and start is None:
            raise FunctionError(f"{name}: the column {ident} needs START n (its offset, from 0)", node)
        if not fixed and start is not None:
            raise FunctionError(f"{name}: START belongs to FIXED_COLUMN_LOG_PARSE (column {ident})", node)
        column_name = ident[1:-1].replace('""', '"') if ident.startswith('"') else ident.upper()
        try:
            # A scalar type: a name of one or more words and an optional (n[, m]).
            if not _SCALAR_TYPE.fullmatch(type_text):
                raise ValueError(type_text)
            cast = parse_one(f"CAST(NULL AS {type_text})", read="duckdb")
            if not isinstance(cast, exp.Cast) or cast.to.this == exp.DataType.Type.USERDEFINED:
                raise ValueError(type_text)
            sql_type = cast.to.sql("duckdb")
        except (ParseError, ValueError):
            raise FunctionError(f"{name}: the column {ident} has an unknown type {type_text!r}", node) from None
        sql_type = re.sub(r"^(VARCHAR|CHAR|TEXT)\s*\(\s*\d+\s*\)$", "VARCHAR", sql_type, flags=re.IGNORECASE)
        time_format = None
        if fmt is not None:
            if not sql_type.upper().startswith(_TIME_TYPES):
                raise FunctionError(
                    f"{name}: a format string belongs to a DATE, TIME or TIMESTAMP column ({ident})", node
                )
            try:
                time_format = java_to_strftime(fmt[1:-1].replace("''", "'"), parsing=True)
            except UnsupportedPattern as exc:
                raise FunctionError(f"{name}: {exc}", node) from None
        if any(c.name.lower() == column_name.lower() for c in columns):
            raise FunctionError(f"{name}: the column {column_name} is listed twice", node)
        columns.append(
            LogColumn(
                column_name,
                sql_type,
                time_format,
                not_null is not None,
                int(start) if start is not None else None,
                int(length) if length is not None else None,
            )
        )
    return columns


def _literal(text: str) -> str:
    return exp.Literal.string(text).sql("duckdb")


def _typed(value: str, column: LogColumn) -> str:
    """A field's text as the column's type; text that is not a value of it gives NULL."""
    upper = column.sql_type.upper()
    if upper.startswith(_TEXT_TYPES):
        return value
    if column.time_format is not None:
        return f"CAST(try_strptime(trim({value}), {_literal(column.time_format)}) AS {column.sql_type})"
    return f"TRY_CAST(trim({value}) AS {column.sql_type})"


def _row(columns: list[LogColumn], values: list[str]) -> str:
    """A struct of the columns; NULL as a whole when a NOT NULL column has no value."""
    fields = ", ".join(
        f"{exp.to_identifier(c.name, quoted=True).sql('duckdb')} := {v}" for c, v in zip(columns, values, strict=True)
    )
    row = f"struct_pack({fields})"
    required = [f"({v}) IS NULL" for c, v in zip(columns, values, strict=True) if c.not_null]
    return f"CASE WHEN {' OR '.join(required)} THEN NULL ELSE {row} END" if required else row


def _build(template: str, text: exp.Expression) -> exp.Expression:
    tree = parse_one(template, read="duckdb")
    return tree.transform(lambda n: text.copy() if isinstance(n, exp.Column) and n.name == _INPUT else n)


def _string_argument(node: exp.Expression, arg: exp.Expression, what: str) -> str:
    """A quoted literal, or KDA's Unicode literal U&'\\0009' (read by sqlglot as `U & '...'`)."""
    if isinstance(arg, exp.Literal) and arg.is_string:
        return arg.this
    if (
        isinstance(arg, exp.BitwiseAnd)
        and isinstance(arg.this, exp.Column)
        and arg.this.name.upper() == "U"
        and isinstance(arg.expression, exp.Literal)
        and arg.expression.is_string
    ):
        return re.sub(
            r"\\(\\)|\\\+([0-9A-Fa-f]{6})|\\([0-9A-Fa-f]{4})",
            lambda m: m.group(1) or chr(int(m.group(2) or m.group(3), 16)),
            arg.expression.this,
        )
    raise FunctionError(f"VARIABLE_COLUMN_LOG_PARSE: the {what} must be a quoted literal", node)


def _field_pattern(escape: str, quote: str) -> tuple[str, str, int]:
    """A field (a quoted run, an escaped character or any other character, as few as reach
    the next delimiter, so a delimiter of several characters works), the pattern that
    unquotes and unescapes it, and that pattern's group count."""
    alternatives, unquote, excluded = [], [], ""
    if quote:
        # The reference: a quoted run ends at the end quote character or at the begin one.
        begin, ends = re.escape(quote[0]), "".join(re.escape(q) for q in dict.fromkeys(quote))
        alternatives.append(f"{begin}[^{ends}]*[{ends}]")
        unquote.append(f"{begin}([^{ends}]*)[{ends}]")
        excluded += begin
    if escape:
        alternatives.append(f"{re.escape(escape)}.")
        unquote.append(f"{re.escape(escape)}(.)")
        excluded += re.escape(escape)
    alternatives.append(f"[^{excluded}]")
    return f"(?:{'|'.join(alternatives)})*?", "|".join(unquote), len(unquote)


def variable_column_log_parse(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    usage = "VARIABLE_COLUMN_LOG_PARSE takes (string, columns, 'delimiter' [, 'escape', 'quote'])"
    if len(args) not in (3, 5):
        raise FunctionError(usage, node)
    spec = args[1]
    if isinstance(spec, exp.Literal) and not spec.is_string:
        count = int(spec.this) if spec.this.isdigit() else 0
        if count < 1:
            raise FunctionError("VARIABLE_COLUMN_LOG_PARSE needs at least one column", node)
        columns = [LogColumn(f"COLUMN{i}", "VARCHAR") for i in range(1, count + 1)]
    elif isinstance(spec, exp.Literal):
        columns = parse_columns(spec.this, node, fixed=False)
    else:
        raise FunctionError(
            "VARIABLE_COLUMN_LOG_PARSE's columns are a number or a quoted list of 'name TYPE type, ...'", node
        )
    delimiter = _string_argument(node, args[2], "delimiter")
    escape = _string_argument(node, args[3], "escape string") if len(args) == 5 else ""
    quote = _string_argument(node, args[4], "quote string") if len(args) == 5 else ""
    if not delimiter:
        raise FunctionError("VARIABLE_COLUMN_LOG_PARSE needs a delimiter of at least one character", node)
    if len(escape) > 1 or len(quote) > 2:
        raise FunctionError("VARIABLE_COLUMN_LOG_PARSE's escape is one character and its quote one or two", node)
    if escape and (escape in delimiter or escape in quote) or quote and any(q in delimiter for q in quote):
        raise FunctionError("VARIABLE_COLUMN_LOG_PARSE's delimiter, escape and quote characters must differ", node)
    if not escape and not quote:
        values = [f"string_split({_INPUT}, {_literal(delimiter)})[{i}]" for i in range(1, len(columns) + 1)]
        return _build(_row(columns, [_typed(v, c) for v, c in zip(values, columns, strict=True)]), args[0])
    field, unquote, group_count = _field_pattern(escape, quote)
    end = re.escape(delimiter)
    with_end = f"({_INPUT} || {_literal(delimiter)})"
    # Each field is matched with the delimiter after it, so no empty match is ever found; a
    # line that cannot be read whole (a quote left open) gives NULL, not a partial split.
    # The same list expression in every field lets DuckDB compute it once per row.
    readable = f"regexp_full_match({with_end}, {_literal(f'(?s)(?:{field}{end})*')})"
    fields = f"(CASE WHEN {readable} THEN regexp_extract_all({with_end}, {_literal(f'(?s)({field}){end}')}, 1) END)"
    groups = _literal("".join(f"\\{g}" for g in range(1, group_count + 1)))
    values = [
        f"regexp_replace({fields}[{i}], {_literal('(?s)' + unquote)}, {groups}, 'g')"
        for i in range(1, len(columns) + 1)
    ]
    return _build(_row(columns, [_typed(v, c) for v, c in zip(values, columns, strict=True)]), args[0])


def fixed_column_log_parse(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    if len(args) != 2 or not isinstance(args[1], exp.Literal) or not args[1].is_string:
        raise FunctionError("FIXED_COLUMN_LOG_PARSE takes (string, 'name TYPE type START n [FOR m], ...')", node)
    columns = parse_columns(args[1].this, node, fixed=True)
    values = []
    for column in columns:
        start = (column.start or 0) + 1
        piece = (
            f"substring({_INPUT}, {start}, {column.length})"
            if column.length is not None
            else f"substring({_INPUT}, {start})"
        )
        # A line that ends before the column starts has no value for it.
        values.append(_typed(f"CASE WHEN length({_INPUT}) >= {start} THEN {piece} END", column))
    return _build(_row(columns, values), args[0])


_SYSLOG = r"(?s)([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}:\d{2}:\d{2}) (.*)"


def sys_log_parse(node: exp.Anonymous, args: list[exp.Expression]) -> exp.Expression:
    if len(args) != 1:
        raise FunctionError("SYS_LOG_PARSE takes one string", node)
    pattern = _literal(_SYSLOG)
    parts = f"regexp_extract({_INPUT}, {pattern}, ['mon', 'day', 'time', 'text'])"
    # RFC 3164 time stamps carry no year; Java's "MMM dd HH:mm:ss" parse gives 1970.
    stamp = (
        f"try_strptime('1970 ' || ({parts}).mon || ' ' || ({parts}).day || ' ' || ({parts}).time, '%Y %b %d %H:%M:%S')"
    )
    template = (
        f"CASE WHEN regexp_full_match({_INPUT}, {pattern}) AND {stamp} IS NOT NULL "
        f"THEN struct_pack(COLUMN1 := {stamp}, COLUMN2 := ({parts}).text) END"
    )
    return _build(template, args[0])
