"""Parse a pipeline file into its declarations, keeping file:line:column for every error.

Standard statements (CREATE VIEW, INSERT INTO) are parsed by sqlglot's DuckDB dialect;
flowsql's own CREATE SOURCE and CREATE SINK are read from the same token stream here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, TokenType

from flowsql.errors import Location, PipelineError
from flowsql.options import Option, RawValue
from flowsql.pipeline.model import Column, Pipeline, QueryDecl, SinkDecl, SourceDecl, Watermark

_DIALECT = DuckDB()
_JSON_PATH = re.compile(r"^\$(\.[^.\[\]]+)+$")


@dataclass
class _Text:
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


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and parse a pipeline file; raises PipelineError with the place of any problem."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise PipelineError(f"cannot read pipeline file {file}: {exc.strerror}") from None
    pipeline = Pipeline(path=file, name=_pipeline_name(file), text=text)
    for statement in _statements(_Text(str(file), text)):
        _add_statement(pipeline, statement, file.parent)
    return pipeline


def parse_text(text: str, path: str = "<pipeline>") -> Pipeline:
    """Parse pipeline text that is not in a file (tests, stdin)."""
    pipeline = Pipeline(path=Path(path), name=_pipeline_name(Path(path)), text=text)
    for statement in _statements(_Text(path, text)):
        _add_statement(pipeline, statement, Path.cwd())
    return pipeline


def _pipeline_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", path.stem) or "pipeline"


@dataclass
class _Statement:
    source: _Text
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


def _statements(source: _Text) -> list[_Statement]:
    try:
        tokens = _DIALECT.tokenize(source.text)
    except TokenError as exc:
        raise PipelineError(f"{source.path}: cannot read the SQL: {exc}") from None
    statements: list[_Statement] = []
    current: list[Token] = []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if current:
                statements.append(_Statement(source, current))
            current = []
        else:
            current.append(token)
    if current:
        statements.append(_Statement(source, current))
    return statements


def _add_statement(pipeline: Pipeline, statement: _Statement, base_dir: Path) -> None:
    from flowsql.kda import add_kda_statement, is_kda_statement  # the KDA dialect's statements

    tokens = statement.tokens
    head = [t.text.upper() for t in tokens[:3]]
    if head[:2] == ["CREATE", "SOURCE"]:
        source = _Declaration(statement).source()
        _check_new_name(pipeline, source.name, statement, tokens[2])
        pipeline.sources[source.name] = source
    elif head[:2] == ["CREATE", "SINK"]:
        sink = _Declaration(statement).sink(base_dir)
        _check_new_name(pipeline, sink.name, statement, tokens[2])
        pipeline.sinks[sink.name] = sink
    elif is_kda_statement(tokens):
        add_kda_statement(pipeline, tokens, base_dir)
    elif head[:2] == ["CREATE", "VIEW"] or head[:3] == ["CREATE", "OR", "REPLACE"] and _is_view(tokens):
        view = _parse_query_statement(statement)
        _check_new_name(pipeline, view.target, statement, tokens[2])
        pipeline.views[view.target] = view
    elif head[:1] == ["SET"]:
        pipeline.settings.append(_Declaration(statement).setting())
    elif head[:1] == ["INSERT"]:
        pipeline.inserts.append(_parse_query_statement(statement))
    else:
        raise statement.source.error(
            f"unexpected statement starting with {tokens[0].text!r}",
            statement.start,
            "a pipeline file holds SET, CREATE SOURCE, CREATE SINK, CREATE VIEW and INSERT INTO statements",
        )


def _is_view(tokens: list[Token]) -> bool:
    return len(tokens) > 3 and tokens[3].text.upper() == "VIEW"


def _check_new_name(pipeline: Pipeline, name: str, statement: _Statement, token: Token) -> None:
    taken = {n.lower() for n in (*pipeline.sources, *pipeline.sinks, *pipeline.views)}
    if name.lower() in taken:
        raise statement.source.error(f"the name '{name}' is declared twice", token.start)


def _parse_query_statement(statement: _Statement) -> QueryDecl:
    source = statement.source
    # Blank out everything before the statement (keeping newlines) so that sqlglot's
    # line and column numbers are the file's own.
    padded = re.sub(r"[^\n]", " ", source.text[: statement.start]) + statement.text
    padded = _rename_session_calls(padded, statement.tokens)
    try:
        parsed = sqlglot.parse_one(padded, read=_DIALECT)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, column = int(first.get("line") or 1), int(first.get("col") or 1)
        highlight = str(first.get("highlight") or "")
        column = max(1, column - len(highlight) + 1)
        description = str(first.get("description") or exc)
        raise PipelineError(
            f"SQL syntax error: {description}",
            Location(source.path, line, column),
            source.line(line),
            f"near {highlight!r}" if highlight else None,
        ) from None
    location = source.location(statement.start)
    if isinstance(parsed, exp.Create) and isinstance(parsed.expression, exp.Query):
        name = parsed.this.name
        return QueryDecl(name, True, parsed.expression, location, statement.text)
    if isinstance(parsed, exp.Insert) and isinstance(parsed.expression, exp.Query):
        target = parsed.this
        while isinstance(target, exp.Schema):
            target = target.this
        return QueryDecl(target.name, False, parsed.expression, location, statement.text)
    raise source.error(
        "expected CREATE VIEW name AS SELECT ... or INSERT INTO sink SELECT ...", statement.start
    )


SESSION_CALL = "SESSWIN"  # same length as SESSION, so columns in error messages stay right


def _rename_session_calls(text: str, tokens: list[Token]) -> str:
    """sqlglot reads SESSION as a keyword; the window function SESSION(...) gets a stand-in name."""
    for token, following in zip(tokens, tokens[1:]):
        if token.text.upper() == "SESSION" and following.token_type == TokenType.L_PAREN:
            text = text[: token.start] + SESSION_CALL + text[token.end + 1 :]
    return text


class _Declaration:
    """A cursor over the tokens of CREATE SOURCE / CREATE SINK."""

    def __init__(self, statement: _Statement) -> None:
        self.statement = statement
        self.tokens = statement.tokens
        self.file = statement.source
        self.position = 2  # after CREATE SOURCE|SINK

    # -- cursor -----------------------------------------------------------------------
    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> Token:
        token = self.peek()
        if token is None:
            raise self.file.error(
                f"the statement ends early{f', expected {expected}' if expected else ''}",
                self.statement.end - 1,
            )
        if expected is not None and token.text.upper() != expected.upper():
            raise self.file.error(f"expected {expected}, found {token.text!r}", token.start)
        self.position += 1
        return token

    def at(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text.upper() == text.upper()

    def name(self, what: str) -> str:
        token = self.take()
        if token.token_type in _PUNCTUATION or token.token_type in (TokenType.STRING, TokenType.NUMBER):
            raise self.file.error(f"expected {what}, found {token.text!r}", token.start)
        return token.text

    # -- statements -------------------------------------------------------------------
    def setting(self) -> Option:
        """SET key = value (pipeline-wide settings such as checkpoint)."""
        self.position = 1
        key_token = self.peek()
        key = self.name("a setting name")
        self.take("=")
        value = self.value()
        self.end()
        assert key_token is not None
        where = self.file.location(key_token.start)
        return Option(key, value, where, self.file.line(where.line))

    def source(self) -> SourceDecl:
        name = self.name("a source name")
        columns: list[Column] = []
        watermark: Watermark | None = None
        if self.at("("):
            columns, watermark = self.columns()
        options = self.options()
        self.end()
        if watermark and watermark.column.lower() not in {c.name.lower() for c in columns}:
            raise self.file.error(
                f"the watermark column '{watermark.column}' is not a declared column",
                self.statement.start,
            )
        return SourceDecl(name, tuple(columns), watermark, tuple(options), self.location())

    def sink(self, base_dir: Path) -> SinkDecl:
        name = self.name("a sink name")
        options: list[Option] = []
        if self.at("FROM"):
            self.take()
            file_token = self.take()
            if file_token.token_type != TokenType.STRING:
                raise self.file.error("expected a quoted file name after FROM", file_token.start)
            options.extend(self._included_sink_options(base_dir / file_token.text, file_token))
        overrides = self.options()
        self.end()
        keys = {o.key.lower() for o in overrides}
        merged = [o for o in options if o.key.lower() not in keys] + overrides
        return SinkDecl(name, tuple(merged), self.location())

    def _included_sink_options(self, path: Path, token: Token) -> list[Option]:
        from flowsql.pipeline.parser import load_pipeline  # a sink file is a tiny pipeline file

        if not path.is_file():
            raise self.file.error(f"sink definition file {str(path)!r} not found", token.start)
        included = load_pipeline(path)
        if len(included.sinks) != 1 or included.sources or included.inserts or included.views:
            raise self.file.error(
                f"{path} must hold exactly one CREATE SINK statement", token.start
            )
        return list(next(iter(included.sinks.values())).options)

    def columns(self) -> tuple[list[Column], Watermark | None]:
        self.take("(")
        columns: list[Column] = []
        watermark: Watermark | None = None
        while True:
            if self.at("WATERMARK"):
                watermark = self.watermark()
            else:
                columns.append(self.column())
            token = self.take()
            if token.token_type == TokenType.R_PAREN:
                return columns, watermark
            if token.token_type != TokenType.COMMA:
                raise self.file.error(f"expected ',' or ')', found {token.text!r}", token.start)

    def column(self) -> Column:
        name_token = self.peek()
        name = self.name("a column name")
        type_tokens = self.until_top_level_comma()
        if not type_tokens:
            raise self.file.error(f"column '{name}' needs a type", name_token.start if name_token else 0)
        mapping = None
        if len(type_tokens) > 2 and type_tokens[-2].text.upper() == "MAPPING":
            if type_tokens[-1].token_type != TokenType.STRING or not _JSON_PATH.match(type_tokens[-1].text):
                raise self.file.error("MAPPING takes a quoted JSON path such as '$.data.price'",
                                      type_tokens[-1].start)
            mapping, type_tokens = type_tokens[-1].text, type_tokens[:-2]
        type_text = self.file.text[type_tokens[0].start : type_tokens[-1].end + 1]
        try:
            sql_type = exp.DataType.build(type_text, dialect=_DIALECT).sql(_DIALECT)
        except (ParseError, ValueError):
            raise self.file.error(
                f"unknown type {type_text!r} for column '{name}'",
                type_tokens[0].start,
                "use a DuckDB type such as VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP",
            ) from None
        return Column(name, sql_type, mapping)

    def watermark(self) -> Watermark:
        start = self.take("WATERMARK")
        self.take("FOR")
        column = self.name("the watermark column")
        self.take("AS")
        expr_tokens = self.until_top_level_comma()
        if not expr_tokens:
            raise self.file.error("WATERMARK needs AS column - INTERVAL '...'", start.start)
        text = self.file.text[expr_tokens[0].start : expr_tokens[-1].end + 1]
        return Watermark(column, self._watermark_delay(column, text, expr_tokens[0]))

    def _watermark_delay(self, column: str, text: str, token: Token) -> float:
        hint = f"write WATERMARK FOR {column} AS {column} - INTERVAL '5 seconds'"
        try:
            expression = sqlglot.parse_one(text, read=_DIALECT)
        except ParseError:
            raise self.file.error("cannot read the watermark expression", token.start, hint) from None
        if isinstance(expression, exp.Column) and expression.name.lower() == column.lower():
            return 0.0
        if (
            isinstance(expression, exp.Sub)
            and isinstance(expression.this, exp.Column)
            and expression.this.name.lower() == column.lower()
            and isinstance(expression.expression, exp.Interval)
        ):
            return interval_seconds(expression.expression)
        raise self.file.error("the watermark must be the column minus an interval", token.start, hint)

    def until_top_level_comma(self) -> list[Token]:
        depth = 0
        taken: list[Token] = []
        while (token := self.peek()) is not None:
            if token.token_type == TokenType.L_PAREN:
                depth += 1
            elif token.token_type == TokenType.R_PAREN:
                if depth == 0:
                    break
                depth -= 1
            elif token.token_type == TokenType.COMMA and depth == 0:
                break
            taken.append(token)
            self.position += 1
        return taken

    def options(self) -> list[Option]:
        if not self.at("WITH"):
            return []
        self.take("WITH")
        self.take("(")
        options: list[Option] = []
        if self.at(")"):
            self.take()
            return options
        while True:
            key_token = self.peek()
            key = self.name("an option name")
            self.take("=")
            value = self.value()
            assert key_token is not None
            where = self.file.location(key_token.start)
            if any(o.key.lower() == key.lower() for o in options):
                raise self.file.error(f"option '{key}' is given twice", key_token.start)
            options.append(Option(key, value, where, self.file.line(where.line)))
            token = self.take()
            if token.token_type == TokenType.R_PAREN:
                return options
            if token.token_type != TokenType.COMMA:
                raise self.file.error(f"expected ',' or ')', found {token.text!r}", token.start)

    def value(self) -> RawValue:
        token = self.take()
        negative = False
        if token.token_type == TokenType.DASH:
            negative, token = True, self.take()
        if token.token_type == TokenType.STRING:
            return token.text
        if token.token_type == TokenType.NUMBER:
            number = float(token.text) if re.search(r"[.eE]", token.text) else int(token.text)
            return -number if negative else number
        if token.token_type == TokenType.TRUE:
            return True
        if token.token_type == TokenType.FALSE:
            return False
        raise self.file.error(
            f"expected a value, found {token.text!r}", token.start, "quote text values: key = 'value'"
        )

    def end(self) -> None:
        token = self.peek()
        if token is not None:
            raise self.file.error(f"unexpected {token.text!r}", token.start)

    def location(self) -> Location:
        return self.file.location(self.statement.start)


_PUNCTUATION = {
    TokenType.L_PAREN, TokenType.R_PAREN, TokenType.COMMA, TokenType.EQ, TokenType.SEMICOLON,
    TokenType.DOT, TokenType.DASH, TokenType.PLUS, TokenType.STAR,
}


def interval_seconds(interval: exp.Expression) -> float:
    """The length of an INTERVAL literal in seconds, as DuckDB reads it."""
    sql = interval.sql(_DIALECT)
    try:
        row = duckdb.execute(f"SELECT epoch({sql})").fetchone()
    except duckdb.Error as exc:
        raise ValueError(f"cannot read interval {sql}: {exc}") from None
    assert row is not None
    return float(row[0])
