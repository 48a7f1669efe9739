"""A pipeline file's text: offsets to line and column, and its statements as token runs."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from flowsql.errors import Location, PipelineError

_DIALECT = DuckDB()


@dataclass
class SourceText:
    """A file's text with offset → line/column lookup."""

    path: str
    text: str

    def location(self, offset: int) -> Location:
        line = self.text.count("\n", 0, offset) + 1
        column = offset - self.text.rfind("\n", 0, offset)
        return Location(self.path, line, column)

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""

    def error(self, message: str, offset: int, hint: str | None = None) -> PipelineError:
        where = self.location(offset)
        return PipelineError(message, where, self.line(where.line), hint)


@dataclass
class Statement:
    source: SourceText
    tokens: list[Token]

    @property
    def start(self) -> int:
        return self.tokens[0].start

    @property
    def end(self) -> int:
        return self.tokens[-1].end + 1

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]


def split_statements(source: SourceText) -> list[Statement]:
    try:
        tokens = _DIALECT.tokenize(source.text)
    except TokenError as exc:
        raise PipelineError(f"{source.path}: cannot read the SQL: {exc}") from None
    statements: list[Statement] = []
    current: list[Token] = []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if current:
                statements.append(Statement(source, current))
            current = []
        else:
            current.append(token)
    if current:
        statements.append(Statement(source, current))
    return statements
