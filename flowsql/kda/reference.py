"""KDA reference data: `CREATE REFERENCE TABLE "name" (cols) WITH (path = ..., format = ...)`
binds a CSV or JSON-lines object (a local path, a file:// URL, or s3://bucket/key read once when
the run starts, as KDA loads reference data) to a table that pumps join with streams; the
location is opened through flowsql/opener.py.

An S3 object is not read while the file is parsed, so `validate` and `explain` call no AWS
service: until `load_references` fetches it, its local file holds no rows."""

from __future__ import annotations

import atexit
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp
from sqlglot.tokens import Token

from flowsql.errors import ConfigError, Location, SourceError
from flowsql.opener import UnsupportedScheme, fetch, opener_for
from flowsql.options import bind_options, choice
from flowsql.pipeline.model import Column, Pipeline


@dataclass(frozen=True)
class ReferenceOptions:
    path: str = ""
    format: str = choice("csv", "json")
    header: bool = True
    delimiter: str = ","
    endpoint_url: str = ""


@dataclass(frozen=True)
class ReferenceTable:
    name: str
    columns: tuple[Column, ...]
    local_path: str
    options: ReferenceOptions
    location: Location

    def relation(self, alias: str) -> exp.Expression:
        """A subquery reading the table's rows, aliased as the pump names it."""
        from sqlglot import parse_one

        types = ", ".join(f"'{c.name}': '{c.sql_type}'" for c in self.columns)
        path = self.local_path.replace("'", "''")
        if self.options.format == "csv":
            delimiter = self.options.delimiter.replace("'", "''")
            reader = (
                f"read_csv('{path}', header = {str(self.options.header).lower()}, "
                f"delim = '{delimiter}', columns = {{{types}}})"
            )
        else:
            reader = f"read_json('{path}', format = 'newline_delimited', columns = {{{types}}})"
        subquery = parse_one(f"(SELECT * FROM {reader})", read="duckdb")
        return exp.Subquery(
            this=subquery.this if isinstance(subquery, exp.Subquery) else subquery,
            alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True)),
        )


def is_reference_statement(tokens: list[Token]) -> bool:
    return [t.text.upper() for t in tokens[:3]] == ["CREATE", "REFERENCE", "TABLE"]


def declare_reference(pipeline: Pipeline, tokens: list[Token], base_dir: Path) -> ReferenceTable:
    # The foundation's declaration reader does columns and options exactly as CREATE SOURCE.
    from flowsql.pipeline.declarations import Declaration
    from flowsql.pipeline.text import SourceText, Statement

    reader = Declaration(Statement(SourceText(str(pipeline.path), pipeline.text), tokens))
    reader.position = 3
    name = reader.name("a reference table name")
    columns, watermark = reader.columns() if reader.at("(") else ([], None)
    options = reader.options()
    reader.end()
    location = reader.location()
    if not columns or watermark is not None:
        raise ConfigError(f"reference table '{name}' needs its columns declared, with no watermark", location)
    bound = bind_options(ReferenceOptions, options, f"reference table '{name}'")
    if not bound.path:
        raise ConfigError(f"reference table '{name}' needs the option 'path'", location)
    try:
        here = opener_for(bound.path, bound.endpoint_url).local_path(bound.path)
    except UnsupportedScheme as exc:
        raise ConfigError(f"reference table '{name}': {exc}", location) from None
    if here is None:
        local = _placeholder(columns, bound)
    else:
        path = here
        if not path.is_absolute() and not path.exists():
            path = base_dir / path  # relative to the working directory, else to the pipeline file
        local = str(path.resolve())
        if not os.path.isfile(local):
            raise ConfigError(f"reference table '{name}': no file at '{bound.path}'", location)
    return ReferenceTable(name, tuple(columns), local, bound, location)


def _placeholder(columns: list[Column], options: ReferenceOptions) -> str:
    """The local file an S3 object will be fetched into, holding no rows until then. DuckDB's CSV
    reader cannot read an empty file, so a CSV one holds the header line, or (without a header)
    one row of nulls, which only planning and validation ever read."""
    handle, local = tempfile.mkstemp(prefix="flowsql-reference-", suffix=f".{options.format}")
    os.close(handle)
    atexit.register(Path(local).unlink, missing_ok=True)
    if options.format == "csv":
        names = [c.name for c in columns] if options.header else [""] * len(columns)
        Path(local).write_text(options.delimiter.join(names) + "\n")
    return local


def load_references(tables: list[ReferenceTable]) -> None:
    """Fetch the remote inputs (S3) of reference tables into their local files (at the start of a run)."""
    for table in tables:
        options = table.options
        if opener_for(options.path, options.endpoint_url).local_path(options.path) is not None:
            continue  # read where it is
        try:
            fetch(options.path, Path(table.local_path), options.endpoint_url)
        except SourceError as exc:
            raise ConfigError(f"reference table '{table.name}': {exc}") from None
