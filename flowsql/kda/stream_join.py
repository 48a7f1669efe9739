"""KDA's stream-to-stream join: `FROM "A" OVER (RANGE INTERVAL ...) AS a [LEFT|RIGHT|FULL] JOIN
"B" [OVER (...)] AS b ON a.k = b.k`, translated into the SQL the join operator runs.

A row of either side pairs with the other side's rows whose ROWTIME lies in that side's
window before it (a side with no window offers only rows of the same ROWTIME); the pair's
ROWTIME is the later of the two. An outer join's unmatched row comes out once no match can
arrive any more, at its ROWTIME plus its own side's window, as the KDA reference shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
from sqlglot import exp

from flowsql.engine.planner import OperatorPlan, StreamInfo, duckdb_error
from flowsql.kda.model import KdaStream
from flowsql.pipeline.model import Column, Pipeline, QueryDecl

if TYPE_CHECKING:
    from flowsql.kda.join_operator import StreamJoinOperator
    from flowsql.kda.translate import _Pump

LEFT, RIGHT = "__kda_join_left__", "__kda_join_right__"
ID, US, TIME, MATCHED = "__kda_id", "__kda_us", "__kda_t", "__kda_matched"
KEEP, LEFT_ID, RIGHT_ID, ORDER = "__kda_keep", "__kda_lid", "__kda_rid", "__kda_order"
HELPERS = (KEEP, LEFT_ID, RIGHT_ID, ORDER)
_ROWTIME_MARK = "__kda_rowtime"


@dataclass
class JoinSpec:
    """Both sides (stream names, aliases, windows in microseconds or None), which sides an
    outer join keeps, and the operator's SQL: `pairs` over new rows and kept rows, and
    `unmatched_left/right` giving a kept row no pair came for."""

    streams: tuple[str, str]
    aliases: tuple[str, str]
    windows_us: tuple[int | None, int | None]
    preserved: tuple[bool, bool]
    rowtime: str
    kind: str
    pairs: str = ""
    unmatched: tuple[str, str] = ("", "")
    input_schemas: list[pa.Schema] = field(default_factory=list)

    def describe(self) -> str:
        def side(index: int) -> str:
            window = self.windows_us[index]
            reach = "its current row only" if window is None else f"RANGE {window / 1e6:g} s PRECEDING"
            return f"{self.streams[index]} ({reach})"

        return (
            f"stream-to-stream {self.kind} JOIN of {side(0)} and {side(1)}: a pair is emitted when its later "
            f"row arrives, with the later ROWTIME"
            + ("; an unmatched row comes out when its window ends" if any(self.preserved) else "")
        )

    def plan_operator(self, pipeline: Pipeline, decl: QueryDecl, streams: dict[str, StreamInfo]) -> OperatorPlan:
        """The engine's plan: both inputs, and the output columns DuckDB gives on no rows."""
        from flowsql.kda.join_operator import tagged_empty

        self.input_schemas = [streams[name.lower()].schema for name in self.streams]
        template = self.pairs.replace(LEFT, f'"{self.streams[0]}"').replace(RIGHT, f'"{self.streams[1]}"')
        plan = OperatorPlan(
            decl,
            streams[self.streams[0].lower()].name,
            template,
            None,
            inputs=tuple(streams[n.lower()].name for n in self.streams),
        )
        con = duckdb.connect()
        try:
            con.register(LEFT, tagged_empty(self.input_schemas[0]))
            con.register(RIGHT, tagged_empty(self.input_schemas[1]))
            schema = con.sql(self.pairs).to_arrow_table().schema
        except duckdb.Error as exc:
            raise duckdb_error(pipeline, decl, exc) from None
        finally:
            con.close()
        plan.output_schema = pa.schema([f for f in schema if f.name not in HELPERS])
        return plan

    def make_operator(
        self, plan: OperatorPlan, con: duckdb.DuckDBPyConnection, lateness_us: int = 0
    ) -> StreamJoinOperator:
        from flowsql.kda.join_operator import StreamJoinOperator

        return StreamJoinOperator(plan, con, self)


