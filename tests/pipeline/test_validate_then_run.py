"""`validate` OK means the run does not fail for a reason in the pipeline: every example in
pipelines/ that validates runs to the end on a small input (generator counts cut down, file
inputs as shipped); pipelines that need Kinesis, S3 or an HTTP endpoint are validated only."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from flowsql.pipeline import load_pipeline
from tests.conftest import ROOT, run_cli

EXAMPLES = sorted((ROOT / "pipelines").rglob("*.sql"))
LOCAL_CONNECTORS = {"file", "generator", "stdout"}


def runs_locally(path: Path) -> bool:
    pipeline = load_pipeline(path)
    declarations = [*pipeline.sources.values(), *pipeline.sinks.values(), *pipeline.tables.values()]
    return all((d.option("connector") or "").lower() in LOCAL_CONNECTORS for d in declarations)


def small_copy(path: Path, workdir: Path) -> Path:
    """The pipeline in a work folder laid out like the repository, with generators cut to 2,000
    events, so its relative paths (data files, sink files) still resolve."""
    (workdir / "pipelines").mkdir(exist_ok=True)
    for shared in ("sinks", "pipelines/kda/data", "pipelines/functions"):
        target = workdir / shared
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(ROOT / shared)
    copy = workdir / path.relative_to(ROOT)
    copy.parent.mkdir(parents=True, exist_ok=True)
    text = re.sub(r"\bcount\s*=\s*\d+", "count = 2000", path.read_text())
    copy.write_text(text)
    return copy


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=[str(p.relative_to(ROOT / "pipelines")) for p in EXAMPLES])
def test_an_example_that_validates_runs(path: Path, tmp_path: Path) -> None:
    result = run_cli("validate", str(path))
    assert result.code == 0, result.stderr
    if not runs_locally(path):
        return
    copy = small_copy(path, tmp_path)
    result = run_cli(
        "run", str(copy.relative_to(tmp_path)), "--no-checkpoint", "--until-caught-up", cwd=tmp_path, timeout=120
    )
    assert result.code == 0, result.stderr
    assert re.search(r"[\d,]+ events in", result.stderr), result.stderr


def test_corpus_files_that_validate_also_run(tmp_path: Path) -> None:
    """The broken corpus holds only pipelines validate refuses; any it accepted would have to run."""
    broken = ROOT / "tests" / "pipeline" / "broken"
    for path in sorted(broken.glob("*.sql")):
        result = (
            run_cli("validate", path.name, cwd=broken)
            if "expect exit 0" in path.read_bytes().decode("utf-8", "replace")
            else None
        )
        if result is None:
            continue
        assert result.code == 0, result.stderr
        shutil.copytree(broken, tmp_path / path.stem, symlinks=True)
        ran = run_cli("run", path.name, "--no-checkpoint", "--until-caught-up", cwd=tmp_path / path.stem)
        assert ran.code == 0, ran.stderr
