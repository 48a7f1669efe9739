"""A folder of files is read as partitions of event time: files with overlapping time ranges
lose no row as late, windows equal DuckDB's batch answer, implausible times go to the error
output, and a run killed mid-way resumes to the uninterrupted output."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.conftest import ROOT, run_cli
from tests.waiting import wait_until

BASE = datetime(2025, 3, 1, 10, 0, 0)
DELAY_S = 2

PIPELINE = """{settings}
CREATE SOURCE clicks (id BIGINT, user_id VARCHAR, amount BIGINT, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '{delay} seconds')
WITH (connector = 'file', path = '{data}', chunk_size = '{chunk}'{extra});
CREATE SINK minutes WITH (connector = 'file', path = '{out}/minutes', format = 'json', buffer_interval = '0 s');
CREATE SINK hops WITH (connector = 'file', path = '{out}/hops', format = 'json', buffer_interval = '0 s');
CREATE SINK raw WITH (connector = 'file', path = '{out}/raw', format = 'json', buffer_interval = '0 s');
INSERT INTO minutes SELECT window_start, window_end, user_id, count(*) AS n, sum(amount) AS total
FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL;
INSERT INTO hops SELECT window_start, window_end, count(*) AS n, sum(amount) AS total
FROM HOP(clicks, ts, INTERVAL '20 seconds', INTERVAL '1 minute') GROUP BY ALL;
INSERT INTO raw SELECT id, ts FROM clicks;
"""

# (name, rows, first second, last second): overlapping ranges, very unequal sizes; read one
# after the other in name order, every file after the first would be mostly late.
FILES = [
    ("a.ndjson", 24_000, 0, 1800),
    ("b.ndjson", 6_000, 300, 1500),
    ("c.ndjson.gz", 3_000, 0, 1800),
    ("d.ndjson", 400, 1200, 1790),
]


def record(identifier: int, seconds: float, rng: random.Random) -> dict:
    ts = BASE + timedelta(seconds=seconds)
    return {
        "id": identifier,
        "user_id": f"u{rng.randrange(5)}",
        "amount": rng.randrange(100),
        "ts": ts.isoformat(sep=" "),
    }


def write_files(folder: Path, seed: int = 7) -> list[dict]:
    """The files of FILES, each in time order up to a disorder under the watermark delay."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    everything = []
    for index, (name, rows, first, last) in enumerate(FILES):
        times = sorted(rng.uniform(first, last) for _ in range(rows))
        records = [record(index * 1_000_000 + i, t - rng.uniform(0, DELAY_S * 0.9), rng) for i, t in enumerate(times)]
        text = "".join(json.dumps(r) + "\n" for r in records).encode()
        (folder / name).write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
        everything += records
    return everything


def pipeline_file(
    tmp_path: Path, name: str, data: Path, chunk: str = "32 KB", extra: str = "", settings: str = ""
) -> tuple[Path, Path]:
    out = tmp_path / name
    path = tmp_path / f"{name}.sql"
    path.write_text(PIPELINE.format(settings=settings, delay=DELAY_S, data=data, chunk=chunk, extra=extra, out=out))
    return path, out


def batch_answer(records: list[dict], until: datetime | None = None) -> dict[str, list[tuple]]:
    """DuckDB's answer over all records at once: the windows ending at or before `until`."""
    con = duckdb.connect()
    rows = pa.table(
        {
            "id": [r["id"] for r in records],
            "user_id": [r["user_id"] for r in records],
            "amount": [r["amount"] for r in records],
            "ts": [r["ts"] for r in records],
        }
    )
    con.register("given", rows)
    con.execute("CREATE TABLE clicks AS SELECT id, user_id, amount, ts::TIMESTAMP AS ts FROM given")
    end = f"WHERE window_end <= TIMESTAMP '{until}'" if until else ""
    minutes = con.execute(f"""SELECT * FROM (SELECT time_bucket(INTERVAL '1 minute', ts) AS window_start,
        window_start + INTERVAL '1 minute' AS window_end, user_id, count(*) AS n, sum(amount) AS total
        FROM clicks GROUP BY ALL) {end} ORDER BY ALL""").fetchall()
    hops = con.execute(f"""SELECT * FROM (SELECT window_start, window_start + INTERVAL '1 minute' AS window_end,
        count(*) AS n, sum(amount) AS total FROM (SELECT amount, time_bucket(INTERVAL '20 seconds', ts)
        - INTERVAL '20 seconds' * k AS window_start FROM clicks, range(3) AS r(k)) GROUP BY ALL) {end}
        ORDER BY ALL""").fetchall()
    return {"minutes": minutes, "hops": hops}