def translate_join(
    work: _Pump,
    query: exp.Select,
    tables: list[exp.Table],
    windows: dict[int, int | None],
    stream: KdaStream,
    listed: list[str] | None,
    sink: str | None,
) -> JoinSpec:
    """A join pump as the join operator's SQL, by a pass per concern."""
    from flowsql.kda.division import integer_division
    from flowsql.kda.functions import FunctionError, rewrite_functions
    from flowsql.kda.translate import _check_functions, _project

    kind, on = _join_clause(work, query, tables)
    side_windows = _side_windows(work, tables, windows)
    _refuse_grouping(work, query)
    names = [t.name for t in tables]
    aliases = [t.alias or t.name for t in tables]
    columns = [_columns(work, n) for n in names]
    rowtime = _common_rowtime(work, tables)
    _check_key_equality(work, on, _Sides(aliases, columns))
    _mark_rowtimes(query, rowtime)
    _expand_stars(query, aliases, columns)
    both = columns[0] + columns[1]
    integer_division(
        query, [c for c in both if all(o.sql_type == c.sql_type for o in both if o.name.lower() == c.name.lower())]
    )
    try:
        rewrite_functions(query)
    except FunctionError as exc:
        raise work.fail(exc.node, str(exc)) from None
    _check_functions(work, query)
    _project(work, query, stream, listed, None if sink else rowtime)
    if sink is None:
        query.expressions[-1].set("this", exp.column(_ROWTIME_MARK))
    spec = JoinSpec(
        (names[0], names[1]),
        (aliases[0], aliases[1]),
        side_windows,
        (kind in ("LEFT", "FULL"), kind in ("RIGHT", "FULL")),
        rowtime,
        kind,
    )
    _build_sql(spec, query, on)
    return spec


def _join_clause(work: _Pump, query: exp.Select, tables: list[exp.Table]) -> tuple[str, exp.Expression]:
    """`FROM "A" ... JOIN "B" ... ON ...`: the join's kind and its ON condition."""
    left, right = tables
    joins = query.args.get("joins") or []
    source = query.args.get("from_") or query.args.get("from")
    if source is None or source.this is not left or len(joins) != 1 or joins[0].this is not right:
        raise work.fail(right, 'a stream-to-stream join is FROM "A" OVER (...) AS a JOIN "B" OVER (...) AS b ON ...')
    join = joins[0]
    kind = _join_kind(work, join)
    on = join.args.get("on")
    if on is None or join.args.get("using"):
        raise work.fail(
            right,
            "a stream-to-stream join needs ON with an equality between the two streams",
            'write ON a."key" = b."key"',
        )
    return kind, on


def _side_windows(
    work: _Pump, tables: list[exp.Table], windows: dict[int, int | None]
) -> tuple[int | None, int | None]:
    """Each side's window in microseconds (None: its current row only); one side at least has one."""
    from flowsql.kda.translate import _offset

    left, right = tables
    side_windows = (windows.get(_offset(left) or -1), windows.get(_offset(right) or -1))
    if side_windows == (None, None):
        raise work.fail(
            right,
            "a stream-to-stream join needs a window on at least one stream",
            'write FROM "A" OVER (RANGE INTERVAL \'1\' MINUTE PRECEDING) AS a JOIN "B" AS b ON ...',
        )
    return side_windows


def _refuse_grouping(work: _Pump, query: exp.Select) -> None:
    """A join pump pairs rows; grouping, sliding and aggregating belong to a further pump."""
    for node in (query.args.get("group"), *(w for w in query.find_all(exp.Window))):
        if node is not None:
            raise work.fail(
                node,
                "a stream-to-stream join pump neither groups nor slides",
                "join into an in-application stream, and aggregate it in a further pump",
            )
    if any(a.find_ancestor(exp.Window) is None for e in query.expressions for a in e.find_all(exp.AggFunc)):
        raise work.fail(
            query,
            "a stream-to-stream join pump does not aggregate",
            "join into an in-application stream, and aggregate it in a further pump",
        )


def _common_rowtime(work: _Pump, tables: list[exp.Table]) -> str:
    """The column both sides carry their ROWTIME in (both per row, or both a window's end)."""
    rowtimes = []
    for table in tables:
        rowtime = work.app.rowtime_of(work.pipeline, table.name)
        if rowtime is None:
            raise work.fail(
                table, f"the stream '{table.name}' is read before any pump fills it (or is bound to a sink)"
            )
        rowtimes.append(rowtime)
    if rowtimes[0] != rowtimes[1]:
        raise work.fail(
            tables[1],
            "the two joined streams carry their ROWTIMEs differently (one is a window's end)",
            "join streams filled row by row, or two windowed streams",
        )
    return rowtimes[0]


def _check_key_equality(work: _Pump, on: exp.Expression, sides: _Sides) -> None:
    if not any(sides.is_key_equality(c) for c in (on.flatten() if isinstance(on, exp.And) else [on])):
        raise work.fail(
            on,
            "a stream-to-stream join needs an equality between a column of each stream in its ON",
            'write ON a."key" = b."key"',
        )


