"""TOP_K_ITEMS_TUMBLING and COUNT_DISTINCT_ITEMS_TUMBLING: a pump reading
`TABLE(fn(CURSOR(SELECT STREAM * FROM "S"), 'column', ...))` becomes a tumbling GROUP BY
on the cursor's ROWTIME, which the rest of the translation handles like any STEP window.

Both are exact here: KDA approximates only past 10,000 distinct items (count) or may return
fewer than the true top K, so an exact answer is one KDA could give.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp

if TYPE_CHECKING:
    from flowsql.kda.translate import _Pump

_FUNCTIONS = {"TOP_K_ITEMS_TUMBLING": 4, "COUNT_DISTINCT_ITEMS_TUMBLING": 3}
_NOT_SUPPORTED = {
    "HOTSPOTS": "the reference names HOTSPOTS' parameters and its JSON result but not how hotspots "
    "are found or their density computed, so no implementation could give KDA's hotspots"
}


def table_function(query: exp.Select) -> exp.Anonymous | None:
    """The call in `FROM TABLE(call(...))`, if that is the pump's FROM."""
    source = query.args.get("from_") or query.args.get("from")
    table = source.this if source is not None else None
    if (
        isinstance(table, exp.Table)
        and isinstance(table.this, exp.Anonymous)
        and str(table.this.this).upper() == "TABLE"
        and len(table.this.expressions) == 1
        and isinstance(table.this.expressions[0], exp.Anonymous)
    ):
        return table.this.expressions[0]
    return None


def expand_tumbling_items(work: _Pump, query: exp.Select) -> exp.Select:
    """The pump's query with a supported table function replaced by its GROUP BY form."""
    call = table_function(query)
    if call is None:
        return query
    name = str(call.this).upper()
    if name in _NOT_SUPPORTED:
        raise work.fail(
            call.expressions[0] if call.expressions else query,
            f"{name} is not supported by flowsql's KDA front end: {_NOT_SUPPORTED[name]}",
            "see docs/kda-migration.md",
        )
    if name not in _FUNCTIONS:
        raise work.fail(query, f"table function {name} is not supported by flowsql's KDA front end")
    args = call.expressions
    usage = (
        "TOP_K_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM \"S\"), 'column', K, seconds)"
        if name == "TOP_K_ITEMS_TUMBLING"
        else "COUNT_DISTINCT_ITEMS_TUMBLING(CURSOR(SELECT STREAM * FROM \"S\"), 'column', seconds)"
    )
    cursor = args[0] if args else None
    inner = (
        cursor.expressions[0]
        if isinstance(cursor, exp.Anonymous) and str(cursor.this).upper() == "CURSOR" and cursor.expressions
        else None
    )
    literals_ok = (
        len(args) == _FUNCTIONS[name]
        and isinstance(args[1], exp.Literal)
        and args[1].is_string
        and all(isinstance(a, exp.Literal) and a.is_int for a in args[2:])
    )
    if not isinstance(inner, exp.Select) or not literals_ok:
        raise work.fail(call.expressions[0] if args else query, f"{name} takes {usage}")
    if not (len(query.expressions) == 1 and isinstance(query.expressions[0], exp.Star)) or query.args.get("where"):
        raise work.fail(query, f"a pump over {name} selects * from it", f"write SELECT STREAM * FROM TABLE({usage})")
    inner_from = inner.args.get("from_") or inner.args.get("from")
    stream = inner_from.this if inner_from is not None else None
    if not isinstance(stream, exp.Table) or inner.args.get("group"):
        raise work.fail(inner, f"the CURSOR of {name} reads one stream", f"write {usage}")
    column = exp.column(args[1].this, quoted=True).sql("duckdb")
    seconds = int(args[-1].this)
    if seconds < 1:
        raise work.fail(args[-1], f"{name}'s window size must be at least one second")
    # The cursor's FROM as written, joins (with reference tables) included.
    stream_sql = " ".join([stream.sql("duckdb")] + [j.sql("duckdb") for j in inner.args.get("joins") or []])
    step = f"STEP(ROWTIME, INTERVAL '{seconds}' SECOND)"
    where = f" WHERE {inner.args['where'].this.sql('duckdb')}" if inner.args.get("where") else ""
    if name == "TOP_K_ITEMS_TUMBLING":
        k = int(args[2].this)
        text = (
            f"SELECT {column}, COUNT(*) FROM {stream_sql}{where} GROUP BY {column}, {step} "
            f"QUALIFY row_number() OVER (PARTITION BY {step} ORDER BY COUNT(*) DESC, {column}) <= {k} "
            f"ORDER BY {step}, COUNT(*) DESC, {column}"
        )
    else:
        text = f"SELECT COUNT(DISTINCT {column}) FROM {stream_sql}{where} GROUP BY {step}"
    expanded = sqlglot.parse_one(text, read="duckdb")
    assert isinstance(expanded, exp.Select)
    return expanded
