"""KDA statements of a pipeline file: CREATE OR REPLACE STREAM and CREATE OR REPLACE PUMP.

KDA's own syntax (SELECT STREAM, STEP(x BY i), FLOOR(x TO unit)) is rewritten in place to
text of the same length that sqlglot reads, so every error keeps the file's line and column.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlglot.tokens import Token, TokenType

from flowsql.errors import Location, PipelineError
from flowsql.kda.model import KdaApplication, KdaStream, application
from flowsql.kda.sink_reads import SinkPump, record_sink_pump, redirect_reads
from flowsql.pipeline.model import Column, Pipeline


def is_kda_statement(tokens: list[Token]) -> bool:
    from flowsql.kda.reference import is_reference_statement

    head = [t.text.upper() for t in tokens[:4]]
    kda = head[:3] == ["CREATE", "OR", "REPLACE"] and len(head) == 4 and head[3] in ("STREAM", "PUMP")
    plain = head[:1] == ["CREATE"] and len(head) > 1 and head[1] in ("STREAM", "PUMP")
    return kda or plain or is_reference_statement(tokens)


def _or_replace(tokens: list[Token]) -> list[Token]:
    """`CREATE STREAM`/`CREATE PUMP` (KDA takes both spellings) with the first token standing in
    for OR REPLACE, so that every statement has its name at the same index."""
    if len(tokens) > 1 and tokens[1].text.upper() in ("STREAM", "PUMP"):
        return [tokens[0], tokens[0], tokens[0], *tokens[1:]]
    return tokens


def add_kda_statement(pipeline: Pipeline, tokens: list[Token], base_dir: Path) -> None:
    """Record a STREAM or a reference table, or translate a PUMP into the query that feeds its stream."""
    from flowsql.kda.reference import declare_reference, is_reference_statement

    tokens = _or_replace(tokens)
    if is_reference_statement(tokens):
        table = declare_reference(pipeline, tokens, base_dir)
        app = application(pipeline)
        if table.name.lower() in app.references or table.name.lower() in app.streams:
            raise error(pipeline, tokens[3].start, f"the name '{table.name}' is declared twice")
        app.references[table.name.lower()] = table
    elif tokens[3].text.upper() == "STREAM":
        _add_stream(pipeline, tokens)
    else:
        _add_pump(pipeline, tokens)


def kda_name(token_or_identifier: Token | exp.Identifier) -> str:
    """KDA's case rule: unquoted names are upper-cased, quoted names kept as written."""
    if isinstance(token_or_identifier, exp.Identifier):
        name = token_or_identifier.this
        return name if token_or_identifier.quoted else name.upper()
    token = token_or_identifier
    return token.text if token.token_type == TokenType.IDENTIFIER else token.text.upper()


def location_at(pipeline: Pipeline, offset: int) -> Location:
    line = pipeline.text.count("\n", 0, offset) + 1
    return Location(str(pipeline.path), line, offset - pipeline.text.rfind("\n", 0, offset))


def error(pipeline: Pipeline, offset: int, message: str, hint: str | None = None) -> PipelineError:
    where = location_at(pipeline, offset)
    return PipelineError(message, where, pipeline.line(where.line), hint)


def _add_stream(pipeline: Pipeline, tokens: list[Token]) -> None:
    if len(tokens) < 6 or tokens[5].token_type != TokenType.L_PAREN:
        raise error(pipeline, tokens[0].start, 'expected CREATE OR REPLACE STREAM "NAME" (column type, ...)')
    name = kda_name(tokens[4])
    app = application(pipeline)
    if name.lower() in app.streams or any(name.lower() == s.lower() for s in (*pipeline.sources, *pipeline.views)):
        raise error(pipeline, tokens[4].start, f"the stream '{name}' is declared twice")
    # Read the column list as a CREATE TABLE: `STREAM` -> `TABLE ` keeps every offset.
    text = _padded(pipeline, tokens)
    start = tokens[3].start
    text = text[:start] + "TABLE " + text[start + 6 :]
    parsed = _parse(pipeline, text)
    schema = parsed.this if isinstance(parsed, exp.Create) else None
    if not isinstance(schema, exp.Schema):
        raise error(pipeline, tokens[0].start, 'expected CREATE OR REPLACE STREAM "NAME" (column type, ...)')
    columns = []
    for definition in schema.expressions:
        if not isinstance(definition, exp.ColumnDef) or definition.args.get("kind") is None:
            raise error(pipeline, tokens[5].start, "each stream column needs a name and a type")
        sql_type = definition.args["kind"].sql("duckdb")
        columns.append(Column(kda_name(definition.this), _duckdb_type(sql_type)))
    location = location_at(pipeline, tokens[0].start)
    app.streams[name.lower()] = KdaStream(name, tuple(columns), location)


