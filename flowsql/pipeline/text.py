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
    except TokenError:
        raise _token_error(source) from None
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


_CLOSERS = {
    "'": ("'", "string", "'"),
    '"': ('"', "quoted name", '"'),
    "/*": ("*/", "comment", "*/"),
    "$$": ("$$", "dollar-quoted string", "$$"),
}


def _token_error(source: SourceText) -> PipelineError:
    """Where the text stops being SQL: the opening of a string or comment that never ends."""
    text, offset = source.text, 0
    while offset < len(text):
        if text.startswith("--", offset):
            end = text.find("\n", offset)
            offset = len(text) if end < 0 else end + 1
            continue
        opener = next((o for o in _CLOSERS if text.startswith(o, offset)), None)
        if opener is None:
            offset += 1
            continue
        closer, what, shown = _CLOSERS[opener]
        end = _closing(text, offset + len(opener), closer)
        if end < 0:
            return source.error(f"unterminated {what}: it opens here and never ends", offset, f"close it with {shown}")
        offset = end + len(closer)
    return PipelineError(f"{source.path}: cannot read the SQL", Location(source.path, 1, 1), source.line(1))


def _closing(text: str, start: int, closer: str) -> int:
    """The offset of `closer` after `start`; a doubled quote inside a string is not its end."""
    position = start
    while True:
        end = text.find(closer, position)
        if end < 0 or closer not in ("'", '"') or not text.startswith(closer * 2, end):
            return end
        position = end + 2
