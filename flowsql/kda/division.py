"""KDA divides as SQL does: an integer by an integer is an integer, truncated toward zero
(`TSDIFF(a, b) / 1000` is whole seconds). DuckDB's `/` always gives a DOUBLE, so such a
division becomes DuckDB's `//` where both operands are integers by their declared types."""

from __future__ import annotations

from sqlglot import exp

from flowsql.pipeline.model import Column

_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "INT2",
    "INT4",
    "INT8",
    "SHORT",
    "LONG",
}
_INTEGER_CALLS = {"TSDIFF", "UNIX_TIMESTAMP", "CHAR_LENGTH", "CHARACTER_LENGTH", "EPOCH_MS"}


def integer_division(query: exp.Select, columns: list[Column]) -> None:
    """Turn each `/` whose operands are integers into `//` (both truncate toward zero)."""
    integers = {c.name.lower() for c in columns if c.sql_type.upper().split("(")[0].strip() in _INTEGER_TYPES}
    for node in list(query.find_all(exp.Div)):
        if _is_integer(node.this, integers) and _is_integer(node.expression, integers):
            node.replace(exp.IntDiv(this=node.this, expression=node.expression))


def _is_integer(node: exp.Expression, integers: set[str]) -> bool:
    if isinstance(node, exp.Paren | exp.Neg | exp.Abs):
        return _is_integer(node.this, integers)
    if isinstance(node, exp.Literal):
        return not node.is_string and node.this.lstrip("-").isdigit()
    if isinstance(node, exp.Column):
        return node.name.lower() in integers
    if isinstance(node, exp.Cast):
        return node.to.sql("duckdb").upper() in _INTEGER_TYPES
    if isinstance(node, exp.Count | exp.Length | exp.StrPosition):
        return True
    if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Mod | exp.IntDiv):
        return _is_integer(node.this, integers) and _is_integer(node.expression, integers)
    if isinstance(node, exp.Sum | exp.Min | exp.Max):
        return _is_integer(node.this, integers)
    if isinstance(node, exp.Case):
        branches = [branch.args.get("true") for branch in node.args.get("ifs") or []]
        default = node.args.get("default")  # no ELSE: NULL, which takes the branches' type
        return bool(branches) and all(_is_integer(b, integers) for b in branches + ([default] if default else []))
    if isinstance(node, exp.Coalesce):
        return all(_is_integer(e, integers) for e in [node.this, *node.expressions])
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper() in _INTEGER_CALLS
    return False
