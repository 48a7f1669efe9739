"""flowsql's own declarations (CREATE SOURCE, CREATE SINK, CREATE TABLE, SET), read from the
statement's tokens by a small cursor, so every error points at the token it is about."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ParseError
from sqlglot.tokens import Token, TokenType

from flowsql.errors import Location
from flowsql.options import Option, RawValue
from flowsql.pipeline.model import Column, FunctionDecl, SinkDecl, SourceDecl, TableDecl, Watermark
from flowsql.pipeline.text import Statement
from flowsql.scratch_sql import scratch_connection

_DIALECT = DuckDB()
CHANGE_TIME = "change_time"  # the time of each change of a CDC table (see flowsql/cdc)
_JSON_PATH = re.compile(r"^\$(\.[^.\[\]]+)+$")


class Declaration:
    """A cursor over the tokens of CREATE SOURCE / CREATE SINK."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self.tokens = statement.tokens
        self.file = statement.source
        self.position = 2  # after CREATE SOURCE|SINK|TABLE
        self.primary_key: list[Token] = []
        self.primary_key_at = 0

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
        if self.primary_key:
            raise self.file.error(
                "a source has no PRIMARY KEY",
                self.primary_key_at,
                "keep the state of a changing table with CREATE TABLE name (..., PRIMARY KEY (id))",
            )
        if watermark and watermark.column.lower() not in {c.name.lower() for c in columns}:
            raise self.file.error(
                f"the watermark column '{watermark.column}' is not a declared column",
                self.statement.start,
            )
        return SourceDecl(name, tuple(columns), watermark, tuple(options), self.location())

    def table(self) -> TableDecl:
        name_token = self.peek()
        name = self.name("a table name")
        if not self.at("("):
            raise self.file.error(
                "a table needs its columns and PRIMARY KEY in parentheses",
                name_token.start if name_token else self.statement.start,
            )
        columns, watermark = self.columns()
        options = self.options()
        self.end()
        declared = {c.name.lower(): c.name for c in columns}
        if not self.primary_key:
            raise self.file.error(
                f"table '{name}' needs a PRIMARY KEY",
                self.statement.start,
                "add PRIMARY KEY (id) after the columns: changes are matched to rows by it",
            )
        key = []
        for token in self.primary_key:
            if token.text.lower() not in declared:
                raise self.file.error(f"the key column '{token.text}' is not a declared column", token.start)
            key.append(declared[token.text.lower()])
        if watermark and watermark.column.lower() != CHANGE_TIME:
            raise self.file.error(
                f"a table's watermark is on {CHANGE_TIME}, the time of each change, not '{watermark.column}'",
                self.statement.start,
                f"write WATERMARK FOR {CHANGE_TIME} AS {CHANGE_TIME} - INTERVAL '5' SECOND",
            )
        return TableDecl(name, tuple(columns), tuple(key), watermark, tuple(options), self.location())

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
        from flowsql.pipeline.parser import load_pipeline, loading  # a sink file is a tiny pipeline file

        if not path.is_file():
            raise self.file.error(f"sink definition file {str(path)!r} not found", token.start)
        if loading(path):
            raise self.file.error(
                f"sink definition file {str(path)!r} includes itself",
                token.start,
                "CREATE SINK name FROM 'file' names a file that holds one CREATE SINK with options",
            )
        included = load_pipeline(path)
        if len(included.sinks) != 1 or included.sources or included.inserts or included.views or included.tables:
            raise self.file.error(f"{path} must hold exactly one CREATE SINK statement", token.start)
        return list(next(iter(included.sinks.values())).options)

    def function(self) -> FunctionDecl:
        """CREATE FUNCTION name[(type, ...)] [RETURNS type] AS 'module:function' [WITH (...)]."""
        name_token = self.peek()
        name = self.name("a function name")
        assert name_token is not None
        parameters: tuple[str, ...] | None = None
        if self.at("("):
            parameters = self._parameter_types()
        returns = None
        if self.at("RETURNS"):
            self.take()
            returns = self._type(self._until("AS"), "the return type")
        self.take("AS")
        target = self.take()
        if target.token_type != TokenType.STRING:
            raise self.file.error("expected the function as a quoted 'module:function'", target.start)
        options = self.options()
        self.end()
        vectorized: bool | None = None
        for option in options:
            if option.key.lower() != "vectorized" or not isinstance(option.value, bool):
                raise self.file.error(
                    f"unknown function option '{option.key}' = {option.value!r}",
                    self.file.text.find(option.key, target.end),
                    "the one option is vectorized = true|false",
                )
            vectorized = option.value
        return FunctionDecl(
            name, parameters, returns, target.text, vectorized, self.location(), name_token.start, target.start
        )

    def _parameter_types(self) -> tuple[str, ...]:
        self.take("(")
        found: list[str] = []
        if self.at(")"):
            self.take()
            return ()
        while True:
            found.append(self._type(self.until_top_level_comma(), "an argument type"))
            token = self.take()
            if token.token_type == TokenType.R_PAREN:
                return tuple(found)
            if token.token_type != TokenType.COMMA:
                raise self.file.error(f"expected ',' or ')', found {token.text!r}", token.start)

    def _until(self, word: str) -> list[Token]:
        taken: list[Token] = []
        while (token := self.peek()) is not None and token.text.upper() != word:
            taken.append(token)
            self.position += 1
        return taken

    def _type(self, tokens: list[Token], what: str) -> str:
        if not tokens:
            where = self.peek()
            raise self.file.error(f"expected {what}", where.start if where else self.statement.end - 1)
        text = self.file.text[tokens[0].start : tokens[-1].end + 1]
        try:
            return str(duckdb.sqltype(text))
        except duckdb.Error:
            raise self.file.error(
                f"unknown type {text!r} for {what}",
                tokens[0].start,
                "use a DuckDB type such as VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP",
            ) from None

    def columns(self) -> tuple[list[Column], Watermark | None]:
        self.take("(")
        columns: list[Column] = []
        watermark: Watermark | None = None
        while True:
            if self.at("WATERMARK"):
                watermark = self.watermark()
            elif (token := self.peek()) is not None and token.token_type == TokenType.PRIMARY_KEY:
                self.primary_key = self.key_columns()
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
                raise self.file.error("MAPPING takes a quoted JSON path such as '$.data.price'", type_tokens[-1].start)
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

    def key_columns(self) -> list[Token]:
        start = self.take()  # PRIMARY KEY is one token in sqlglot
        self.primary_key_at = start.start
        self.take("(")
        names = [self.take()]
        while self.at(","):
            self.take()
            names.append(self.take())
        self.take(")")
        if self.primary_key:
            raise self.file.error("PRIMARY KEY is given twice", start.start)
        return names

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
            try:
                return interval_seconds(expression.expression)
            except ValueError as exc:
                raise self.file.error(str(exc), token.start, interval_hint(expression.expression)) from None
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
    TokenType.L_PAREN,
    TokenType.R_PAREN,
    TokenType.COMMA,
    TokenType.EQ,
    TokenType.SEMICOLON,
    TokenType.DOT,
    TokenType.DASH,
    TokenType.PLUS,
    TokenType.STAR,
}