def output(out: Path) -> dict[str, list[tuple]]:
    con = duckdb.connect()
    result = {}
    for name in ("minutes", "hops"):
        files = [f for f in (out / name).rglob("*.json") if "errors" not in f.parts]
        if not files:
            result[name] = []
            continue
        columns = (
            "window_start, window_end, user_id, n, total" if name == "minutes" else "window_start, window_end, n, total"
        )
        listing = ", ".join(f"'{f}'" for f in files)
        result[name] = con.execute(
            f"SELECT {columns} FROM read_json([{listing}], columns = "
            f"{{window_start: 'TIMESTAMP', window_end: 'TIMESTAMP', user_id: 'VARCHAR', "
            f"n: 'BIGINT', total: 'BIGINT'}}) ORDER BY ALL"
        ).fetchall()
    return result


def raw_ids(out: Path) -> list[int]:
    return [
        json.loads(line)["id"]
        for f in (out / "raw").rglob("*.json")
        if "errors" not in f.parts
        for line in f.read_text().splitlines()
    ]


def error_records(out: Path) -> list[dict]:
    files = [f for f in out.rglob("*") if f.is_file() and "errors" in f.parts]
    contents = [gzip.decompress(f.read_bytes()) if f.suffix == ".gz" else f.read_bytes() for f in files]
    return [json.loads(line) for content in contents for line in content.decode().splitlines()]


