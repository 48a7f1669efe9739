"""RANDOM_CUT_FOREST and RANDOM_CUT_FOREST_WITH_EXPLANATION: a pump reading
`TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT STREAM ... FROM "S"), ...))` reads "S" through the
cursor's SELECT, and the forest operator (rcf_operator.py) adds ANOMALY_SCORE (and
ANOMALY_EXPLANATION) to each row before the pump's own SELECT runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
from sqlglot import exp

from flowsql.engine.planner import INPUT_PLACEHOLDER, OperatorPlan
from flowsql.kda.tumbling_items import table_function
from flowsql.pipeline.model import Column

if TYPE_CHECKING:
    from flowsql.kda.rcf_operator import ForestOperator
    from flowsql.kda.translate import _Pump

SEQ = "__kda_seq"
SCORE = "ANOMALY_SCORE"
EXPLANATION = "ANOMALY_EXPLANATION"
FOREST_FUNCTIONS = ("RANDOM_CUT_FOREST", "RANDOM_CUT_FOREST_WITH_EXPLANATION")
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "FLOAT",
    "REAL",
    "DOUBLE",
    "DECIMAL",
)
_MAX_INT = 2_147_483_647
SEED = 1  # fixed, so that a run's scores are the same every time it runs


@dataclass(frozen=True)
class _Parameter:
    """A numeric parameter of the reference: its name, default and allowed range."""

    name: str
    default: int
    low: int
    high: int


# The KDA SQL Reference's parameters, defaults and ranges, in call order.
PARAMETERS = (
    _Parameter("numberOfTrees", 100, 1, 1000),
    _Parameter("subSampleSize", 256, 10, 1000),
    _Parameter("timeDecay", 100_000, 1, _MAX_INT),
    _Parameter("shingleSize", 1, 1, 30),
)


@dataclass
class ForestSpec:
    """One pump's forest: its parameters, the cursor's numeric columns (the point's
    dimensions, in order) and the two SQL templates the operator runs."""

    function: str
    trees: int
    sample_size: int
    time_decay: int
    shingle_size: int
    explain: bool = False
    directionality: bool = False
    seed: int = SEED
    dimensions: list[str] = field(default_factory=list)
    cursor_template: str = ""
    outer_template: str = ""

    def describe(self) -> str:
        return (
            f"{self.function}: {self.trees} trees of {self.sample_size} points, time decay {self.time_decay} "
            f"records, shingles of {self.shingle_size}; dimensions " + ", ".join(self.dimensions)
        )

    def make_operator(self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0) -> ForestOperator:
        from flowsql.kda.rcf_operator import ForestOperator

        return ForestOperator(plan, con, self)

    def finish(self, work: _Pump, query: exp.Select, input_name: str, typed_input: str) -> str:
        """Split the translated pump into the cursor's SQL (over the input) and the pump's own
        SELECT (over the scored cursor rows); find the numeric columns by DuckDB's types."""
        source = query.args.get("from_") or query.args.get("from")
        subquery = source.this if source is not None else None
        assert isinstance(subquery, exp.Subquery) and isinstance(subquery.this, exp.Select)
        cursor = subquery.this.copy()
        for table in cursor.find_all(exp.Table):
            if table.name.lower() == input_name.lower():
                alias = table.alias or table.name
                table.replace(
                    exp.Table(
                        this=exp.to_identifier(INPUT_PLACEHOLDER),
                        alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
                    )
                )
                break
        cursor.select(exp.column(SEQ, quoted=True), copy=False)
        cursor.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column(SEQ, quoted=True))]))
        self.cursor_template = cursor.sql("duckdb")
        self.dimensions = _numeric_columns(work, subquery.this, self.cursor_template, typed_input)
        outer = query.copy()
        outer.set(
            "from_",
            exp.From(
                this=exp.Table(
                    this=exp.to_identifier(INPUT_PLACEHOLDER),
                    alias=exp.TableAlias(this=subquery.args["alias"].this.copy()),
                )
            ),
        )
        outer.select(exp.column(SEQ, quoted=True), copy=False)
        self.outer_template = outer.sql("duckdb")
        return f"{self.cursor_template}; then {self.outer_template}"


def _numeric_columns(work: _Pump, cursor: exp.Select, template: str, typed_input: str) -> list[str]:
    with duckdb.connect() as con:
        try:
            described = con.execute(f"DESCRIBE {template.replace(INPUT_PLACEHOLDER, typed_input)}").fetchall()
        except duckdb.Error as exc:
            raise work.fail(cursor, f"the CURSOR's SELECT does not run: {str(exc).splitlines()[0]}") from None
    from flowsql.kda.translate import _SYSTEM_COLUMNS

    skip = {SEQ.lower(), SCORE.lower(), EXPLANATION.lower()} | _SYSTEM_COLUMNS
    names = [name for name, kind, *_ in described if name.lower() not in skip and kind.split("(")[0] in _NUMERIC]
    if not names:
        raise work.fail(
            cursor,
            "the CURSOR of a RANDOM_CUT_FOREST gives no numeric column to score",
            "select at least one DOUBLE, REAL, INTEGER, BIGINT, SMALLINT or TINYINT column",
        )
    return names


