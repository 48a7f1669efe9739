"""`flowsql compact`: a table of many small files (a flush per micro-batch) becomes one file per
partition with the same rows, old snapshots expire and the files only they held are deleted."""

from __future__ import annotations

from pathlib import Path

import duckdb

from tests.conftest import run_cli
from tests.delivery.iceberg_helpers import load, scan
from tests.pipeline.test_examples import generated_clicks


def test_compact_merges_small_files_and_expires_snapshots(tmp_path: Path) -> None:
    data = tmp_path / "clicks.ndjson"
    con = duckdb.connect()
    con.register("clicks", generated_clicks(20_000, seed=2, rate=2000))
    con.execute(f"COPY (SELECT event_id, page, event_type, ts FROM clicks) TO '{data}' (FORMAT json)")
    pipeline = tmp_path / "small.sql"
    pipeline.write_text(f"""
CREATE SOURCE clicks (event_id BIGINT, page VARCHAR, event_type VARCHAR, ts TIMESTAMP)
WITH (connector = 'file', path = '{data}', chunk_size = '64 KB');
CREATE SINK raw WITH (connector = 'iceberg', table = 'web.raw', warehouse = 'lake/',
    partition_by = 'event_type', buffer_interval = '0 s');
INSERT INTO raw SELECT * FROM clicks;
""")
    assert run_cli("run", str(pipeline), cwd=tmp_path).code == 0
    lake = tmp_path / "lake"
    before = scan(lake, "web.raw")
    table = load(lake, "web.raw")
    files = [e["file_path"].removeprefix("file://") for e in table.inspect.files().to_pylist()]
    partitions = {e["partition"]["event_type"] for e in table.inspect.files().to_pylist()}
    assert len(files) > 3 * len(partitions) and len(table.metadata.snapshots) > 3

    result = run_cli("compact", str(pipeline), "--expire-older-than", "0 s", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert f"{len(partitions)} partitions rewritten" in result.stderr

    table = load(lake, "web.raw")
    entries = table.inspect.files().to_pylist()
    assert sorted(e["partition"]["event_type"] for e in entries) == sorted(partitions)  # one file each
    assert scan(lake, "web.raw") == before
    assert len(table.metadata.snapshots) == 1
    assert not any(Path(f).exists() for f in files)  # the small files went with their snapshots

    # The expired snapshots carried the commit marks; the table's high-water mark still has them,
    # so a resumed run commits nothing again.
    again = run_cli("run", str(pipeline), cwd=tmp_path)
    assert again.code == 0 and "resumed from checkpoint" in again.stderr
    assert scan(lake, "web.raw") == before

    # --expire-older-than never keeps every snapshot; nothing small is left to merge.
    kept = run_cli("compact", str(pipeline), "--expire-older-than", "never", cwd=tmp_path)
    assert kept.code == 0 and "0 partitions rewritten" in kept.stderr
