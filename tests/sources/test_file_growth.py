"""A followed file is not finished while it may still grow: a `.gz` still being written is
read as far as it goes and read on later; options that make no sense are refused at validate."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.sources.test_file_and_stdin import rows_in, wait_for


def lines(first: int, count: int) -> bytes:
    return "".join(json.dumps({"n": n}) + "\n" for n in range(first, first + count)).encode()


def test_a_gzip_file_still_being_written_is_read_to_its_end(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.ndjson").write_bytes(lines(0, 10))
    out = tmp_path / "out"
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(f"""CREATE SOURCE s (n BIGINT) WITH (connector = 'file', path = '{folder}', follow = true,
        poll_interval = '50 ms');
    CREATE SINK o WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
    INSERT INTO o SELECT n FROM s;""")
    process = subprocess.Popen(
        [sys.executable, "-m", "flowsql", "run", str(pipeline), "--no-checkpoint"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: len(rows_in(out)) == 10)
        # As `producer | gzip > in/b.ndjson.gz`: compressed blocks reach the file, the end of
        # the gzip stream does not until the producer ends.
        with open(folder / "b.ndjson.gz", "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as writer:
            writer.write(lines(1000, 4000))
            writer.flush()
            wait_for(lambda: len(rows_in(out)) == 4010)
            (folder / "c.ndjson").write_bytes(lines(100_000, 5))  # a newer file does not end b
            wait_for(lambda: len(rows_in(out)) == 4015)
            writer.write(lines(5000, 3999))
            writer.write(b'{"n": 8999}')  # the last line has no newline
        wait_for(lambda: len(rows_in(out)) == 8015)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    got = sorted(r["n"] for r in rows_in(out))
    assert got == list(range(10)) + list(range(1000, 9000)) + list(range(100_000, 100_005))


def test_a_truncated_gzip_file_read_once_is_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "b.ndjson.gz"
    whole = gzip.compress(lines(0, 5000))
    data.write_bytes(whole[: len(whole) // 2])
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(f"""CREATE SOURCE s (n BIGINT) WITH (connector = 'file', path = '{data}');
    CREATE SINK o WITH (connector = 'file', path = '{tmp_path / "out"}', format = 'json');
    INSERT INTO o SELECT n FROM s;""")
    result = run_cli("run", str(pipeline), "--no-checkpoint")
    assert result.code == 1
    assert f"{data} ends inside its gzip stream" in result.stderr and "follow = true" in result.stderr


@pytest.mark.parametrize(
    "option, value, says",
    [
        ("chunk_size", "'0 B'", "must be greater than 0"),
        ("decode_threads", "0", "must be greater than 0"),
        ("max_open_files", "-3", "must be greater than 0"),
        ("poll_interval", "'0 s'", "must be greater than 0"),
        ("poll_interval", "-1", "cannot be negative"),
        ("idle_timeout", "-5", "cannot be negative"),
    ],
)
def test_options_that_make_no_sense_are_refused_at_validate(tmp_path: Path, option: str, value: str, says: str) -> None:
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(f"""CREATE SOURCE s (n BIGINT) WITH (connector = 'file', path = '{tmp_path}',
        {option} = {value});
    CREATE SINK o WITH (connector = 'file', path = '{tmp_path / "out"}', format = 'json');
    INSERT INTO o SELECT n FROM s;""")
    result = run_cli("validate", str(pipeline))
    assert result.code == 2, result.stderr
    assert f"option '{option}'" in result.stderr and says in result.stderr