def typed_input(columns: list[Column], rowtime: str) -> str:
    """An empty relation with the input's columns and types, to learn the cursor's types from."""
    items = [f'CAST(NULL AS {c.sql_type}) AS "{c.name}"' for c in columns if c.name.lower() != rowtime.lower()]
    items += [f'CAST(NULL AS TIMESTAMP) AS "{rowtime}"', f'CAST(NULL AS BIGINT) AS "{SEQ}"']
    return f"(SELECT {', '.join(items)} LIMIT 0)"


def expand_random_cut_forest(work: _Pump, query: exp.Select) -> tuple[exp.Select, ForestSpec | None]:
    """`... FROM TABLE(RANDOM_CUT_FOREST(CURSOR(SELECT ...), ...))` becomes `... FROM (SELECT
    cursor columns, ROWTIME, NULL AS ANOMALY_SCORE ... FROM "S") AS "S"`: the rest of the
    translation then sees a per-row pump on "S", and the operator fills the score."""
    call = table_function(query)
    if call is None or str(call.this).upper() not in FOREST_FUNCTIONS:
        return query, None
    name = str(call.this).upper()
    args = list(call.expressions)
    cursor = args[0] if args else None
    inner = (
        cursor.expressions[0]
        if isinstance(cursor, exp.Anonymous) and str(cursor.this).upper() == "CURSOR" and cursor.expressions
        else None
    )
    usage = f'{name}(CURSOR(SELECT STREAM * FROM "S"), numberOfTrees, subSampleSize, timeDecay, shingleSize' + (
        ", withDirectionality)" if name != "RANDOM_CUT_FOREST" else ")"
    )
    if not isinstance(inner, exp.Select):
        raise work.fail(call, f'{name} reads a CURSOR(SELECT STREAM ... FROM "stream")', f"write {usage}")
    spec = _parameters(work, name, args[1:], usage)
    inner_from = inner.args.get("from_") or inner.args.get("from")
    stream = inner_from.this if inner_from is not None else None
    if (
        not isinstance(stream, exp.Table)
        or inner.args.get("joins")
        or inner.args.get("group")
        or isinstance(stream.this, exp.Anonymous)
    ):
        raise work.fail(inner, f"the CURSOR of {name} reads one stream", f"write {usage}")
    _cursor_columns(work, inner, stream)
    outputs = [_output_name(item) for item in inner.expressions if _output_name(item).upper() != "ROWTIME"]
    added = [SCORE] + ([EXPLANATION] if spec.explain else [])
    inner.select(exp.column("ROWTIME"), copy=False)
    inner.select(
        *(
            exp.alias_(exp.Cast(this=exp.Null(), to=exp.DataType.build(t)), n, quoted=True)
            for n, t in zip(added, ("DOUBLE", "VARCHAR"), strict=False)
        ),
        copy=False,
    )
    outer_alias = (query.args.get("from_") or query.args["from"]).this.alias or stream.alias or stream.name
    subquery = exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(outer_alias, quoted=True)))
    query.set("from_", exp.From(this=subquery))
    query.set("from", None)
    expanded: list[exp.Expression] = []
    for item in query.expressions:
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
            expanded += [exp.column(n, quoted=True) for n in outputs + added]
        else:
            expanded.append(item)
    query.set("expressions", expanded)
    return query, spec


def _parameters(work: _Pump, name: str, args: list[exp.Expression], usage: str) -> ForestSpec:
    """The literal parameters after the cursor; those left out take the reference's defaults."""
    most = len(PARAMETERS) + (1 if name != "RANDOM_CUT_FOREST" else 0)
    if len(args) > most:
        raise work.fail(args[most], f"{name} takes at most {most} parameters after the CURSOR", f"write {usage}")
    values = [p.default for p in PARAMETERS]
    for index, (arg, parameter) in enumerate(zip(args, PARAMETERS, strict=False)):
        if not (isinstance(arg, exp.Literal) and arg.is_int):
            raise work.fail(arg, f"{name}'s {parameter.name} must be an integer literal", f"write {usage}")
        value = int(arg.this)
        if not parameter.low <= value <= parameter.high:
            raise work.fail(
                arg, f"{name}'s {parameter.name} must be between {parameter.low} and {parameter.high}, not {value}"
            )
        values[index] = value
    directionality = False
    if len(args) > len(PARAMETERS):
        flag = args[len(PARAMETERS)]
        if not isinstance(flag, exp.Boolean):
            raise work.fail(flag, f"{name}'s withDirectionality must be true or false", f"write {usage}")
        directionality = bool(flag.this)
    trees, sample_size, time_decay, shingle_size = values
    return ForestSpec(
        name,
        trees,
        sample_size,
        time_decay,
        shingle_size,
        explain=name != "RANDOM_CUT_FOREST",
        directionality=directionality,
    )


def _cursor_columns(work: _Pump, inner: exp.Select, stream: exp.Table) -> None:
    """`*` in the cursor is the stream's columns; an unnamed expression is named EXPR$n, as
    KDA names it."""
    from flowsql.kda.translate import _expand_stars, _input_columns

    known = {s.lower() for s in work.pipeline.sources} | set(work.app.streams)
    if stream.name.lower() not in known:
        raise work.fail(stream, f"no stream is named '{stream.name}'")
    _expand_stars(work, inner, _input_columns(work, stream.name))
    named: list[exp.Expression] = []
    for number, item in enumerate(inner.expressions):
        if not isinstance(item, (exp.Alias, exp.Column)):
            item = exp.alias_(item, f"EXPR${number}", quoted=True)
        named.append(item)
    inner.set("expressions", named)


def _output_name(item: exp.Expression) -> str:
    return item.alias_or_name
