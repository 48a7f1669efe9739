"""Every broken pipeline in tests/pipeline/broken/ is refused by `flowsql validate` with exit 2,
each of its errors at file:line:column with the message (and hint) its comments expect.

The expectations are written at the end of each file, so they never move its line numbers:
`-- expect exit N`, `-- error: LINE:COLUMN message`, `-- hint: text`, `-- absent: text`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flowsql.cli import main

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(BROKEN.glob("*.sql"))


def expectations(path: Path) -> tuple[int, list[tuple[str, str, list[str]]], list[str]]:
    text = path.read_bytes().decode("utf-8", "replace")
    exit_code = int(re.search(r"^-- expect exit (\d+)$", text, re.M).group(1))  # type: ignore[union-attr]
    errors: list[tuple[str, str, list[str]]] = []
    absent = re.findall(r"^-- absent: (.+)$", text, re.M)
    for line in text.splitlines():
        if match := re.match(r"^-- error: (\d+:\d+) (.+)$", line):
            errors.append((match.group(1), match.group(2), []))
        elif (match := re.match(r"^-- hint: (.+)$", line)) and errors:
            errors[-1][2].append(match.group(1))
    return exit_code, errors, absent


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_broken_pipeline_is_refused_at_its_place(
    path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(BROKEN)  # file sources name data/ relative to where flowsql runs
    exit_code, errors, absent = expectations(path)
    assert errors, f"{path.name} states no expected error"
    code = main(["validate", path.name])
    stderr = capsys.readouterr().err
    assert code == exit_code, stderr
    reported = re.findall(rf"^(?:flowsql: )?{re.escape(path.name)}:(\d+:\d+): (.*)$", stderr, re.M)
    assert len(reported) == len(errors), stderr
    blocks = re.split(rf"(?m)^(?:flowsql: )?(?={re.escape(path.name)}:\d+:\d+: )", stderr)[1:]
    for (place, message, hints), block in zip(errors, blocks, strict=True):
        assert block.startswith(f"{path.name}:{place}: {message}"), stderr
        caret_line = [line for line in block.splitlines() if line.strip() == "^"]
        assert caret_line, f"no caret under the quoted line:\n{stderr}"
        for hint in hints:
            assert f"hint: {hint}" in block, stderr
    for secret in absent:
        assert secret not in stderr
