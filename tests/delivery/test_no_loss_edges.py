"""Edges where rows used to vanish or double: NULL and empty partition keys, `--reset` reruns,
partition values that name the staging folder, and rows of one buffer spanning several hours.
Each drives `flowsql run` and counts the rows on disk or in S3 against the input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from flowsql.delivery.prefix import sanitise_value
from tests.conftest import run_cli
from tests.delivery.conftest import download

PAGES = [None, "", "home", " ", "a/b", ".."]
START = datetime(2024, 3, 1, 10, 0, 0)


def write_rows(path: Path, count: int, page_of: Any, seconds_apart: float = 1.0) -> None:
    with path.open("w") as out:
        for i in range(count):
            ts = START + timedelta(seconds=i * seconds_apart)
            out.write(json.dumps({"id": i, "page": page_of(i), "ts": ts.isoformat()}) + "\n")


def source(data: Path) -> str:
    return f"""CREATE SOURCE rows (id BIGINT, page VARCHAR, ts TIMESTAMP)
WITH (connector = 'file', path = '{data}', chunk_size = '32 KB');
"""


def parquet_ids(root: Path) -> dict[str, list[int]]:
    """Ids per object file, keyed by the file's path relative to `root`."""
    return {
        str(f.relative_to(root)): pq.read_table(f).column("id").to_pylist() for f in sorted(root.rglob("*.parquet"))
    }


