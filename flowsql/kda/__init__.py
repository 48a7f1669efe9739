"""The Kinesis Data Analytics SQL front end: KDA application code (streams, pumps, STEP
windows, KDA functions) translated onto flowsql's planner and engine."""

from __future__ import annotations

from pathlib import Path

from sqlglot.tokens import Token

from flowsql.frontends import register_front_end
from flowsql.kda.model import KdaApplication
from flowsql.kda.parser import add_kda_statement, is_kda_statement
from flowsql.kda.reference import load_references
from flowsql.pipeline.model import Pipeline


class KdaFrontEnd:
    """CREATE [OR REPLACE] STREAM / PUMP and reference tables of a KDA application."""

    name = "kda"

    def claims(self, tokens: list[Token]) -> bool:
        return is_kda_statement(tokens)

    def add_statement(self, pipeline: Pipeline, tokens: list[Token], base_dir: Path) -> None:
        add_kda_statement(pipeline, tokens, base_dir)

    def prepare(self, pipeline: Pipeline) -> None:
        app = pipeline.extensions.get("kda")
        if isinstance(app, KdaApplication):
            load_references(list(app.references.values()))


register_front_end(KdaFrontEnd())

__all__ = ["KdaFrontEnd", "add_kda_statement", "is_kda_statement"]
