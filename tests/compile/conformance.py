"""The cases of the Flink conformance suite: each pipeline of pipelines/ (and a generated family
of window queries) made runnable on both engines over the same input, and the rows they write.

A case's runnable form reads files instead of the generator (the generator's own events, written
with `flowsql generate`) and writes every sink as JSON files, so that both engines' rows can be
read back and compared; the pipeline as written decides whether the case compiles at all.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.conftest import ROOT, run_cli

PIPELINES = sorted((ROOT / "pipelines").glob("*.sql")) + sorted((ROOT / "pipelines" / "kda").glob("*.sql"))
GENERATED_EVENTS = 20000  # per seed: 20 s of event time at the generator's 1,000 events/s

_SINK = re.compile(
    r"CREATE\s+SINK\s+(\"[^\"]+\"|\w+)(?:\s+FROM\s+'[^']*')?(?:\s+WITH\s*\((?:[^()']|'[^']*')*\))?", re.IGNORECASE
)
_GENERATOR = re.compile(r"WITH\s*\(\s*connector\s*=\s*'generator'((?:[^()']|'[^']*')*)\)", re.IGNORECASE)
_SEED = re.compile(r"seed\s*=\s*(\d+)", re.IGNORECASE)
_LOCATION = re.compile(r"^flowsql: (\S+?):(\d+):(\d+): cannot compile for Flink: (.*)$", re.MULTILINE)


@dataclass
class Case:
    """One pipeline: what the compile said, and once both engines ran, their rows per sink."""

    name: str
    original: Path  # the pipeline as written: the compile verdict is taken on it
    text: str = ""  # the runnable form: file sources, JSON file sinks under {out}
    sinks: list[str] = field(default_factory=list)
    refusal: str | None = None  # file:line:column: reason, when the compile refused the pipeline
    compile_error: str | None = None  # a compile failure without a place: always a defect
    flink_error: str | None = None
    differing: list[str] = field(default_factory=list)
    rows: int = 0

    @property
    def verdict(self) -> str:
        if self.refusal:
            return "refused"
        if self.compile_error or self.flink_error:
            return "FAILED"
        return "rows equal" if not self.differing else "ROWS DIFFER"


def folder_name(name: str) -> str:
    return re.sub(r"\W", "_", name.strip('"')).lower()


def runnable(text: str, out: Path, events: dict[int, Path]) -> tuple[str, list[str]]:
    """The pipeline reading files in place of the generator and writing each sink as JSON files
    under `out` (as both engines will), with the names of its sinks."""
    sinks: list[str] = []

    def sink(match: re.Match[str]) -> str:
        name = match.group(1)
        sinks.append(folder_name(name))
        return (
            f"CREATE SINK {name} WITH (connector = 'file', path = '{out}/{folder_name(name)}', format = 'json', "
            "prefix = 'rows/', buffer_interval = '1 s')"
        )

    def source(match: re.Match[str]) -> str:
        seed = _SEED.search(match.group(1))
        return f"WITH (connector = 'file', path = '{events[int(seed.group(1)) if seed else 0]}')"

    text = _SINK.sub(sink, text)
    text = _GENERATOR.sub(source, text)
    text = text.replace("path = 'pipelines/", f"path = '{ROOT}/pipelines/")
    return text, sinks


def generator_seeds(text: str) -> set[int]:
    return {int(s.group(1)) if (s := _SEED.search(m.group(1))) else 0 for m in _GENERATOR.finditer(text)}


def write_generated_events(path: Path, seed: int, milliseconds: bool = False) -> None:
    """`flowsql generate`'s events as it writes them (microseconds, a space before the time), or
    with their times cut to milliseconds, the precision of Flink's time attributes."""
    result = run_cli("generate", "clickstream", "--count", str(GENERATED_EVENTS), "--seed", str(seed), "--quiet")
    assert result.code == 0, result.stderr
    text = result.stdout
    if milliseconds:
        text = re.sub(r'("ts":"[^".]*\.\d{1,3})\d*"', r'\1"', text)
    path.write_text(text)


def compile_verdict(case: Case, pipeline: Path, job: Path) -> bool:
    """Compile `pipeline`; True when a job was written. A refusal must name file:line:column."""
    result = run_cli("compile", "--target", "flink", str(pipeline), "-o", str(job))
    if result.code == 0:
        return True
    placed = _LOCATION.search(result.stderr)
    if result.code == 2 and placed:
        where = Path(placed.group(1))
        shown = where.resolve().relative_to(ROOT) if where.resolve().is_relative_to(ROOT) else where.name
        case.refusal = f"{shown}:{placed.group(2)}:{placed.group(3)}: {placed.group(4)}"
    else:
        case.compile_error = result.stderr.strip()[-1500:] or f"exit code {result.code}"
    return False


def read_rows(folder: Path) -> list[str]:
    """Every JSON row written under `folder`, normalised (timestamps to UTC milliseconds,
    floats to 9 significant digits) and sorted, as text."""
    rows = []
    for file in sorted(folder.rglob("*")) if folder.exists() else []:
        if not file.is_file() or file.name.startswith((".", "_")):
            continue
        for line in file.read_text().splitlines():
            if line.strip():
                row = {k.lower(): _normal(v) for k, v in json.loads(line).items()}
                rows.append(json.dumps(row, sort_keys=True))
    return sorted(rows)


def _normal(value: object) -> object:
    if isinstance(value, float):
        return float(f"{value:.9g}") if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            moment = datetime.fromisoformat(value.replace(" ", "T"))
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment.isoformat(timespec="milliseconds")
    return value


def table(cases: list[Case]) -> str:
    """The verdict of every case as a Markdown table, and the totals."""
    lines = ["| pipeline | compiled | verdict | rows | reason |", "| --- | --- | --- | --- | --- |"]
    for case in cases:
        compiled = "no" if case.refusal or case.compile_error else "yes"
        reason = case.refusal or case.compile_error or case.flink_error or ", ".join(case.differing)
        reason = (reason or "").replace("|", "\\|").replace("\n", " ")[:220]
        lines.append(
            f"| {case.name} | {compiled} | {case.verdict} | {case.rows if compiled == 'yes' else ''} | {reason} |"
        )
    equal = sum(c.verdict == "rows equal" for c in cases)
    refused = sum(c.verdict == "refused" for c in cases)
    lines.append("")
    lines.append(
        f"{equal} of {len(cases)} compile and give flowsql's rows; {refused} are refused at compile time; "
        f"{len(cases) - equal - refused} fail or differ."
    )
    return "\n".join(lines)