def test_null_empty_and_hostile_partition_keys_each_keep_their_rows(tmp_path: Path) -> None:
    data = tmp_path / "rows.ndjson"
    write_rows(data, 3_000, lambda i: PAGES[i % len(PAGES)])
    pipeline = tmp_path / "pages.sql"
    pipeline.write_text(
        source(data)
        + """
CREATE SINK lake WITH (connector = 'file', path = 'lake', prefix = 'page=!{partitionKeyFromQuery:page}/',
    buffer_size = '40 KB');
INSERT INTO lake SELECT id, page FROM rows;
"""
    )
    result = run_cli("run", str(pipeline), "--summary-json", "summary.json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    files = parquet_ids(tmp_path / "lake")
    ids = sorted(i for found in files.values() for i in found)
    assert ids == list(range(3_000))  # none lost, none twice
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["sinks"]["lake"]["objects"] == len(files)  # what the summary counts is on disk
    for name, found in files.items():
        folder = name.split("/")[0]
        assert {f"page={sanitise_value(PAGES[i % len(PAGES)])}" for i in found} == {folder}
    assert len({name.split("/")[0] for name in files}) == len(PAGES)


def test_a_reset_rerun_replaces_the_objects_it_wrote(tmp_path: Path) -> None:
    data = tmp_path / "rows.ndjson"
    write_rows(data, 20_000, lambda i: ["home", "cart", None][i % 3], seconds_apart=0.5)
    pipeline = tmp_path / "backfill.sql"
    pipeline.write_text(
        source(data)
        + """
CREATE SINK lake WITH (connector = 'file', path = 'lake', time_column = 'ts',
    prefix = 'page=!{partitionKeyFromQuery:page}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/');
INSERT INTO lake SELECT id, page, ts FROM rows;
-- As the README demo's sales sink: no time column, so names cannot come from the rows' time.
CREATE SINK plain WITH (connector = 'file', path = 'plain', prefix = 'page=!{partitionKeyFromQuery:page}/');
INSERT INTO plain SELECT id, page FROM rows;
"""
    )
    assert run_cli("run", str(pipeline), cwd=tmp_path).code == 0
    first = {sink: parquet_ids(tmp_path / sink) for sink in ("lake", "plain")}
    rerun = run_cli("run", str(pipeline), "--reset", cwd=tmp_path)
    assert rerun.code == 0 and "--reset discards checkpoint" in rerun.stderr
    for sink in ("lake", "plain"):
        again = parquet_ids(tmp_path / sink)
        assert again == first[sink]  # the same names with the same rows: replaced, not added
        ids = sorted(i for found in again.values() for i in found)
        assert ids == list(range(20_000))  # one row per id


def test_rows_spanning_hours_land_in_the_folder_of_their_own_time(tmp_path: Path) -> None:
    data = tmp_path / "rows.ndjson"
    write_rows(data, 2_000, lambda i: "home", seconds_apart=5.4)  # 3 hours in one buffer
    pipeline = tmp_path / "hours.sql"
    pipeline.write_text(
        source(data)
        + """
CREATE SINK by_row WITH (connector = 'file', path = 'by_row', time_column = 'ts',
    prefix = 'dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/');
CREATE SINK by_oldest WITH (connector = 'file', path = 'by_oldest', time_column = 'ts', prefix_time = 'oldest',
    prefix = 'dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/');
INSERT INTO by_row SELECT id, ts FROM rows;
INSERT INTO by_oldest SELECT id, ts FROM rows;
"""
    )
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr
    by_row = {name: pq.read_table(tmp_path / "by_row" / name) for name in parquet_ids(tmp_path / "by_row")}
    assert sorted(name.split("/")[1] for name in by_row) == ["hour=10", "hour=11", "hour=12"]
    for name, table in by_row.items():
        assert {f"hour={t.hour:02d}" for t in table.column("ts").to_pylist()} == {name.split("/")[1]}
    assert sorted(i for t in by_row.values() for i in t.column("id").to_pylist()) == list(range(2_000))
    oldest = parquet_ids(tmp_path / "by_oldest")  # Firehose's way: the oldest row names the object
    assert [name.split("/")[:2] for name in oldest] == [["dt=2024-03-01", "hour=10"]]
    assert sorted(next(iter(oldest.values()))) == list(range(2_000))


@pytest.mark.parametrize("where", ["file", "s3"])
def test_partition_values_naming_the_staging_folder_stay_data(tmp_path: Path, where: str, request: Any) -> None:
    data = tmp_path / "rows.ndjson"
    if where == "file":
        # The state folder sits beside the pipeline, inside the sink's root '.'.
        folders = ["backfill.flowsql-state", "staging", "lake"]
        sink = "connector = 'file', path = '.'"
        env: dict[str, str] = {}
    else:
        s3, bucket, endpoint = (request.getfixturevalue(n) for n in ("s3", "bucket", "moto_endpoint"))
        folders = [".flowsql-staging", "backfill", "lake"]
        sink = f"connector = 's3', bucket = '{bucket}'"
        env = {"AWS_ENDPOINT_URL": endpoint}
    with data.open("w") as out:
        for i in range(1_000):
            out.write(json.dumps({"id": i, "a": folders[0], "b": folders[1], "c": folders[2]}) + "\n")
    pipeline = tmp_path / "backfill.sql"
    pipeline.write_text(f"""CREATE SOURCE rows (id BIGINT, a VARCHAR, b VARCHAR, c VARCHAR)
WITH (connector = 'file', path = '{data}');
CREATE SINK lake WITH ({sink}, format = 'json',
    prefix = '!{{partitionKeyFromQuery:a}}/!{{partitionKeyFromQuery:b}}/!{{partitionKeyFromQuery:c}}/');
INSERT INTO lake SELECT id, a, b, c FROM rows;
""")
    result = run_cli("run", str(pipeline), cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    root = tmp_path
    if where == "s3":
        root = tmp_path / "got"
        download(s3, bucket, root)
    files = list(root.rglob("backfill-lake-*.json"))
    ids = sorted(json.loads(line)["id"] for f in files for line in f.read_text().splitlines())
    assert ids == list(range(1_000))


@pytest.mark.parametrize("where", ["file", "s3"])
def test_a_reset_rerun_with_other_flush_points_leaves_no_earlier_object(
    tmp_path: Path, where: str, request: Any
) -> None:
    """The first run flushes by size at one set of rows (and an object of a stopped run sits in an
    hour the rerun never writes); the rerun, with another buffer size, flushes elsewhere: after
    `--reset` the lake holds each row once, the earlier objects all replaced."""
    data = tmp_path / "rows.ndjson"
    write_rows(data, 4_000, lambda i: PAGES[i % 3], seconds_apart=2.0)
    env: dict[str, str] = {}
    sink = "connector = 'file', path = 'lake'"
    if where == "s3":
        s3, bucket, endpoint = (request.getfixturevalue(n) for n in ("s3", "bucket", "moto_endpoint"))
        sink, env = f"connector = 's3', bucket = '{bucket}'", {"AWS_ENDPOINT_URL": endpoint}
    body = """
CREATE SINK lake WITH ({sink}, format = 'parquet',
    prefix = 'lake/page=!{{partitionKeyFromQuery:page}}/hour=!{{timestamp:HH}}/', buffer_size = '{size}');
INSERT INTO lake SELECT id, page, ts FROM rows;
"""
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(source(data) + body.format(sink=sink, size="20 KB"))
    assert run_cli("run", str(pipeline), cwd=tmp_path, env=env).code == 0
    stray_key = "lake/page=home/hour=23/p-lake-2024-03-01-23-00-00-000000999999.parquet"
    other_key = "lake/page=home/someone-else.parquet"
    root = tmp_path / "lake" if where == "file" else tmp_path / "got"
    if where == "s3":
        download(s3, bucket, root)
    sample = next(root.rglob("*.parquet")).read_bytes()
    if where == "file":
        for key in (stray_key, other_key):
            (root / key).parent.mkdir(parents=True, exist_ok=True)
            (root / key).write_bytes(sample)
    else:
        for key in (stray_key, other_key):
            s3.put_object(Bucket=bucket, Key=key, Body=sample)
    pipeline.write_text(source(data) + body.format(sink=sink, size="64 KB"))
    rerun = run_cli("run", str(pipeline), "--reset", cwd=tmp_path, env=env)
    assert rerun.code == 0, rerun.stderr
    assert "--reset: removed" in rerun.stderr
    if where == "s3":
        root = tmp_path / "got-after"
        download(s3, bucket, root)
    files = parquet_ids(root)
    ids = sorted(i for name, found in files.items() if "someone-else" not in name for i in found)
    assert ids == list(range(4_000))
    assert other_key in files and stray_key not in files  # objects of other names are left alone