def interval_seconds(interval: exp.Expression) -> float:
    """The length of an INTERVAL literal in seconds, as DuckDB reads it."""
    sql = interval.sql(_DIALECT)
    try:
        # Not DuckDB's shared default connection: results left on it block the next statement
        # anyone runs on it.
        with scratch_connection() as con:
            # fetchall, not fetchone: a result read to its end leaves the connection free.
            row = con.execute(f"SELECT epoch({sql})").fetchall()[0]
    except duckdb.Error:
        raise ValueError(f"cannot read the interval {sql}") from None
    assert row is not None
    return float(row[0])


_INTERVAL_UNITS = ("MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR", "DAY", "WEEK", "MONTH", "YEAR")


def interval_hint(interval: exp.Expression) -> str:
    """How to write the interval, with the closest unit when a unit is misspelt."""
    words = re.findall(r"[A-Za-z]+", interval.sql(_DIALECT).upper().replace("INTERVAL", " "))
    for word in words:
        singular = word.removesuffix("S")
        if singular not in _INTERVAL_UNITS:
            close = difflib.get_close_matches(singular, _INTERVAL_UNITS, n=1, cutoff=0.5)
            if close:
                return f"unknown unit {word}: did you mean {close[0]}? (write INTERVAL '1' {close[0]})"
    return "write INTERVAL '1' MINUTE or INTERVAL '30 seconds'"
