"""A join with a KDA reference table (a small file) written into the Flink job: Flink's regular
LEFT JOIN of a stream and a file emits retractions that a file sink cannot take, so the table's
rows are read at compile time and each of its columns becomes a CASE on the join key."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from flowsql.compile.unsupported import unsupported
from flowsql.pipeline.model import Pipeline, QueryDecl

MAX_ROWS = 10_000  # a larger table would make a job text Flink's planner takes long over


def inline_reference_joins(pipeline: Pipeline, decl: QueryDecl, query: exp.Query) -> list[str]:
    """Replace, in place, each LEFT or INNER equality join with a reference file by CASE
    expressions; the notes say the rows are the file's at compile time."""
    notes = []
    for join in list(query.find_all(exp.Join)):
        read = _reference_read(join)
        select = join.parent
        if read is None or not isinstance(select, exp.Select):
            continue
        alias = join.this.alias_or_name
        key, reference_key = _key_columns(join, alias)
        side = str(join.args.get("side") or "").upper()
        if key is None or reference_key is None or side not in ("", "LEFT") or join.args.get("kind"):
            continue
        rows = _rows(pipeline, decl, join, read)
        keys = [row[reference_key.name.lower()] for row in rows]
        if None in keys or len(set(keys)) != len(keys):
            raise unsupported(
                pipeline,
                decl,
                join.this,
                "a reference table whose join key is NULL or repeated has "
                "no CASE form (a row may join several of its rows)",
                hint="keep this pipeline on flowsql run",
            )
        for column in list(select.find_all(exp.Column)):
            if column.table.lower() == alias.lower():
                column.replace(_lookup(key, keys, [row.get(column.name.lower()) for row in rows]))
        join.pop()
        if side == "":  # an inner join keeps only the rows with a match
            select.where(exp.In(this=key.copy(), expressions=[_literal(k) for k in keys]), copy=False)
        notes.append(
            f"query into `{decl.target}`: the reference table joined as `{alias}` is read when the job is "
            f"compiled ({len(rows)} rows) and written into the job; compile again when it changes"
        )
    return notes


def _reference_read(join: exp.Join) -> exp.Select | None:
    """The `SELECT * FROM read_csv(...)` / `read_json(...)` flowsql reads a reference table with."""
    inner = join.this.this if isinstance(join.this, exp.Subquery) else None
    source = inner.args.get("from_") if isinstance(inner, exp.Select) else None
    table = source.this if source is not None else None
    if (
        isinstance(table, exp.Table)
        and isinstance(table.this, (exp.ReadCSV, exp.Anonymous))
        and (not isinstance(table.this, exp.Anonymous) or str(table.this.this).lower() == "read_json")
    ):
        return inner
    return None


def _key_columns(join: exp.Join, alias: str) -> tuple[exp.Column | None, exp.Column | None]:
    on = join.args.get("on")
    if not isinstance(on, exp.EQ) or not all(isinstance(s, exp.Column) for s in (on.this, on.expression)):
        return None, None
    sides = sorted((on.this, on.expression), key=lambda c: c.table.lower() == alias.lower())
    if sides[0].table.lower() == alias.lower() or sides[1].table.lower() != alias.lower():
        return None, None
    return sides[0], sides[1]


def _rows(pipeline: Pipeline, decl: QueryDecl, join: exp.Join, read: exp.Select) -> list[dict[str, object]]:
    with duckdb.connect() as con:
        try:
            result = con.execute(read.sql("duckdb") + f" LIMIT {MAX_ROWS + 1}")
        except duckdb.Error as error:
            raise unsupported(
                pipeline,
                decl,
                join.this,
                f"the reference table cannot be read when the job is compiled ({error})",
                hint="keep this pipeline on flowsql run",
            ) from None
        names = [d[0].lower() for d in result.description]
        rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    if not rows or len(rows) > MAX_ROWS:
        what = (
            "no rows when the job is compiled (in S3, it is read when the run starts)"
            if not rows
            else f"over {MAX_ROWS} rows"
        )
        raise unsupported(
            pipeline,
            decl,
            join.this,
            f"a reference table is written into the Flink job, and this one has {what}",
            hint="keep this pipeline on flowsql run",
        )
    return rows


def _lookup(key: exp.Column, keys: list[object], values: list[object]) -> exp.Expression:
    branches = [exp.If(this=_literal(k), true=_literal(v)) for k, v in zip(keys, values, strict=True)]
    return exp.Case(this=key.copy(), ifs=branches)


def _literal(value: object) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))
