"""Parse a pipeline file into its declarations, keeping file:line:column for every error.

Standard statements (CREATE VIEW, INSERT INTO) are parsed by sqlglot's DuckDB dialect;
flowsql's own CREATE SOURCE, CREATE SINK, CREATE TABLE (a CDC table) and SET are read from the
same token stream by declarations.py; the EMIT clause that may end an INSERT over a CDC table is
split off here before sqlglot sees the statement.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from itertools import pairwise
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ParseError
from sqlglot.tokens import Token, TokenType

from flowsql.errors import Location, PipelineError, PipelineErrors
from flowsql.frontends import front_end_for
from flowsql.pipeline.declarations import Declaration, interval_seconds
from flowsql.pipeline.functions import resolve_function
from flowsql.pipeline.model import (
    EmitPolicy,
    FunctionDecl,
    Pipeline,
    QueryDecl,
)
from flowsql.pipeline.text import SourceText, Statement, split_statements

_DIALECT = DuckDB()
# sqlglot warns on stderr when it falls back to a bare command; the statement's error says more.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


_LOADING: list[Path] = []  # the files being read, outermost first (a sink file may include another)


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and parse a pipeline file; raises PipelineErrors naming the place of every problem."""
    pipeline, errors = read_pipeline(path)
    if errors:
        raise PipelineErrors(errors)
    return pipeline


