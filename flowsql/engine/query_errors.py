"""DuckDB's complaints about a user's query, placed in the pipeline file: at the token DuckDB
underlines (or names), with DuckDB's own hints kept and a close name suggested."""

from __future__ import annotations

import difflib
import functools
import re

import duckdb
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import TokenError
from sqlglot.tokens import Token

from flowsql.errors import Location, PipelineError
from flowsql.pipeline.model import Pipeline, QueryDecl

_DIALECT = DuckDB()
_WINDOW_NAMES = ("TUMBLE", "HOP", "SESSION")
_INTERNAL = re.compile(r"__flowsql\w*|__kda\w*")


def duckdb_error(pipeline: Pipeline, decl: QueryDecl, error: Exception) -> PipelineError:
    """A DuckDB error about a user's query, placed at what it complains of."""
    text = str(error)
    lines = text.splitlines()
    first = lines[0] if lines else "DuckDB rejected the query"
    message = re.sub(r"^[A-Za-z ]*Error: ", "", first)
    hints = _duckdb_hints(lines[1:])
    suggestion = _function_suggestion(message)
    if suggestion:
        hints = [suggestion + "".join(f" (DuckDB: {h})" for h in hints[:1])]
    token = None
    underlined = _underlined(lines)
    if underlined:
        token = find_token(pipeline, decl, underlined)
    for name in re.findall(r'"([^"]+)"|name (\w+) does not exist|types \'(\w+)\(', first):
        if token is None:
            token = find_token(pipeline, decl, next(n for n in name if n))
    location = token or decl.location
    return PipelineError(
        _INTERNAL.sub("<input>", message), location, pipeline.line(location.line), "; ".join(hints) or None
    )


def _duckdb_hints(lines: list[str]) -> list[str]:
    """DuckDB's own advice (Did you mean, Candidate bindings, Either add ...), without its SQL echo."""
    hints = []
    for line in lines:
        if line.startswith("LINE ") or not line.strip() or set(line.strip()) <= {"^"}:
            break
        stripped = line.strip()
        if stripped.startswith("Candidate bindings:"):
            stripped = "did you mean " + stripped.split(":", 1)[1].strip() + "?"
        elif stripped.startswith(("Candidate functions", "sum(", "avg(")) or "(" in stripped and "->" in stripped:
            continue
        hints.append(_INTERNAL.sub("<input>", stripped))
    return hints[:2]


def _underlined(lines: list[str]) -> str | None:
    """The text DuckDB puts carets under in its `LINE n: ...` echo of the query."""
    for index, line in enumerate(lines[:-1]):
        match = re.match(r"LINE \d+: ", line)
        carets = re.search(r"\^+", lines[index + 1])
        if match and carets:
            start = carets.start() - len(match.group(0))
            return line[len(match.group(0)) :][max(start, 0) : start + len(carets.group(0))] or None
    return None


def _function_suggestion(message: str) -> str | None:
    """For an unknown function, the closest DuckDB function or window function by name."""
    match = re.search(r"(Scalar|Aggregate|Table) Function with name (\w+) does not exist", message)
    if not match:
        return None
    kind, name = match.group(1), match.group(2).lower()
    if kind == "Table":
        names = list(_WINDOW_NAMES) + _function_names("table")
    else:  # a misspelt aggregate reads as an unknown scalar function, and the other way round
        names = _function_names("aggregate") + _function_names("scalar")
    close = difflib.get_close_matches(name.upper() if kind == "Table" else name, names, n=1, cutoff=0.6)
    return f"did you mean {close[0]}?" if close else None


@functools.cache
def _function_names(kind: str) -> list[str]:
    kinds = {"scalar": ("scalar", "macro"), "aggregate": ("aggregate",), "table": ("table", "table_macro")}[kind]
    placeholders = ", ".join("?" for _ in kinds)
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type IN ({placeholders}) ORDER BY 1",
            list(kinds),
        ).fetchall()
    common = [r[0] for r in rows if not r[0].startswith("__") and r[0].isidentifier()]
    return common


def find_token(pipeline: Pipeline, decl: QueryDecl, snippet: str) -> Location | None:
    """Where the first token of `snippet` is written in the statement of `decl`, if it is."""
    wanted = _first_word(snippet)
    if not wanted:
        return None
    start = statement_offset(pipeline, decl.location)
    for token in _tokens(decl.text):
        if _bare(token.text) == wanted:
            return offset_location(pipeline, start + token.start)
    return None


def _first_word(snippet: str) -> str | None:
    try:
        tokens = _DIALECT.tokenize(snippet)
    except TokenError:
        return None
    words = [_bare(t.text) for t in tokens if _bare(t.text) not in ("", "(", ")", ",", ".")]
    return words[0] if words else None


def _bare(text: str) -> str:
    return text.strip('"').lower()


def _tokens(text: str) -> list[Token]:
    try:
        return list(_DIALECT.tokenize(text))
    except TokenError:
        return []


def statement_offset(pipeline: Pipeline, location: Location) -> int:
    """The offset in the file of a 1-based line and column."""
    offset = 0
    for _ in range(location.line - 1):
        offset = pipeline.text.index("\n", offset) + 1
    return offset + location.column - 1


def offset_location(pipeline: Pipeline, offset: int) -> Location:
    line = pipeline.text.count("\n", 0, offset) + 1
    return Location(str(pipeline.path), line, offset - pipeline.text.rfind("\n", 0, offset))


def node_location(pipeline: Pipeline, node: exp.Expression | None) -> Location | None:
    """Where sqlglot read `node` (or its first identifier) in the file."""
    while node is not None:
        meta = node.meta
        if "line" in meta and "start" in meta:
            return offset_location(pipeline, int(meta["start"]))
        identifier = node.find(exp.Identifier)
        if identifier is not None and identifier is not node:
            node = identifier
            continue
        return None
    return None