def _mark_rowtimes(query: exp.Select, rowtime: str) -> None:
    """`a.ROWTIME` is that side's row time; a bare ROWTIME is the pair's, marked for later."""
    for column in list(query.find_all(exp.Column)):
        if column.name.upper() == "ROWTIME":
            column.replace(
                exp.column(rowtime, table=column.table, quoted=True) if column.table else exp.column(_ROWTIME_MARK)
            )


def _join_kind(work: _Pump, join: exp.Join) -> str:
    side = str(join.args.get("side") or "").upper()
    kind = str(join.args.get("kind") or "").upper()
    if kind == "CROSS" or join.args.get("method"):
        raise work.fail(
            join.this,
            f"a {kind or join.args['method']} JOIN of streams is not supported",
            'join on an equality with ON a."key" = b."key"',
        )
    return side or "INNER"


class _Sides:
    """Which stream a column of the ON condition belongs to."""

    def __init__(self, aliases: list[str], columns: list[list[Column]]) -> None:
        self.aliases = [a.lower() for a in aliases]
        self.names = [{c.name.lower() for c in cols} for cols in columns]

    def side_of(self, column: exp.Column) -> int | None:
        if column.table:
            return self.aliases.index(column.table.lower()) if column.table.lower() in self.aliases else None
        found = [i for i in (0, 1) if column.name.lower() in self.names[i]]
        return found[0] if len(found) == 1 else None

    def sides(self, node: exp.Expression) -> set[int | None]:
        return {self.side_of(c) for c in node.find_all(exp.Column)}

    def is_key_equality(self, node: exp.Expr) -> bool:
        if not isinstance(node, exp.EQ):
            return False
        return {frozenset(self.sides(node.this)), frozenset(self.sides(node.expression))} == {
            frozenset({0}),
            frozenset({1}),
        }


def _columns(work: _Pump, name: str) -> list[Column]:
    from flowsql.kda.translate import _input_columns

    return _input_columns(work, name)


def _expand_stars(query: exp.Select, aliases: list[str], columns: list[list[Column]]) -> None:
    expanded: list[exp.Expression] = []
    for item in query.expressions:
        if isinstance(item, exp.Star):
            sides = [0, 1]
        elif isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            sides = [i for i in (0, 1) if aliases[i].lower() == item.table.lower()] or [0, 1]
        else:
            expanded.append(item)
            continue
        expanded += [exp.column(c.name, table=aliases[i], quoted=True) for i in sides for c in columns[i]]
    query.set("expressions", expanded)


def _time_condition(spec: JoinSpec) -> str:
    """A pair is in time: the later row's side sees the earlier row within its own window
    (equal ROWTIMEs: either side's window will do)."""
    left, right = (f'"{a}"."{US}"' for a in spec.aliases)
    parts = []
    if spec.windows_us[1] is not None:  # a left row sees the right rows of the window before it
        parts.append(f"({left} >= {right} AND {left} - {right} <= {spec.windows_us[1]})")
    if spec.windows_us[0] is not None:
        parts.append(f"({right} >= {left} AND {right} - {left} <= {spec.windows_us[0]})")
    return " OR ".join(parts)


def _build_sql(spec: JoinSpec, query: exp.Select, on: exp.Expression) -> None:
    left_alias, right_alias = spec.aliases
    final, on = query.copy(), on.copy()
    rowtime = exp.func(
        "greatest", exp.column(TIME, table=left_alias, quoted=True), exp.column(TIME, table=right_alias, quoted=True)
    )
    for node in (final, on):
        for column in list(node.find_all(exp.Column)):
            if column.name == _ROWTIME_MARK:  # a bare ROWTIME: the pair's, the later of the two
                column.replace(rowtime.copy())
    where = final.args.get("where")
    keep = exp.func("coalesce", where.this.copy(), exp.false()) if where is not None else exp.true()
    final.select(
        exp.alias_(keep, KEEP),
        exp.alias_(exp.column(ID, table=left_alias, quoted=True), LEFT_ID),
        exp.alias_(exp.column(ID, table=right_alias, quoted=True), RIGHT_ID),
        exp.alias_(rowtime.copy(), ORDER),
        copy=False,
    )
    for arg in ("where", "joins", "from_", "from"):
        final.set(arg, None)
    head = final.sql("duckdb")

    def sql(join: str, condition: str) -> str:
        return f'{head} FROM {LEFT} AS "{left_alias}" {join} JOIN {RIGHT} AS "{right_alias}" ON {condition}'

    spec.pairs = sql("INNER", f"({on.sql('duckdb')}) AND ({_time_condition(spec)})")
    spec.unmatched = (sql("LEFT", "FALSE"), sql("RIGHT", "FALSE"))
