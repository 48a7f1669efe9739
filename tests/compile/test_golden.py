"""Golden tests: the Flink SQL compiled from each example pipeline in pipelines/.

After changing the compiler or adding pipelines, regenerate and review the diff:

    UPDATE_GOLDEN=1 pytest tests/compile/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowsql.compile import compile_flink
from flowsql.errors import FlowsqlError
from flowsql.pipeline import load_pipeline

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
PIPELINES = sorted((ROOT / "pipelines").glob("*.sql"))


def compiled_text(pipeline_file: Path) -> str:
    """The script, or for a pipeline Flink cannot run, the error the compile stops with."""
    relative = pipeline_file.relative_to(ROOT)
    cwd = Path.cwd()
    os.chdir(ROOT)  # error messages name the file as a user in the repository would
    try:
        return compile_flink(load_pipeline(relative)).script
    except FlowsqlError as exc:
        return "".join(f"-- {line}\n" for line in ["flowsql compile --target flink fails:", *str(exc).splitlines()])
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("pipeline_file", PIPELINES, ids=[p.stem for p in PIPELINES])
def test_compiled_sql_matches_golden(pipeline_file: Path) -> None:
    golden = GOLDEN / f"{pipeline_file.stem}.sql"
    actual = compiled_text(pipeline_file)
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), f"no golden for {pipeline_file.name}: run UPDATE_GOLDEN=1 pytest tests/compile"
    assert actual == golden.read_text(encoding="utf-8")


def test_every_golden_has_its_pipeline() -> None:
    stems = {p.stem for p in PIPELINES}
    stale = [g.name for g in GOLDEN.glob("*.sql") if g.stem not in stems]
    assert not stale, f"goldens without a pipeline (delete them): {stale}"


def test_there_are_example_pipelines() -> None:
    assert PIPELINES, "pipelines/ holds no example pipeline"