def _duckdb_type(sql_type: str) -> str:
    # KDA's REAL is a 4-byte float like DuckDB's; VARCHAR(n)/CHAR(n) lengths only bound input.
    return re.sub(r"^(VARCHAR|CHAR|TEXT)\s*\(\s*\d+\s*\)$", "VARCHAR", sql_type, flags=re.IGNORECASE)


def _add_pump(pipeline: Pipeline, tokens: list[Token]) -> None:
    if len(tokens) < 8 or tokens[5].text.upper() != "AS" or tokens[6].text.upper() != "INSERT":
        raise error(
            pipeline,
            tokens[0].start,
            'expected CREATE OR REPLACE PUMP "NAME" AS INSERT INTO "STREAM" SELECT STREAM ...',
        )
    pump = kda_name(tokens[4])
    app = application(pipeline)
    if pump.lower() in app.pumps:
        raise error(pipeline, tokens[4].start, f"the pump '{pump}' is declared twice")
    chars = list(_padded(pipeline, tokens[6:]))
    join_windows = take_join_windows(pipeline, tokens, chars)
    text = _epoch_floor(_rewrite_kda_syntax(pipeline, tokens[6:], chars))
    insert = _parse(pipeline, text)
    if not isinstance(insert, exp.Insert):
        raise error(pipeline, tokens[6].start, 'a pump must be INSERT INTO "STREAM" SELECT STREAM ...')
    location = location_at(pipeline, tokens[0].start)
    statement_text = pipeline.text[tokens[0].start : tokens[-1].end + 1]

    def emit(one: SinkPump) -> None:
        _translate(pipeline, app, one)

    redirect_reads(pipeline, app, insert, emit)
    whole = SinkPump(pump, insert, location, statement_text, join_windows, tokens)
    untranslated = insert.copy()
    if _translate(pipeline, app, whole):
        record_sink_pump(app, _target_name(untranslated), replace(whole, insert=untranslated), emit)
    app.pumps[pump.lower()] = location


def _target_name(insert: exp.Insert) -> str:
    target = insert.this.this if isinstance(insert.this, exp.Schema) else insert.this
    return kda_name(target.this) if isinstance(target, exp.Table) and isinstance(target.this, exp.Identifier) else ""


def _translate(pipeline: Pipeline, app: KdaApplication, pump: SinkPump) -> bool:
    """Translate a pump (each UNION ALL branch a query of its own); True when it feeds a sink."""
    from flowsql.kda.translate import translate_pump

    branches = union_branches(pipeline, pump.tokens, pump.insert)
    to_sink = False
    for number, branch in enumerate(branches, 1):
        one = pump.insert.copy()
        one.set("expression", branch)
        decl = translate_pump(pipeline, app, pump.name, one, pump.location, pump.text, pump.join_windows)
        if len(branches) > 1:
            decl = replace(decl, translation=f"UNION ALL branch {number} of {len(branches)}: {decl.translation}")
        if not decl.is_view:
            pipeline.inserts.append(decl)
            to_sink = True
        elif decl.target not in pipeline.views:
            pipeline.views[decl.target] = decl
        else:  # a further pump (or UNION ALL branch) into the same in-application stream
            pipeline.views[f"{decl.target} <- {pump.name} {number}"] = decl
    return to_sink


