"""Differential conformance: every pipeline of pipelines/ (KDA examples included) and a generated
family of window queries either compiles to a Flink job whose rows equal `flowsql run`'s over
the same input, or is refused at compile time with file:line:column and the reason.

Every compiled job runs in one PyFlink process (one JVM, one mini-cluster per job, parallelism 1)
while `flowsql run` runs the same pipelines beside it. The table of verdicts is printed, and
written to the run's folder as conformance.md.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.compile.conformance import (
    PIPELINES,
    Case,
    compile_verdict,
    generator_seeds,
    read_rows,
    runnable,
    table,
    write_generated_events,
)
from tests.compile.generated_windows import GENERATED_SEED, generated_pipelines
from tests.compile.test_flink_run import DRIVER, pyflink_python
from tests.conftest import ROOT, run_cli

GENERATED = generated_pipelines()
NAMES = [str(p.relative_to(ROOT).with_suffix("")) for p in PIPELINES] + list(GENERATED)
# FLINK_CONFORMANCE_ONLY=top_k,weather runs only the cases whose names hold one of the words.
ONLY = [w for w in os.environ.get("FLINK_CONFORMANCE_ONLY", "").split(",") if w]
NAMES = [n for n in NAMES if not ONLY or any(w in n for w in ONLY)]
# Measured (docs/scaling.md): a change that makes fewer cases pass is a regression.
AT_LEAST_EQUAL = 30

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    work = tmp_path_factory.mktemp("conformance")
    texts = {str(p.relative_to(ROOT).with_suffix("")): p.read_text() for p in PIPELINES}
    originals = {name: ROOT / f"{name}.sql" for name in texts}
    for name, text in GENERATED.items():
        originals[name] = work / f"{name.replace('/', '_')}.sql"
        originals[name].write_text(text)
        texts[name] = text
    events = {}
    for seed in sorted({s for text in texts.values() for s in generator_seeds(text)}):
        events[seed] = work / f"events-{seed}.ndjson"
        # The generated family's SESSION gaps would split differently at microseconds, which
        # Flink's TIMESTAMP(3) time attributes cut off (a documented difference).
        write_generated_events(events[seed], seed, milliseconds=seed == GENERATED_SEED)
    found: dict[str, Case] = {}
    jobs: dict[str, Path] = {}
    for name in NAMES:
        case = found[name] = Case(name, originals[name])
        folder = work / name.replace("/", "_")
        if not compile_verdict(case, case.original, folder / "as-written"):
            continue
        case.text, case.sinks = runnable(texts[name], folder / "flink", events)
        (folder / "flink.sql").write_text(case.text)
        (folder / "local.sql").write_text(case.text.replace(str(folder / "flink"), str(folder / "local")))
        if compile_verdict(case, folder / "flink.sql", folder / "job"):
            jobs[name] = folder / "job" / "job.sql"
        elif case.refusal:  # the file form of a compiled pipeline must compile too
            case.compile_error, case.refusal = f"the runnable form was refused: {case.refusal}", None
    _run_both(work, found, jobs)
    (work / "conformance.md").write_text(table(list(found.values())) + "\n")
    return found


def _run_both(work: Path, found: dict[str, Case], jobs: dict[str, Path]) -> None:
    """The Flink jobs in one process, and `flowsql run` of each case beside it."""
    report = work / "flink-report.json"
    driver = subprocess.Popen(
        [str(pyflink_python()), str(DRIVER), "--report", str(report), *map(str, jobs.values())],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for name in jobs:
        folder = work / name.replace("/", "_")
        local = run_cli("run", "--quiet", str(folder / "local.sql"), timeout=600)
        if local.code != 0:
            found[name].flink_error = f"flowsql run failed: {local.stderr[-800:]}"
    _, stderr = driver.communicate(timeout=3000)
    outcomes = json.loads(report.read_text()) if report.exists() else {}
    for name, job in jobs.items():
        case = found[name]
        outcome = outcomes.get(str(job), f"the driver stopped before this job: {stderr[-800:]}")
        if outcome != "ok":
            case.flink_error = case.flink_error or outcome
            continue
        folder = work / name.replace("/", "_")
        for sink in case.sinks:
            flink_rows, local_rows = read_rows(folder / "flink" / sink), read_rows(folder / "local" / sink)
            case.rows += len(local_rows)
            if flink_rows != local_rows:
                case.differing.append(
                    f"{sink}: flink {len(flink_rows)} rows, flowsql {len(local_rows)}, "
                    f"first difference {_first_difference(flink_rows, local_rows)}"
                )


def _first_difference(flink: list[str], local: list[str]) -> str:
    only_flink = sorted(set(flink) - set(local))
    only_local = sorted(set(local) - set(flink))
    return f"flink-only {only_flink[:1]} flowsql-only {only_local[:1]}"


@pytest.mark.parametrize("name", NAMES)
def test_pipeline_compiles_to_flowsqls_rows_or_is_refused_with_its_place(cases: dict[str, Case], name: str) -> None:
    case = cases[name]
    assert case.verdict in ("rows equal", "refused"), (
        case.compile_error or case.flink_error or "\n".join(case.differing)
    )
    if case.verdict == "rows equal":
        assert case.rows > 0 or name.startswith("pipelines/kda/"), f"{name}: no rows to compare"


def test_table_of_verdicts(cases: dict[str, Case], capsys: pytest.CaptureFixture[str]) -> None:
    text = table(list(cases.values()))
    with capsys.disabled():
        print("\n" + text)
    if not ONLY:
        assert sum(c.verdict == "rows equal" for c in cases.values()) >= AT_LEAST_EQUAL
