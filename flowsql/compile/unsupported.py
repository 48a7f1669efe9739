"""The error a compile stops with when a pipeline says something the target engine cannot,
placed at the construct's line and column in the pipeline file."""

from __future__ import annotations

import re

from sqlglot import exp

from flowsql.errors import Location, PipelineError
from flowsql.pipeline.model import Pipeline, QueryDecl


class UnsupportedError(PipelineError):
    """A construct with no equivalent on the compile target; exit code 2 like any SQL error."""


def unsupported(
    pipeline: Pipeline, decl: QueryDecl | None, node: exp.Expr | None, message: str, hint: str | None = None
) -> UnsupportedError:
    """The error for `node` of `decl`: at the node when the file spells it there, else at the
    statement, saying that the construct comes from how flowsql translated the statement."""
    location = node_location(pipeline, node, decl)
    if location is None and node is not None and decl is not None:
        message += " (it comes from flowsql's translation of this statement)"
    location = location or (decl.location if decl else None)
    return UnsupportedError(
        f"cannot compile for Flink: {message}",
        location,
        pipeline.line(location.line) if location else None,
        hint or "rewrite it with standard SQL both engines share, or keep this pipeline on flowsql run",
    )


def node_location(pipeline: Pipeline, node: exp.Expr | None, decl: QueryDecl | None = None) -> Location | None:
    """Where sqlglot saw `node` (or the first name inside it) in the pipeline file; None when
    the node was made by a translation (a KDA pump's), whose offsets are not the file's."""
    candidates = [node] if node is not None else []
    if node is not None:
        candidates += list(node.find_all(exp.Identifier, exp.Func))
    first = _statement_start(pipeline, decl)
    for candidate in candidates:
        meta = candidate.meta if candidate is not None else {}
        if "start" in meta and int(meta["start"]) >= first and _spelled_at(pipeline.text, candidate, meta):
            start = int(meta["start"])
            line = pipeline.text.count("\n", 0, start) + 1
            column = start - pipeline.text.rfind("\n", 0, start)
            return Location(str(pipeline.path), line, column)
    return None


def _statement_start(pipeline: Pipeline, decl: QueryDecl | None) -> int:
    if decl is None or decl.location is None or str(decl.location.path) != str(pipeline.path):
        return 0
    lines = pipeline.text.split("\n")
    return sum(len(line) + 1 for line in lines[: decl.location.line - 1])


def _spelled_at(text: str, node: exp.Expr, meta: dict[str, object]) -> bool:
    """The file holds the node's name at its offsets (quotes aside)."""
    if isinstance(node, exp.Identifier) and "end" in meta:
        spelled = text[int(meta["start"]) : int(meta["end"]) + 1]  # type: ignore[call-overload]
        return spelled.strip('"`').lower() == node.name.lower()
    if isinstance(node, exp.Func):
        names = [str(node.this)] if isinstance(node, exp.Anonymous) else [node.sql_name(), *node.sql_names()]
        word = re.match(r"\w+", text[int(meta["start"]) :])  # type: ignore[call-overload]
        return word is not None and word.group(0).lower() in {n.lower() for n in names}
    return False