def union_branches(pipeline: Pipeline, tokens: list[Token], insert: exp.Insert) -> list[exp.Expression]:
    """The SELECTs of `a UNION ALL b ...`, each a pump query of its own; a distinct UNION
    (which would keep every row ever seen to drop repeats) is refused at its keyword."""
    query = insert.expression
    if not isinstance(query, exp.SetOperation):
        return [query]
    depth = 0
    for index, token in enumerate(tokens):
        depth += token.token_type == TokenType.L_PAREN
        depth -= token.token_type == TokenType.R_PAREN
        word = token.text.upper() if token.token_type != TokenType.STRING else ""
        following = tokens[index + 1].text.upper() if index + 1 < len(tokens) else ""
        if depth == 0 and word in ("UNION", "INTERSECT", "EXCEPT", "MINUS") and (word != "UNION" or following != "ALL"):
            raise error(
                pipeline,
                token.start,
                f"{word}{' DISTINCT' if following == 'DISTINCT' else ''} of streams is not supported by KDA or flowsql",
                "write UNION ALL: every row of each SELECT STREAM",
            )
    if any(query.args.get(k) for k in ("order", "limit", "offset")):
        raise error(pipeline, tokens[0].start, "ORDER BY or LIMIT after a UNION ALL of streams is not supported")
    branches: list[exp.Expression] = []
    pending: list[exp.Expression] = [query]
    while pending:
        node = pending.pop(0)
        if isinstance(node, exp.Union):
            pending[:0] = [node.this, node.expression]
        elif isinstance(node, exp.Subquery):
            pending.insert(0, node.this)
        else:
            branches.append(node)
    return branches


def take_join_windows(pipeline: Pipeline, tokens: list[Token], chars: list[str]) -> dict[int, int | None]:
    """`FROM "A" OVER (RANGE INTERVAL '1' MINUTE PRECEDING) AS a JOIN ...`: a window on a stream
    in FROM (not after a call) belongs to a stream-to-stream join. Each is blanked out of the
    text; the result maps the stream name's offset to the window's length in microseconds."""
    from flowsql.kda.functions import interval_us

    windows: dict[int, int | None] = {}
    for index in range(1, len(tokens)):
        token, previous = tokens[index], tokens[index - 1]
        if token.text.upper() != "OVER" or previous.token_type not in (TokenType.VAR, TokenType.IDENTIFIER):
            continue
        usage = "a stream's join window is OVER (RANGE INTERVAL 'n' unit PRECEDING)"
        if index + 1 >= len(tokens) or tokens[index + 1].token_type != TokenType.L_PAREN:
            raise error(pipeline, token.start, usage)
        close, depth = None, 0
        for later in range(index + 1, len(tokens)):
            depth += tokens[later].token_type == TokenType.L_PAREN
            depth -= tokens[later].token_type == TokenType.R_PAREN
            if depth == 0:
                close = later
                break
        if close is None:
            raise error(pipeline, token.start, usage)
        inside = tokens[index + 2 : close]
        words = [t.text.upper() for t in inside]
        if words[:1] == ["ROWS"]:
            raise error(
                pipeline,
                inside[0].start,
                "row-based join windows (ROWS n PRECEDING) are not supported by flowsql's KDA front end",
                "write OVER (RANGE INTERVAL 'n' unit PRECEDING)",
            )
        size: int | None = None
        if words == ["RANGE", "CURRENT", "ROW"]:
            size = 0
        elif len(words) >= 4 and words[0] == "RANGE" and words[1] == "INTERVAL" and words[-1] == "PRECEDING":
            text = pipeline.text[inside[1].start : inside[-2].end + 1]
            try:
                size = interval_us(sqlglot.parse_one(text, read="duckdb"))
            except ParseError:
                size = None
        if size is None or size < 0:
            raise error(pipeline, (inside[0] if inside else token).start, usage)
        windows[previous.start] = size
        for blank in range(token.start, tokens[close].end + 1):
            if chars[blank] != "\n":
                chars[blank] = " "
    return windows


def _padded(pipeline: Pipeline, tokens: list[Token]) -> str:
    """The statement's text with everything before it blanked (newlines kept) so that
    sqlglot's positions are the file's own."""
    start, end = tokens[0].start, tokens[-1].end + 1
    return re.sub(r"[^\n]", " ", pipeline.text[:start]) + pipeline.text[start:end]


