"""Reading back what `flowsql ddl` prints, independently of the code that wrote it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlglot
from sqlglot import exp

from tests.conftest import run_cli

_JAVA_TO_STRPTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def ddl_statements(pipeline: Path, cwd: Path, *extra: str) -> dict[str, str]:
    """`flowsql ddl` run as a user runs it: statements by table name."""
    result = run_cli("ddl", str(pipeline), *extra, cwd=cwd)
    assert result.code == 0, result.stderr
    statements = [s.strip() for s in result.stdout.split(";") if s.strip()]
    return {sqlglot.parse_one(s, read="athena").this.this.name: s + ";" for s in statements}


def parsed(ddl: str) -> exp.Create:
    tree = sqlglot.parse_one(ddl.rstrip(";"), read="athena")
    assert isinstance(tree, exp.Create) and tree.kind == "TABLE"
    return tree


def columns(ddl: str) -> dict[str, str]:
    """Data columns as Athena would list them (types in sqlglot's Athena rendering)."""
    schema = parsed(ddl).this
    return {c.name: c.args["kind"].sql("athena") for c in schema.expressions if isinstance(c, exp.ColumnDef)}


def partition_columns(ddl: str) -> dict[str, str]:
    found = re.search(r"PARTITIONED BY \(([^)]*)\)", ddl)
    if not found:
        return {}
    pairs = [p.strip().split() for p in found.group(1).split(",")]
    return {name.strip("`"): kind for name, kind in pairs}


def table_properties(ddl: str) -> dict[str, str]:
    tree = parsed(ddl)
    out = {}
    for prop in tree.find_all(exp.Property):
        if isinstance(prop.this, exp.Literal) and prop.args.get("value") is not None:
            out[prop.this.name] = prop.args["value"].name
    return out


def location(ddl: str) -> str:
    return re.search(r"LOCATION '([^']*)'", ddl).group(1)  # type: ignore[union-attr]


def template_regex(properties: dict[str, str]) -> tuple[str, list[str]]:
    """storage.location.template as a regex with one group per ${key}."""
    template = properties["storage.location.template"]
    keys = re.findall(r"\$\{([^}]+)\}", template)
    pieces = re.split(r"\$\{[^}]+\}", template)
    regex = re.escape(pieces[0])
    for piece in pieces[1:]:
        regex += "(.+?)" + re.escape(piece)
    return regex, keys


def check_projected(key: str, value: str, properties: dict[str, str]) -> None:
    """A folder value is one Athena's projection of `key` would produce (or accept)."""
    kind = properties[f"projection.{key}.type"]
    if kind == "date":
        java = properties[f"projection.{key}.format"]
        pattern = java
        for token, code in _JAVA_TO_STRPTIME.items():
            pattern = pattern.replace(token, code)
        when = datetime.strptime(value, pattern).replace(tzinfo=UTC)
        assert properties[f"projection.{key}.range"] == "NOW-5YEARS,NOW"
        now = datetime.now(UTC)
        assert now - timedelta(days=5 * 366) <= when <= now
        assert when.strftime(pattern) == value  # zero-padded exactly as the format prints
    elif kind == "integer":
        low, high = (int(v) for v in properties[f"projection.{key}.range"].split(","))
        digits = int(properties.get(f"projection.{key}.digits", "1"))
        assert low <= int(value) <= high and len(value) >= digits and value.isdigit()
    elif kind == "enum":
        assert value in properties[f"projection.{key}.values"].split(",")
    else:
        assert kind == "injected" and value and "/" not in value


def written_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
