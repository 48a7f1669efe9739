"""DuckDB functions that reach the compiler as bare calls by name (flowsql's translation of
KDA's date functions writes them so, and sqlglot keeps some DuckDB names so), as Flink SQL:
strptime, strftime, epoch_ms of a timestamp, date_trunc, FLOOR, and a part of str_split."""

from __future__ import annotations

from sqlglot import exp

from flowsql.compile.flink_dialect import TRUNCATE_UNITS
from flowsql.compile.flink_strptime import FlinkCall, java_patterns, to_timestamp


def rewrite_named_calls(query: exp.Query) -> None:
    """Replace, in place, each call this module knows a Flink form of; others stay for the
    compile's check to report."""
    for node in reversed(list(query.find_all(exp.Anonymous))):  # inner calls first: outer ones copy them
        replacement = _flink_form(str(node.this).lower(), node.expressions)
        if replacement is not None:
            node.replace(replacement)
    for parse in list(query.find_all(exp.StrToTime)):
        form = parse.args.get("format")
        parsed = to_timestamp(parse.this, form.this) if isinstance(form, exp.Literal) and form.is_string else None
        if parsed is not None:
            parse.replace(parsed)
    for item in list(query.find_all(exp.Bracket)):
        # str_split(text, sep)[i] (KDA's VARIABLE_COLUMN_LOG_PARSE): SPLIT_INDEX counts from 0, as
        # sqlglot's tree does; both give NULL past the last part.
        index = item.expressions[0] if len(item.expressions) == 1 else None
        if (
            isinstance(item.this, exp.Split)
            and isinstance(item.this.expression, exp.Literal)
            and isinstance(index, exp.Literal)
            and index.is_int
            and not item.args.get("offset")
        ):
            item.replace(FlinkCall(this="SPLIT_INDEX", expressions=[item.this.this, item.this.expression, index]))


def _flink_form(name: str, args: list[exp.Expression]) -> exp.Expression | None:
    literal = args[-1].this if args and isinstance(args[-1], exp.Literal) and args[-1].is_string else None
    if name in ("strptime", "try_strptime") and len(args) == 2 and literal is not None:
        return to_timestamp(args[0], literal)
    if name == "strftime" and len(args) == 2 and literal is not None:
        patterns = java_patterns(literal)
        return (
            FlinkCall(this="DATE_FORMAT", expressions=[args[0], exp.Literal.string(patterns[0])]) if patterns else None
        )
    if name == "epoch_ms" and len(args) == 1:
        return _epoch_ms(args[0])
    if (
        name == "date_trunc"
        and len(args) == 2
        and isinstance(args[0], exp.Literal)
        and args[0].name.upper() in TRUNCATE_UNITS
    ):
        return exp.TimestampTrunc(this=args[1], unit=exp.var(args[0].name.upper()))
    if name == "floor" and len(args) == 1:
        return exp.Floor(this=args[0])
    return None


def _epoch_ms(moment: exp.Expression) -> exp.Expression:
    """Milliseconds since 1970 of a timestamp (the translation's epoch_ms takes timestamps only):
    whole minutes since then, which fit an INT for millennia, and the seconds and milliseconds
    of the minute. Flink has no one function for it."""
    minutes = FlinkCall(
        this="TIMESTAMPDIFF",
        expressions=[
            exp.var("MINUTE"),
            exp.cast(exp.Literal.string("1970-01-01 00:00:00"), exp.DataType.Type.TIMESTAMP),
            exp.TimestampTrunc(this=moment.copy(), unit=exp.var("MINUTE")),
        ],
    )
    seconds = exp.Extract(this=exp.var("SECOND"), expression=moment.copy())
    millis = exp.Extract(this=exp.var("MILLISECOND"), expression=moment.copy())
    total = exp.Add(
        this=exp.Add(
            this=exp.Mul(this=exp.cast(minutes, exp.DataType.Type.BIGINT), expression=exp.Literal.number(60000)),
            expression=exp.Mul(this=seconds, expression=exp.Literal.number(1000)),
        ),
        expression=millis,
    )
    return exp.Paren(this=total)