def wait_for(predicate, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    wait_until(predicate, timeout, "the run's output")


@pytest.mark.parametrize("extra", ["", ", max_open_files = 1"])  # 1: every switch closes a file and reopens one
def test_overlapping_files_lose_no_row_as_late(tmp_path: Path, extra: str) -> None:
    records = write_files(tmp_path / "in")
    pipeline, out = pipeline_file(tmp_path, "once", tmp_path / "in", extra=extra)
    result = run_cli("run", str(pipeline), "--no-checkpoint")
    assert result.code == 0, result.stderr
    assert ", 0 errors, 0 late" in result.stderr, result.stderr
    assert error_records(out) == []
    assert output(out) == batch_answer(records)
    assert sorted(raw_ids(out)) == sorted(r["id"] for r in records)


def test_followed_overlapping_files_close_their_windows_when_idle(tmp_path: Path) -> None:
    records = write_files(tmp_path / "in")
    pipeline, out = pipeline_file(
        tmp_path, "followed", tmp_path / "in", extra=", follow = true, poll_interval = '50 ms', idle_timeout = '1 s'"
    )
    # Every file idle: time reaches the latest record, less the delay.
    latest = max(datetime.fromisoformat(r["ts"]) for r in records)
    expected = batch_answer(records, until=latest - timedelta(seconds=DELAY_S))
    process = subprocess.Popen(
        [sys.executable, "-m", "flowsql", "run", str(pipeline), "--no-checkpoint"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(
            lambda: (
                len(output(out)["minutes"]) >= len(expected["minutes"])
                and len(output(out)["hops"]) >= len(expected["hops"])
            )
        )
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert ", 0 errors, 0 late" in stderr, stderr
    assert error_records(out) == []
    assert output(out) == expected
    assert sorted(raw_ids(out)) == sorted(r["id"] for r in records)


def write_poisoned(path: Path, rows: int) -> tuple[list[dict], list[bytes]]:
    """One large file in time order with four impossible times inside it."""
    rng = random.Random(3)
    good = [record(i, i * 3600 / rows, rng) for i in range(rows)]
    bad = {
        rows // 10: "2099-01-01 00:00:00",
        2 * rows // 10: "infinity",
        3 * rows // 10: "10000-01-01 00:00:00",
        4 * rows // 10: "0001-01-01 00:00:00",
    }  # early enough that many checkpoints follow them
    lines, bad_lines = [], []
    for index, item in enumerate(good):
        if index in bad:
            line = json.dumps({"id": -index, "user_id": "x", "amount": 1, "ts": bad[index]}).encode()
            lines.append(line)
            bad_lines.append(line)
        lines.append(json.dumps(item).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    return good, bad_lines


def current_offset(state: Path) -> int:
    """The byte offset the last committed checkpoint holds for the source's one file (0 if none)."""
    folder = next(state.glob("*.flowsql-state"), None)
    if folder is None or not (folder / "CURRENT").exists():
        return 0
    try:
        data = json.loads((folder / (folder / "CURRENT").read_text().strip() / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    position = data["positions"].get("clicks", {})
    return max(position.get("offsets", {}).values(), default=1 << 62 if position.get("finished") else 0)


def test_impossible_times_go_to_the_error_output_and_a_restart_after_them_is_clean(tmp_path: Path) -> None:
    data = tmp_path / "in" / "big.ndjson"
    data.parent.mkdir()
    good, bad = write_poisoned(data, 60_000)
    reference, reference_out = pipeline_file(tmp_path, "reference", data, chunk="256 KB")
    result = run_cli("run", str(reference), "--no-checkpoint")
    assert result.code == 0, result.stderr
    assert output(reference_out) == batch_answer(good)
    errors = error_records(reference_out)
    implausible = [e for e in errors if e["errorCode"] == "implausible-event-time"]
    assert sorted(base64_raw(e) for e in implausible) == sorted(bad[:3])
    reasons = {base64_raw(e): e["errorMessage"] for e in implausible}
    assert "max_future" in reasons[bad[0]]
    assert all("outside the range" in reasons[line] for line in bad[1:3])
    text = data.read_bytes()
    assert sorted(e["position"] for e in implausible) == sorted(f"{data}@{text.index(line)}" for line in bad[:3])
    # Year 1 is a time a window can hold, long behind the watermark: late, once for each window query.
    late = [e for e in errors if e["errorCode"] == "late"]
    assert [json.loads(base64_raw(e))["id"] for e in late] == [json.loads(bad[3])["id"]] * 2
    assert len(errors) == len(implausible) + len(late)

    # Killed once a checkpoint past every impossible record is committed, the restart is clean.
    crashed, crashed_out = pipeline_file(
        tmp_path, "crashed", data, chunk="32 KB", settings="SET checkpoint_interval = '0 s';"
    )
    last_bad = data.read_bytes().index(bad[-1])
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "flowsql", "run", str(crashed), "--state-dir", str(state)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: current_offset(state) > last_bad or process.poll() is not None)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed past the bad records"
    resumed = run_cli("run", str(crashed), "--state-dir", str(state))
    assert resumed.code == 0, resumed.stderr
    assert "resumed from checkpoint epoch" in resumed.stderr
    assert output(crashed_out) == output(reference_out)
    # The plain copy of every row has the year-1 row too: only windows find it late.
    assert sorted(raw_ids(crashed_out)) == sorted([r["id"] for r in good] + [json.loads(bad[3])["id"]])


def base64_raw(error: dict) -> bytes:
    import base64

    return base64.b64decode(error["rawData"])


def epoch_of(state: Path) -> int:
    folder = next(state.glob("*.flowsql-state"), None)
    try:
        return int((folder / "CURRENT").read_text().strip().rsplit("-", 1)[1]) if folder else 0
    except (FileNotFoundError, IndexError, ValueError):
        return 0


@pytest.mark.slow
def test_sigkill_with_interleaved_files_resumes_to_the_uninterrupted_output(tmp_path: Path) -> None:
    records = write_files(tmp_path / "in")
    reference, reference_out = pipeline_file(tmp_path, "reference", tmp_path / "in", chunk="16 KB")
    assert run_cli("run", str(reference), "--no-checkpoint").code == 0
    expected = output(reference_out)
    assert expected == batch_answer(records)

    crashed, crashed_out = pipeline_file(
        tmp_path, "crashed", tmp_path / "in", chunk="16 KB", settings="SET checkpoint_interval = '0 s';"
    )
    state = tmp_path / "state"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kills = 0
    for _ in range(100):
        start = epoch_of(state)
        process = subprocess.Popen(
            [sys.executable, "-m", "flowsql", "run", str(crashed), "--state-dir", str(state)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if kills < 4:  # killed by progress: a few checkpoints into each run
            wait_for(lambda start=start, process=process: epoch_of(state) >= start + 3 or process.poll() is not None)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                continue
        assert process.wait(timeout=300) == 0, process.stderr.read().decode() if process.stderr else ""
        break
    assert kills == 4
    assert output(crashed_out) == expected
    ids = raw_ids(crashed_out)
    assert len(ids) == len(set(ids)) == len(records)


def test_files_that_overlap_in_time_are_read_side_by_side(tmp_path: Path) -> None:
    """The next chunk comes from the file whose time is lowest: once every file has shown its
    time, each chunk starts close to the source's progress (within the gap to the file's next
    record), so no file runs ahead and window state stays small."""
    from flowsql.pipeline import load_pipeline
    from flowsql.runner import PipelineRun

    write_files(tmp_path / "in")
    pipeline, _ = pipeline_file(tmp_path, "order", tmp_path / "in", chunk="16 KB", extra=", decode_threads = 1")
    source = PipelineRun(load_pipeline(str(pipeline))).sources["clicks"]
    seen: set[str] = set()
    before: dict[str, int] = {}
    progress: int | None = None
    switches, last, checked = 0, None, 0
    for batch in source.read(threading.Event()):
        offsets = batch.position["offsets"]
        moved = [f for f in offsets if offsets[f] != before.get(f)]
        file = moved[0] if moved else None
        if file is not None and batch.table.num_rows:
            first = int(pc.min(batch.table.column("ts").cast(pa.int64())).as_py())
            if file in seen and progress is not None and len(seen) == len(FILES):
                assert first - progress <= 30 * 1_000_000, (file, first - progress)
                checked += 1
            seen.add(file)
            switches += file != last
            last = file
        before = dict(offsets)
        progress = (batch.progress or {}).get("ts")
    assert checked > 50 and switches > 20
