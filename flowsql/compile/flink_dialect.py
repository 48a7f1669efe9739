"""Flink SQL as a sqlglot dialect: how a DuckDB expression tree is written for Flink.

sqlglot ships no Flink dialect, so this is a small subclass of its base Dialect that states
only what Flink spells differently: backquoted names, its type names, its time functions.
"""

from __future__ import annotations

from sqlglot import exp, generator, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.hive import Hive

from flowsql.compile.flink_strptime import FlinkCall

# Flink SQL's interval units are singular (Calcite); DuckDB writes '5 seconds'.
_UNITS = {
    "MICROSECOND": "MICROSECOND",
    "MILLISECOND": "MILLISECOND",
    "SECOND": "SECOND",
    "MINUTE": "MINUTE",
    "HOUR": "HOUR",
    "DAY": "DAY",
    "WEEK": "WEEK",
    "MONTH": "MONTH",
    "QUARTER": "QUARTER",
    "YEAR": "YEAR",
}
# FLOOR(ts TO unit) takes these; DuckDB's date_trunc units map onto them.
TRUNCATE_UNITS = ("SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR")


def unit_name(text: str) -> str | None:
    """DuckDB's unit word ('seconds', 'Minute', 's') as Flink's singular unit, or None."""
    word = text.strip().upper()
    short = {
        "S": "SECOND",
        "SEC": "SECOND",
        "SECS": "SECOND",
        "M": "MINUTE",
        "MIN": "MINUTE",
        "MINS": "MINUTE",
        "H": "HOUR",
        "HR": "HOUR",
        "HRS": "HOUR",
        "D": "DAY",
        "MS": "MILLISECOND",
        "US": "MICROSECOND",
    }
    if word in short:
        return short[word]
    if word.endswith("S") and word[:-1] in _UNITS:
        word = word[:-1]
    return _UNITS.get(word)


class TableArgument(exp.Expression):
    """`TABLE name [PARTITION BY keys]`: a window function's input relation."""

    arg_types = {"this": True, "partition": False}


class Descriptor(exp.Expression):
    """`DESCRIPTOR(column)`: names a window function's time attribute."""

    arg_types = {"this": True}


class TableFunction(exp.Expression):
    """`TABLE(call)`: a table-valued function in FROM."""

    arg_types = {"this": True}


def _table_argument_sql(self: generator.Generator, expression: TableArgument) -> str:
    keys = expression.args.get("partition") or []
    text = f"TABLE {self.sql(expression, 'this')}"
    if len(keys) == 1:
        text += f" PARTITION BY {self.sql(keys[0])}"
    elif keys:
        # Parentheses keep the keys apart from the DESCRIPTOR argument that follows.
        text += " PARTITION BY (" + ", ".join(self.sql(k) for k in keys) + ")"
    return text


def _interval_sql(self: generator.Generator, expression: exp.Interval) -> str:
    value = expression.this
    unit = expression.args.get("unit")
    number = value.name if isinstance(value, exp.Literal) else self.sql(value)
    unit_text = unit_name(unit.name) if unit is not None else None
    if unit_text is None:
        unit_text = unit.name.upper() if unit is not None else "SECOND"
    return f"INTERVAL '{number}' {unit_text}"


def _row_sql(self: generator.Generator, expression: exp.Struct) -> str:
    """A struct literal as a ROW of its values: the sink's ROW type names the fields."""
    values = [e.expression if isinstance(e, exp.PropertyEQ) else e for e in expression.expressions]
    return self.func("ROW", *values)


def sorted_list_key(expression: exp.ArrayAgg) -> exp.Ordered | None:
    """The ORDER BY key of `list(x ORDER BY x)`; None when the list has no ORDER BY. Flink's
    ARRAY_AGG takes no ORDER BY, so only a list ordered by its own values has a Flink form."""
    order = expression.this
    return order.expressions[0] if isinstance(order, exp.Order) and len(order.expressions) == 1 else None


def listed_value(expression: exp.ArrayAgg) -> exp.Expression:
    value = expression.this.this if isinstance(expression.this, exp.Order) else expression.this
    return value.expressions[0] if isinstance(value, exp.Distinct) and len(value.expressions) == 1 else value


def _array_agg_sql(self: generator.Generator, expression: exp.ArrayAgg) -> str:
    key = sorted_list_key(expression)
    if key is None:
        return self.func("ARRAY_AGG", expression.this)
    listed = self.func("ARRAY_AGG", expression.this.this)
    ascending = "FALSE" if key.args.get("desc") else "TRUE"
    return self.func("ARRAY_SORT", listed, ascending, "TRUE" if key.args.get("nulls_first") else "FALSE")


def _floor_to_sql(self: generator.Generator, expression: exp.TimestampTrunc) -> str:
    unit = expression.args.get("unit")
    return f"FLOOR({self.sql(expression, 'this')} TO {unit.name.upper() if unit is not None else 'DAY'})"


def _date_format_sql(self: generator.Generator, expression: exp.TimeToStr) -> str:
    return self.func("DATE_FORMAT", expression.this, self.format_time(expression))


def _to_timestamp_sql(self: generator.Generator, expression: exp.StrToTime) -> str:
    return self.func("TO_TIMESTAMP", expression.this, self.format_time(expression))


def _unix_to_time_sql(self: generator.Generator, expression: exp.UnixToTime) -> str:
    scale = expression.args.get("scale")
    precision = scale if scale is not None else exp.Literal.number(0)
    return self.func("TO_TIMESTAMP_LTZ", expression.this, precision)