def read_pipeline(path: str | Path) -> tuple[Pipeline, list[PipelineError]]:
    """Read and parse a pipeline file: what parsed, and the errors of the statements that did not
    (their names are in `pipeline.unparsed`). A file that cannot be read at all raises."""
    file = Path(path)
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise PipelineError(
            f"cannot read pipeline file {file}: {exc.strerror}", hint="check the path and that the file is readable"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(file, data, exc) from None
    _LOADING.append(file.resolve())
    try:
        return _parse(Pipeline(path=file, name=_pipeline_name(file), text=text), file.parent)
    finally:
        _LOADING.pop()


def loading(path: Path) -> bool:
    """Whether `path` is a file being read right now (a sink file that includes itself)."""
    return path.resolve() in _LOADING


def parse_text(text: str, path: str = "<pipeline>") -> Pipeline:
    """Parse pipeline text that is not in a file (tests, stdin)."""
    pipeline, errors = _parse(Pipeline(path=Path(path), name=_pipeline_name(Path(path)), text=text), Path.cwd())
    if errors:
        raise PipelineErrors(errors)
    return pipeline


def _parse(pipeline: Pipeline, base_dir: Path) -> tuple[Pipeline, list[PipelineError]]:
    """Every statement is read even when one before it is wrong, so all problems show at once."""
    errors: list[PipelineError] = []
    for statement in split_statements(SourceText(str(pipeline.path), pipeline.text)):
        try:
            _add_statement(pipeline, statement, base_dir)
        except PipelineError as exc:
            errors.extend(exc.errors if isinstance(exc, PipelineErrors) else [exc])
            pipeline.unparsed.update(_declared_names(statement))
        except RecursionError:
            errors.append(
                statement.source.error(
                    "the statement nests too deeply to read",
                    statement.start,
                    "split deeply nested expressions into views or simpler expressions",
                )
            )
            pipeline.unparsed.update(_declared_names(statement))
    return pipeline, errors


def _declared_names(statement: Statement) -> set[str]:
    """The names a statement would have declared (lower case), so that queries reading them are
    not reported again when the statement itself is wrong."""
    words = [t.text for t in statement.tokens[:12]]
    upper = [w.upper() for w in words]
    names = set()
    for index, word in enumerate(upper[:-1]):
        if word in ("SOURCE", "SINK", "TABLE", "VIEW", "STREAM", "FUNCTION") and index <= 4 or word == "INTO":
            names.add(words[index + 1].lower())
    return names


def _not_utf8(file: Path, data: bytes, exc: UnicodeDecodeError) -> PipelineError:
    good = data[: exc.start].decode("utf-8")
    line = good.count("\n") + 1
    column = exc.start - (good.rfind("\n") + 1) + 1
    return PipelineError(
        f"the pipeline file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be read",
        Location(str(file), line, column),
        data.decode("utf-8", "replace").splitlines()[line - 1],
        "save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)",
    )


def _pipeline_name(path: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", path.stem) or "pipeline"


def _add_statement(pipeline: Pipeline, statement: Statement, base_dir: Path) -> None:
    tokens = statement.tokens
    head = [t.text.upper() for t in tokens[:3]]
    if head[:2] == ["CREATE", "SOURCE"]:
        source = Declaration(statement).source()
        _check_new_name(pipeline, source.name, statement, tokens[2])
        pipeline.sources[source.name] = source
    elif head[:2] == ["CREATE", "SINK"]:
        sink = Declaration(statement).sink(base_dir)
        _check_new_name(pipeline, sink.name, statement, tokens[2])
        pipeline.sinks[sink.name] = sink
    elif head[:2] == ["CREATE", "FUNCTION"]:
        _add_function(pipeline, Declaration(statement).function(), statement, base_dir)
    elif head[:2] == ["CREATE", "TABLE"]:
        table = Declaration(statement).table()
        _check_new_name(pipeline, table.name, statement, tokens[2])
        pipeline.tables[table.name] = table
    elif (front_end := front_end_for(tokens)) is not None:  # another dialect's statement (KDA's)
        front_end.add_statement(pipeline, tokens, base_dir)
    elif head[:2] == ["CREATE", "VIEW"] or head[:3] == ["CREATE", "OR", "REPLACE"] and _is_view(tokens):
        view = _parse_query_statement(statement)
        _check_new_name(pipeline, view.target, statement, tokens[2])
        pipeline.views[view.target] = view
    elif head[:1] == ["SET"]:
        pipeline.settings.append(Declaration(statement).setting())
    elif head[:1] == ["INSERT"]:
        statement, emit = _split_emit(statement)
        pipeline.inserts.append(dataclasses.replace(_parse_query_statement(statement), emit=emit))
    else:
        raise statement.source.error(
            f"unexpected statement starting with {tokens[0].text!r}",
            statement.start,
            "a pipeline file holds SET, CREATE SOURCE, CREATE SINK, CREATE TABLE, CREATE FUNCTION, "
            "CREATE VIEW and INSERT INTO statements",
        )


def _add_function(pipeline: Pipeline, decl: FunctionDecl, statement: Statement, base_dir: Path) -> None:
    if decl.name.lower() in pipeline.functions:
        raise statement.source.error(f"the function '{decl.name}' is declared twice", decl.name_offset)
    pipeline.functions[decl.name.lower()] = resolve_function(decl, statement.source, base_dir)


def _is_view(tokens: list[Token]) -> bool:
    return len(tokens) > 3 and tokens[3].text.upper() == "VIEW"


def _check_new_name(pipeline: Pipeline, name: str, statement: Statement, token: Token) -> None:
    taken = {n.lower() for n in (*pipeline.sources, *pipeline.sinks, *pipeline.views, *pipeline.tables)}
    if name.lower() in taken:
        raise statement.source.error(f"the name '{name}' is declared twice", token.start)


def _split_emit(statement: Statement) -> tuple[Statement, EmitPolicy | None]:
    """Take a trailing `EMIT EVERY INTERVAL ...` or `EMIT CHANGES` off an INSERT: sqlglot does not
    know the clause, so it is read here from the tokens and the rest is handed on unchanged."""
    tokens = statement.tokens
    depth = 0
    for index, token in enumerate(tokens):
        if token.token_type == TokenType.L_PAREN:
            depth += 1
        elif token.token_type == TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and token.text.upper() == "EMIT" and index > 0 and _emit_follows(tokens, index):
            break
    else:
        return statement, None
    rest = tokens[index + 1 :]
    file = statement.source
    usage = "write EMIT EVERY INTERVAL '5' MINUTE or EMIT CHANGES at the end of the INSERT"
    if not rest:
        raise file.error("EMIT needs EVERY INTERVAL ... or CHANGES", token.start, usage)
    head = rest[0].text.upper()
    if head == "CHANGES" and len(rest) == 1:
        return Statement(file, tokens[:index]), EmitPolicy("changes")
    if head == "EVERY" and len(rest) > 1:
        text = file.text[rest[1].start : rest[-1].end + 1]
        try:
            interval = sqlglot.parse_one(text, read=_DIALECT)
            seconds = interval_seconds(interval) if isinstance(interval, exp.Interval) else 0.0
        except (ParseError, ValueError):
            seconds = 0.0
        if seconds <= 0:
            raise file.error(f"EMIT EVERY needs a positive INTERVAL, found {text!r}", rest[1].start, usage)
        return Statement(file, tokens[:index]), EmitPolicy("every", seconds)
    raise file.error(f"unexpected {rest[0].text!r} after EMIT", rest[0].start, usage)


def _emit_follows(tokens: list[Token], index: int) -> bool:
    """EMIT starts the clause only when EVERY or CHANGES follows (or nothing): a column may be named emit."""
    return index + 1 >= len(tokens) or tokens[index + 1].text.upper() in ("EVERY", "CHANGES")


def _parse_query_statement(statement: Statement) -> QueryDecl:
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
    raise source.error("expected CREATE VIEW name AS SELECT ... or INSERT INTO sink SELECT ...", statement.start)


SESSION_CALL = "SESSWIN"  # same length as SESSION, so columns in error messages stay right


def _rename_session_calls(text: str, tokens: list[Token]) -> str:
    """sqlglot reads SESSION as a keyword; the window function SESSION(...) gets a stand-in name."""
    for token, following in pairwise(tokens):
        if token.text.upper() == "SESSION" and following.token_type == TokenType.L_PAREN:
            text = text[: token.start] + SESSION_CALL + text[token.end + 1 :]
    return text
