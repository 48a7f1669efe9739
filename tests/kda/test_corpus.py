"""The KDA corpus: applications in the shapes public KDA apps use (tests/kda/corpus/*.sql), each
run unchanged through `flowsql run` on generated input, its output checked against an
independent DuckDB query over the same input (`NAME.expect`), or its refusal checked to name
the construct at its place.

An app file holds the bindings (CREATE SOURCE, reference tables; `$DATA` is the input folder)
and the KDA code. Its `.expect` file has one section per output:

    -- sink: DESTINATION_SQL_STREAM
    -- unchecked: 3        (optional: column 3 must be there, not NULL; its value is not compared)
    SELECT ... FROM ticks ...;

or, for an app flowsql refuses, `-- refused: words of the message` and `-- at: LINE:COLUMN`.
A file sink is declared for each section; rows compare by position, in any order."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.conftest import run_cli
from tests.kda.corpus_data import write_all

CORPUS = Path(__file__).parent / "corpus"
APPS = sorted(p.stem for p in CORPUS.glob("*.sql"))


@dataclass
class Output:
    sink: str
    query: str = ""
    unchecked: set[int] = field(default_factory=set)


@dataclass
class Expectation:
    outputs: list[Output]
    refused: str | None = None
    at: str | None = None


def _expectation(name: str) -> Expectation:
    outputs: list[Output] = []
    refused = at = None
    for line in (CORPUS / f"{name}.expect").read_text().splitlines():
        directive = re.match(r"--\s*(sink|unchecked|refused|at):\s*(.+?)\s*$", line)
        if directive and directive[1] == "sink":
            outputs.append(Output(directive[2]))
        elif directive and directive[1] == "unchecked":
            outputs[-1].unchecked |= {int(n) - 1 for n in directive[2].split(",")}
        elif directive and directive[1] == "refused":
            refused = directive[2]
        elif directive and directive[1] == "at":
            at = directive[2]
        elif outputs and not line.lstrip().startswith("--"):
            outputs[-1].query += line + "\n"
    return Expectation(outputs, refused, at)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, duckdb.DuckDBPyConnection]:
    folder = tmp_path_factory.mktemp("corpus-data")
    return folder, write_all(folder)


def _value(value: object) -> object:
    """One spelling for a value, whichever side gave it: numbers to 5 significant digits (REAL
    columns are 4-byte floats), times as the JSON sink writes them."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return "nan" if math.isnan(number) else f"{number:.5g}"
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
        return text.rstrip("0") if "." in text else text
    return value


def _rows(rows: list[tuple[object, ...]], unchecked: set[int]) -> list[str]:
    return sorted(repr(tuple("?" if i in unchecked else _value(v) for i, v in enumerate(row))) for row in rows)


def _pipeline(name: str, folder: Path, out: Path, sinks: list[str]) -> tuple[Path, int]:
    """The app with a file sink per output declared above it; and how many lines that adds."""
    declared = [
        f"CREATE SINK \"{sink}\" WITH (connector = 'file', path = '{out / sink}', format = 'json', "
        f"buffer_interval = '0 s');"
        for sink in sinks
    ]
    text = (CORPUS / f"{name}.sql").read_text().replace("$DATA", str(folder))
    pipeline = out / f"{name}.sql"
    pipeline.write_text("\n".join(declared) + ("\n" if declared else "") + text)
    return pipeline, len(declared)


def _written(folder: Path) -> list[tuple[object, ...]]:
    files = sorted(f for f in folder.rglob("*.json") if "errors" not in f.parts)
    return [tuple(json.loads(line).values()) for f in files for line in f.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("name", APPS)
def test_corpus_app(name: str, data: tuple[Path, duckdb.DuckDBPyConnection], tmp_path: Path) -> None:
    folder, con = data
    expect = _expectation(name)
    pipeline, added = _pipeline(name, folder, tmp_path, [o.sink for o in expect.outputs] or ["DESTINATION_SQL_STREAM"])
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    if expect.refused is not None:
        assert result.code == 2, result.stdout + result.stderr
        assert expect.refused in result.stderr
        line, column = (int(n) for n in (expect.at or "").split(":"))
        assert f"{pipeline.name}:{line + added}:{column}:" in result.stderr, result.stderr
        return
    assert result.code == 0, result.stderr
    assert not list(tmp_path.rglob("errors/**/*.json")), "no input row of the corpus is bad"
    for output in expect.outputs:
        expected = [tuple(row) for row in con.execute(output.query).fetchall()]
        got = _written(tmp_path / output.sink)
        assert expected, f"{output.sink}: the expected query gives no rows"
        for row in got:
            assert all(row[i] is not None for i in output.unchecked), row
        assert _rows(got, output.unchecked) == _rows(expected, output.unchecked), output.sink


def test_the_corpus_holds_sixty_apps() -> None:
    assert len(APPS) >= 60
    assert all((CORPUS / f"{name}.expect").is_file() for name in APPS)