def _rewrite_kda_syntax(pipeline: Pipeline, tokens: list[Token], chars: list[str]) -> str:
    """SELECT STREAM -> SELECT; STEP(x BY i) -> STEP(x, i); FLOOR/CEIL(x TO u) -> FLOOR(x, u);
    WINDOWED BY STAGGER (PARTITION BY k RANGE i) -> GROUP BY k, __STAGGER(i)."""
    _rewrite_stagger(pipeline, tokens, chars)
    depth_of_call: list[tuple[str, int]] = []  # (function, paren depth) of open STEP/FLOOR/CEIL
    depth = 0
    previous: Token | None = None
    for token in tokens:
        word = token.text.upper() if token.token_type != TokenType.STRING else ""
        if word == "STREAM" and previous is not None and previous.text.upper() == "SELECT":
            chars[token.start : token.end + 1] = " " * (token.end + 1 - token.start)
        elif token.token_type == TokenType.L_PAREN:
            depth += 1
            if previous is not None and previous.text.upper() in ("STEP", "FLOOR", "CEIL", "CEILING"):
                depth_of_call.append((previous.text.upper(), depth))
        elif token.token_type == TokenType.R_PAREN:
            if depth_of_call and depth_of_call[-1][1] == depth:
                depth_of_call.pop()
            depth -= 1
        elif depth_of_call and depth_of_call[-1][1] == depth:
            function = depth_of_call[-1][0]
            if (function == "STEP" and word == "BY") or (function != "STEP" and word == "TO"):
                chars[token.start : token.end + 1] = ", "
        previous = token
    return "".join(chars)


_EPOCH_FLOOR = re.compile(
    r"FLOOR\s*\(\s*\(\s*(?P<time>[^()]+?)\s*-\s*TIMESTAMP\s*'1970-01-01 00:00:00'\s*\)\s*"
    r"(?P<unit>SECOND|MINUTE|HOUR|DAY)\s*/\s*(?P<size>\d+)\s*,\s*(?P=unit)\s*\)",
    re.IGNORECASE,
)


def _epoch_floor(text: str) -> str:
    """`FLOOR((ROWTIME - TIMESTAMP '1970-01-01 00:00:00') SECOND / 10 TO SECOND)` (its TO
    already a comma) numbers the 10-second periods since the epoch: a STEP of 10 seconds,
    written over the same characters so that later positions stay the file's."""

    def step(match: re.Match[str]) -> str:
        written = f"STEP({match['time']}, INTERVAL '{match['size']}' {match['unit']})"
        return written + " " * (len(match[0]) - len(written))

    return _EPOCH_FLOOR.sub(step, text)


STAGGER_MARK = "__S"


def _rewrite_stagger(pipeline: Pipeline, tokens: list[Token], chars: list[str]) -> None:
    words = [t.text.upper() if t.token_type != TokenType.STRING else "" for t in tokens]
    for index, word in enumerate(words):
        if word != "WINDOWED":
            continue
        head = [w for w in " ".join(words[index : index + 6]).split(" ")][:6]
        if head != ["WINDOWED", "BY", "STAGGER", "(", "PARTITION", "BY"]:
            raise error(
                pipeline, tokens[index].start, "expected WINDOWED BY STAGGER (PARTITION BY ... RANGE INTERVAL ...)"
            )
        depth, range_at = 1, None
        for later in range(index + 4, len(tokens)):
            if tokens[later].token_type == TokenType.L_PAREN:
                depth += 1
            elif tokens[later].token_type == TokenType.R_PAREN:
                depth -= 1
                if depth == 0:
                    break
            elif depth == 1 and words[later] == "RANGE":
                range_at = later
        if range_at is None:
            raise error(
                pipeline, tokens[index].start, "a stagger window needs RANGE INTERVAL '...' after its PARTITION BY"
            )
        # Same-length replacements keep every later offset: the clause reads as a GROUP BY
        # whose last item marks the stagger range.
        replacements = {index: "GROUP", index + 2: "", index + 3: "", range_at: f",{STAGGER_MARK}("}
        replacements[index + 4] = ""
        if words[index + 4] == "PARTITION":  # the tokenizer usually reads "PARTITION BY" as one token
            replacements[index + 5] = ""
        for at, text in replacements.items():
            token = tokens[at]
            width = token.end + 1 - token.start
            chars[token.start : token.end + 1] = list(text.ljust(width))


def _parse(pipeline: Pipeline, text: str) -> exp.Expr:
    try:
        parsed = sqlglot.parse_one(text, read="duckdb")
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, column = int(first.get("line") or 1), int(first.get("col") or 1)
        highlight = str(first.get("highlight") or "")
        column = max(1, column - len(highlight) + 1)
        raise PipelineError(
            f"SQL syntax error: {first.get('description') or exc}",
            Location(str(pipeline.path), line, column),
            pipeline.line(line),
            f"near {highlight!r}" if highlight else None,
        ) from None
    assert parsed is not None
    return parsed
