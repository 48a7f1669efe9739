"""Struct values as their fields: KDA's log-parsing functions give a struct per row that the
query around them reads field by field (`t.r.COLUMN1`). Flink has no struct literals, so each
field read becomes a column of the subquery computing that field alone."""

from __future__ import annotations

from sqlglot import exp

FIELD_MARK = "flink_struct_field"  # meta key of a regexp_extract this module wrote for Flink


def flatten_structs(query: exp.Query) -> None:
    """Rewrite, in place, every read of a struct field whose struct is a literal, a
    regexp_extract with field names, or a CASE giving one of those, as the field's value."""
    for subquery in list(query.find_all(exp.Subquery)):
        _split_struct_columns(subquery)
    for dot in list(query.find_all(exp.Dot)):
        value = field_of(dot.this, dot.expression.name) if isinstance(dot.expression, exp.Identifier) else None
        if value is not None:
            dot.replace(value)


def field_of(struct: exp.Expr, name: str) -> exp.Expr | None:
    """The expression giving field `name` of `struct`, or None when `struct` is none of the
    forms this knows."""
    struct = struct.unnest() if isinstance(struct, exp.Paren) else struct
    if isinstance(struct, exp.Struct):
        for item in struct.expressions:
            if isinstance(item, exp.PropertyEQ) and item.this.name.lower() == name.lower():
                return item.expression.copy()
        return None
    named = _named_groups(struct)
    if named is not None:
        text, pattern, names = named
        if name.lower() not in names:
            return None
        # DuckDB gives '' for a group that took no part in the match; Flink gives NULL.
        group = exp.RegexpExtract(
            this=text.copy(), expression=pattern.copy(), group=exp.Literal.number(names.index(name.lower()) + 1)
        )
        group.meta[FIELD_MARK] = True
        return exp.Coalesce(this=group, expressions=[exp.Literal.string("")])
    if isinstance(struct, exp.Case) and struct.args.get("default") is None and not struct.this:
        branches = []
        for branch in struct.args.get("ifs") or []:
            value = field_of(branch.args["true"], name)
            if value is None:
                return None
            branches.append(exp.If(this=branch.this.copy(), true=value))
        return exp.Case(ifs=branches)
    return None


def _split_struct_columns(subquery: exp.Subquery) -> None:
    """A subquery's struct column read as `alias.column.field` outside becomes one column per
    field read; the struct column goes when nothing else reads it."""
    inner = subquery.this
    outer = subquery.parent_select
    alias = subquery.alias_or_name
    if not isinstance(inner, exp.Select) or outer is None or not alias:
        return
    for item in list(inner.expressions):
        if not isinstance(item, exp.Alias) or not _struct_like(item.this):
            continue
        name = item.alias
        added: dict[str, str] = {}
        for column in list(outer.find_all(exp.Column)):
            if column.text("db").lower() != alias.lower() or column.table.lower() != name.lower():
                continue
            value = field_of(item.this, column.name)
            if value is None:
                continue
            flat = added.setdefault(column.name.lower(), f"{name}__{column.name}")
            if flat not in {e.alias for e in inner.expressions}:
                inner.select(exp.alias_(value, flat, quoted=True), copy=False)
            column.replace(exp.column(flat, table=alias, quoted=True))
        if added and not any(
            c.table.lower() == name.lower() or c.name.lower() == name.lower()
            for c in outer.find_all(exp.Column)
            if c.find_ancestor(exp.Subquery) is not subquery
        ):
            item.pop()


def _struct_like(value: exp.Expr) -> bool:
    value = value.unnest() if isinstance(value, exp.Paren) else value
    if isinstance(value, exp.Case):
        return all(_struct_like(b.args["true"]) for b in value.args.get("ifs") or [])
    return isinstance(value, exp.Struct) or _named_groups(value) is not None


def _named_groups(value: exp.Expr) -> tuple[exp.Expr, exp.Expr, list[str]] | None:
    """Text, pattern and field names of `regexp_extract(text, pattern, ['name', ...])`."""
    if isinstance(value, exp.RegexpExtract):
        text, pattern, group = value.this, value.expression, value.args.get("group")
    elif (
        isinstance(value, exp.Anonymous) and str(value.this).lower() == "regexp_extract" and len(value.expressions) == 3
    ):
        text, pattern, group = value.expressions
    else:
        return None
    if not isinstance(group, exp.Array) or not all(isinstance(n, exp.Literal) for n in group.expressions):
        return None
    return text, pattern, [n.name.lower() for n in group.expressions]
