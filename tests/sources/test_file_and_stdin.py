"""The file source follows new lines and new files like `tail -F`; stdin streams as it comes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, run_cli
from tests.waiting import wait_until


def rows_in(out: Path) -> list[dict]:
    return [
        json.loads(line)
        for f in sorted(out.rglob("*.json"))
        if "errors" not in f.parts
        for line in f.read_text().splitlines()
    ]


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    wait_until(predicate, timeout, "the run's output")


def test_follow_reads_appended_lines_and_new_files(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.ndjson").write_text('{"n": 1}\n')
    out = tmp_path / "out"
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(f"""CREATE SOURCE s (n BIGINT) WITH (connector = 'file', path = '{folder}', follow = true,
        poll_interval = '50 ms');
    CREATE SINK o WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
    INSERT INTO o SELECT n, n * 10 AS tenfold FROM s;""")
    process = subprocess.Popen(
        [sys.executable, "-m", "flowsql", "run", str(pipeline), "--no-checkpoint"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: len(rows_in(out)) == 1)
        with (folder / "a.ndjson").open("a") as more:
            more.write('{"n": 2}\n{"n": 3')  # the last line is not finished yet
        wait_for(lambda: len(rows_in(out)) == 2)
        with (folder / "a.ndjson").open("a") as more:
            more.write("}\n")
        (folder / "b.ndjson").write_text('{"n": 4}\n')
        wait_for(lambda: len(rows_in(out)) == 4)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert sorted((r["n"], r["tenfold"]) for r in rows_in(out)) == [(1, 10), (2, 20), (3, 30), (4, 40)]


def test_stdin_source_to_stdout_sink() -> None:
    pipeline = ROOT / "tests" / "sources" / "stdin_totals.sql"
    lines = "".join(json.dumps({"user": f"u{i % 3}", "amount": i}) + "\n" for i in range(30))
    result = run_cli("run", str(pipeline), "--no-checkpoint", stdin=lines.encode())
    assert result.code == 0, result.stderr
    totals: dict[str, int] = {}
    for row in map(json.loads, result.stdout.splitlines()):  # a run may straddle an hour boundary
        totals[row["user"]] = totals.get(row["user"], 0) + row["total"]
    assert totals == {f"u{k}": sum(i for i in range(30) if i % 3 == k) for k in range(3)}
