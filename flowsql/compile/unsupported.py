"""The error a compile stops with when a pipeline says something the target engine cannot,
placed at the construct's line and column in the pipeline file."""

from __future__ import annotations

from sqlglot import exp

from flowsql.errors import Location, PipelineError
from flowsql.pipeline.model import Pipeline, QueryDecl


class UnsupportedError(PipelineError):
    """A construct with no equivalent on the compile target; exit code 2 like any SQL error."""


def unsupported(pipeline: Pipeline, decl: QueryDecl | None, node: exp.Expression | None, message: str,
                hint: str | None = None) -> UnsupportedError:
    location = node_location(pipeline, node) or (decl.location if decl else None)
    return UnsupportedError(f"cannot compile for Flink: {message}", location,
                            pipeline.line(location.line) if location else None,
                            hint or "rewrite it with standard SQL both engines share, or keep this pipeline on "
                                    "flowsql run")


def node_location(pipeline: Pipeline, node: exp.Expression | None) -> Location | None:
    """Where sqlglot saw `node` (or the first name inside it) in the pipeline file."""
    candidates = [node] if node is not None else []
    if node is not None:
        candidates += list(node.find_all(exp.Identifier, exp.Func))
    for candidate in candidates:
        meta = candidate.meta if candidate is not None else {}
        if "start" in meta:
            start = int(meta["start"])
            line = pipeline.text.count("\n", 0, start) + 1
            column = start - pipeline.text.rfind("\n", 0, start)
            return Location(str(pipeline.path), line, column)
    return None