def _trim_sql(self: generator.Generator, expression: exp.Trim) -> str:
    """Flink spells trimming of given characters only as TRIM([BOTH|LEADING|TRAILING] chars FROM text)."""
    characters = expression.args.get("expression")
    position = str(expression.args.get("position") or "BOTH").upper()
    if characters is None and position == "BOTH":
        return self.func("TRIM", expression.this)
    chars = self.sql(characters) if characters is not None else "' '"
    return f"TRIM({position} {chars} FROM {self.sql(expression, 'this')})"


# Flink has no unsigned or 128-bit integers; a DECIMAL holds every value exactly.
_WIDE_INTEGERS = {exp.DataType.Type.INT128: 38, exp.DataType.Type.UINT128: 38, exp.DataType.Type.UBIGINT: 20}


def _avg_sql(self: generator.Generator, expression: exp.Avg) -> str:
    argument = expression.this
    if isinstance(argument, exp.Distinct):
        cast = [exp.cast(e.copy(), exp.DataType.Type.DOUBLE) for e in argument.expressions]
        return self.func("AVG", exp.Distinct(expressions=cast))
    return self.func("AVG", exp.cast(argument.copy(), exp.DataType.Type.DOUBLE))


def _datatype_sql(self: generator.Generator, expression: exp.DataType) -> str:
    kind = expression.this
    if kind in (
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.TIMESTAMPNTZ,
        exp.DataType.Type.DATETIME,
        exp.DataType.Type.TIMESTAMP_MS,
        exp.DataType.Type.TIMESTAMP_NS,
        exp.DataType.Type.TIMESTAMP_S,
    ):
        # Flink's time attributes (watermarks, window bounds) are millisecond timestamps.
        return "TIMESTAMP(3)"
    if kind in (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ):
        return "TIMESTAMP_LTZ(3)"
    if kind in _WIDE_INTEGERS:
        return f"DECIMAL({_WIDE_INTEGERS[kind]}, 0)"
    if kind == exp.DataType.Type.ARRAY and expression.expressions:
        return f"ARRAY<{self.sql(expression.expressions[0])}>"
    return generator.Generator.datatype_sql(self, expression)


class Flink(Dialect):
    """Flink SQL (1.19+ / 2.x), enough to write what a pipeline file's queries say."""

    # Flink divides integers as integers and fails on a zero divisor; DuckDB does neither, so
    # sqlglot casts to DOUBLE and guards the divisor when it reads DuckDB's `/`.
    # ORDER BY in an OVER window is on a time attribute, never NULL: no NULLS FIRST/LAST.
    NULL_ORDERING = "nulls_are_last"
    TYPED_DIVISION = True
    SAFE_DIVISION = False
    TIME_MAPPING = Hive.TIME_MAPPING  # DATE_FORMAT takes Java date patterns, as Hive's does
    TIME_FORMAT = Hive.TIME_FORMAT

    class Tokenizer(tokens.Tokenizer):
        IDENTIFIERS = ["`"]
        QUOTES = ["'"]
        STRING_ESCAPES = ["'"]

    class Generator(generator.Generator):
        TYPE_MAPPING = {
            **generator.Generator.TYPE_MAPPING,
            exp.DataType.Type.TEXT: "STRING",
            exp.DataType.Type.VARCHAR: "STRING",
            exp.DataType.Type.CHAR: "STRING",
            exp.DataType.Type.JSON: "STRING",
            exp.DataType.Type.UUID: "STRING",
            exp.DataType.Type.BLOB: "BYTES",
            exp.DataType.Type.VARBINARY: "BYTES",
            exp.DataType.Type.UTINYINT: "SMALLINT",
            exp.DataType.Type.USMALLINT: "INT",
            exp.DataType.Type.UINT: "BIGINT",
        }
        TRANSFORMS = {
            **generator.Generator.TRANSFORMS,
            TableArgument: _table_argument_sql,
            Descriptor: lambda self, e: f"DESCRIPTOR({self.sql(e, 'this')})",
            TableFunction: lambda self, e: f"TABLE({self.sql(e, 'this')})",
            FlinkCall: lambda self, e: self.func(str(e.this), *e.expressions),
            exp.Struct: _row_sql,
            exp.Interval: _interval_sql,
            exp.TimestampTrunc: _floor_to_sql,
            exp.DateTrunc: _floor_to_sql,
            exp.TimeToStr: _date_format_sql,
            exp.StrToTime: _to_timestamp_sql,
            exp.UnixToTime: _unix_to_time_sql,
            exp.CurrentTimestamp: lambda self, e: "CURRENT_TIMESTAMP",
            exp.CurrentDate: lambda self, e: "CURRENT_DATE",
            exp.ArrayAgg: _array_agg_sql,
            exp.RegexpLike: lambda self, e: self.func("REGEXP", e.this, e.expression),
            # DuckDB's avg is a DOUBLE for any number; Flink's AVG of integers is an integer.
            exp.Avg: _avg_sql,
            exp.Trim: _trim_sql,
            exp.Length: lambda self, e: self.func("CHAR_LENGTH", e.this),
            exp.StrPosition: lambda self, e: f"POSITION({self.sql(e, 'substr')} IN {self.sql(e, 'this')})",
            exp.Stddev: lambda self, e: self.func("STDDEV_SAMP", e.this),
            exp.StddevSamp: lambda self, e: self.func("STDDEV_SAMP", e.this),
            exp.StddevPop: lambda self, e: self.func("STDDEV_POP", e.this),
            exp.Variance: lambda self, e: self.func("VAR_SAMP", e.this),
            exp.VariancePop: lambda self, e: self.func("VAR_POP", e.this),
        }

        def datatype_sql(self, expression: exp.DataType) -> str:
            return _datatype_sql(self, expression)
