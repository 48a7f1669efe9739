"""Event time per shard, driven through `flowsql run` against kinesalite and moto: shards of very
unequal size resharded mid-way give no late rows and the batch answer for every window, on event
time and on arrival time; an idle shard stops holding windows back; implausible times are errors."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tests.conftest import ROOT
from tests.kinesis.conftest import KinesisServer, wait_active
from tests.kinesis.shard_lanes import LaneWriter, batch_answer, emitted, lanes_of, sink_and_query, stored_records
from tests.servers.ports import free_port
from tests.waiting import wait_until

WEIGHTS = [0.70, 0.22, 0.06, 0.02]  # four shards of very unequal size
EVENT_SIZES = {"size": "10 seconds", "slide": "5 seconds", "gap": "2 seconds"}
ARRIVAL_SIZES = {"size": "200 milliseconds", "slide": "100 milliseconds", "gap": "50 milliseconds"}


def _pipeline(
    tmp_path: Path,
    server: KinesisServer,
    stream: str,
    options: str = "",
    pace: str = "records_per_call = 100, get_records_interval = '10 ms'",
) -> Path:
    out = tmp_path / "out"
    text = f"""
CREATE SOURCE events (id BIGINT, key VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '0 seconds')
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{server.url}', region = 'us-east-1',
      {pace}, idle_interval = '50 ms', shard_refresh_interval = '200 ms'{options});
"""
    text += (
        f"CREATE SINK seen WITH (connector = 'file', path = '{out / 'seen'}', format = 'json', "
        f"buffer_interval = '0 s');\nINSERT INTO seen SELECT id, key, ts, arrival_time FROM events;\n"
    )
    for name in ("tumble", "hop", "session"):
        text += sink_and_query(name, "ts", EVENT_SIZES, out)
        text += sink_and_query(name, "arrival_time", ARRIVAL_SIZES, out)
    path = tmp_path / "windows.sql"
    path.write_text(text)
    return path


def _check_windows(tmp_path: Path, server: KinesisServer, stream: str, summary: dict) -> None:
    """Every record read once, none late, and each query's windows are DuckDB's answer over the
    records as read (moto stamps records anew when UpdateShardCount moves them to the children)."""
    stored = stored_records(server.client(), stream)
    records = _seen(tmp_path / "out" / "seen")
    assert sorted(records.column("id").to_pylist()) == sorted(stored.column("id").to_pylist())
    assert summary["late"] == 0
    assert summary["events_in"] == records.num_rows
    for name in ("tumble", "hop", "session"):
        for column, sizes in (("ts", EVENT_SIZES), ("arrival_time", ARRIVAL_SIZES)):
            windows, errors = emitted(tmp_path / "out" / f"{name}_{column}", name)
            assert errors == [], f"{name} on {column}: {errors[:3]}"
            assert windows == batch_answer(records, name, column, sizes), f"{name} on {column}"


def _seen(folder: Path) -> pa.Table:
    rows = [json.loads(line) for file in sorted(folder.rglob("*.json")) for line in file.read_text().splitlines()]
    assert all("errorCode" not in row for row in rows)
    return pa.Table.from_pylist(
        [
            {
                "id": r["id"],
                "key": r["key"],
                "ts": datetime.fromisoformat(r["ts"]),
                "arrival_time": datetime.fromisoformat(r["arrival_time"]),
            }
            for r in rows
        ]
    )


def _run(cli, path: Path, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    summary = path.parent / "summary.json"
    result = cli(
        "run", str(path), "--until-caught-up", "--no-checkpoint", "--quiet", "--summary-json", str(summary), *extra
    )
    assert result.code == 0, result.stderr
    return json.loads(summary.read_text())


@pytest.mark.slow
def test_unequal_shards_split_and_merged_give_the_batch_answer_on_kinesalite(
    kinesalite: KinesisServer, tmp_path, cli
) -> None:
    stream = kinesalite.create_stream(4)
    client = kinesalite.client()
    shards = [s["ShardId"] for s in client.list_shards(StreamName=stream)["Shards"]]
    writer = LaneWriter(client, stream, lanes_of(client, stream), WEIGHTS)
    writer.put(2000)
    # Split the largest shard, merge the two smallest; the lanes follow their hash keys.
    low, high = (int(k) for k in client.list_shards(StreamName=stream)["Shards"][0]["HashKeyRange"].values())
    client.split_shard(StreamName=stream, ShardToSplit=shards[0], NewStartingHashKey=str((low + high) // 2 + 1))
    wait_active(client, stream)
    client.merge_shards(StreamName=stream, ShardToMerge=shards[2], AdjacentShardToMerge=shards[3])
    wait_active(client, stream)
    writer.put(2000)
    assert min(writer.per_shard.values()) * 20 < max(writer.per_shard.values())
    # A short max_drift makes the large shard wait for the small ones many times over.
    summary = _run(cli, _pipeline(tmp_path, kinesalite, stream, ", idle_timeout = '2 s', max_drift = '20 s'"))
    _check_windows(tmp_path, kinesalite, stream, summary)


@pytest.mark.slow
def test_update_shard_count_mid_read_gives_the_batch_answer_on_moto(moto_kinesis: KinesisServer, tmp_path) -> None:
    # moto routes writes to the closed parents after UpdateShardCount, so every record is written
    # first and the stream is resharded once the run has read part of it (seen in its metrics).
    stream = moto_kinesis.create_stream(4)
    client = moto_kinesis.client()
    writer = LaneWriter(client, stream, lanes_of(client, stream), WEIGHTS)
    writer.put(3000)
    path = _pipeline(
        tmp_path,
        moto_kinesis,
        stream,
        ", idle_timeout = '2 s', max_drift = '20 s'",
        pace="records_per_call = 50, get_records_interval = '50 ms'",
    )
    port = free_port()
    summary_file = tmp_path / "summary.json"
    process = _start(path, "--until-caught-up", "--summary-json", str(summary_file), "--metrics-port", str(port))
    try:
        _wait(lambda: _metric(port, "flowsql_events_in_total") >= 300, 60, process)
        assert _metric(port, "flowsql_events_in_total") < 3000, "the reshard must happen mid-read"
        client.update_shard_count(StreamName=stream, TargetShardCount=8, ScalingType="UNIFORM_SCALING")
        wait_active(client, stream)
        assert process.wait(timeout=180) == 0, process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
    listed = client.list_shards(StreamName=stream)["Shards"]
    assert sum(1 for s in listed if s.get("ParentShardId")) >= 4
    _check_windows(tmp_path, moto_kinesis, stream, json.loads(summary_file.read_text()))


def _start(path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "flowsql", "run", str(path), "--no-checkpoint", "--quiet", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _metric(port: int, name: str, **labels: str) -> float:
    """The sum of a metric's series whose labels include `labels` (0 before the first scrape)."""
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return 0.0
    total = 0.0
    for line in body.splitlines():
        named = line.startswith(name + "{") or line.startswith(name + " ")
        if named and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _wait(predicate, timeout: float, process: subprocess.Popen | None = None) -> None:  # type: ignore[no-untyped-def]
    wait_until(predicate, timeout, "the condition", process)


class LiveWriter(threading.Thread):
    """Puts a record stamped with the wall clock into shards 0 to 2 every 50 ms, until stopped."""

    def __init__(self, client, stream: str, lanes: list[list[str]]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.client, self.stream, self.lanes = client, stream, lanes
        self.stop = threading.Event()
        self.next_id = 1000

    def run(self) -> None:
        while not self.stop.wait(0.05):
            now = datetime.now(UTC).replace(tzinfo=None)
            shard = self.next_id % 3
            record = {"id": self.next_id, "key": f"k{self.next_id % 5}", "ts": now.isoformat(sep=" ")}
            self.client.put_record(
                StreamName=self.stream,
                Data=json.dumps(record).encode(),
                PartitionKey="p",
                ExplicitHashKey=self.lanes[shard][0],
            )
            self.next_id += 1


@pytest.mark.slow
def test_an_idle_shard_stops_holding_windows_back_within_idle_timeout(kinesalite: KinesisServer, tmp_path) -> None:
    stream = kinesalite.create_stream(4)
    client = kinesalite.client()
    lanes = lanes_of(client, stream)
    quiet_ts = datetime.now(UTC).replace(tzinfo=None)
    for i in range(3):  # shard 3 has a few records, then nothing
        record = {"id": i, "key": "k0", "ts": (quiet_ts + timedelta(milliseconds=i)).isoformat(sep=" ")}
        client.put_record(
            StreamName=stream, Data=json.dumps(record).encode(), PartitionKey="p", ExplicitHashKey=lanes[3][0]
        )
    path = tmp_path / "idle.sql"
    out = tmp_path / "out"
    path.write_text(f"""
CREATE SOURCE events (id BIGINT, key VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '0 seconds')
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{kinesalite.url}', region = 'us-east-1',
      get_records_interval = '20 ms', idle_interval = '50 ms', idle_timeout = '2 s');
CREATE SINK per_second WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
INSERT INTO per_second SELECT window_start, window_end, count(*) AS n, sum(id) AS ids
FROM TUMBLE(events, ts, INTERVAL '1 second') GROUP BY ALL;
""")
    writer = LiveWriter(client, stream, lanes)
    port = free_port()
    summary_file = tmp_path / "summary.json"
    process = _start(path, "--summary-json", str(summary_file), "--metrics-port", str(port))
    try:
        writer.start()
        # Shard 3's last record is older than anything the others read: only its idleness lets
        # windows after it close, while records keep coming on the other shards.
        _wait(lambda: _metric(port, "flowsql_events_in_total") >= 3, 60, process)
        reading = time.monotonic()  # shard 3's records are in: its idle_timeout runs from here
        _wait(lambda: _metric(port, "flowsql_shard_idle", shard="shardId-000000000003") == 1, 30, process)
        _wait(lambda: any(w[0] > quiet_ts + timedelta(seconds=1) for w in emitted(out, "tumble")[0]), 30, process)
        closed_after = time.monotonic() - reading
        assert closed_after < 2 + 6, f"the first window closed {closed_after:.1f} s after shard 3 was read"
        assert _metric(port, "flowsql_shard_idle", shard="shardId-000000000000") == 0
        assert _metric(
            port, "flowsql_shard_watermark_seconds", shard="shardId-000000000003", column="ts"
        ) == pytest.approx((quiet_ts + timedelta(milliseconds=2)).replace(tzinfo=UTC).timestamp())
        # Shard 3 rejoins with a record behind the watermark: it is late, as the docs say.
        stale = {"id": 999, "key": "k0", "ts": quiet_ts.isoformat(sep=" ")}
        client.put_record(
            StreamName=stream, Data=json.dumps(stale).encode(), PartitionKey="p", ExplicitHashKey=lanes[3][0]
        )
        _wait(lambda: len(emitted(out, "tumble")[1]) == 1, 30, process)
    finally:
        writer.stop.set()
        writer.join()
        process.terminate()
        code = process.wait(timeout=60)
    assert code == 0, process.stderr.read() if process.stderr else ""
    summary = json.loads(summary_file.read_text())
    assert summary["late"] == 1
    (late,) = emitted(out, "tumble")[1]
    assert late["errorCode"] == "late" and json.loads(base64.b64decode(late["rawData"]))["id"] == 999
    # Every window emitted while running holds exactly the records the batch answer puts in it.
    records = stored_records(client, stream)
    expected = {w[0]: w for w in batch_answer(_without(records, 999), "tumble", "ts", {"size": "1 second"})}
    windows = emitted(out, "tumble")[0]
    assert windows and all(expected[w[0]] == w for w in windows)


def _without(records: pa.Table, record_id: int) -> pa.Table:
    return records.filter(pc.not_equal(records.column("id"), record_id))


def test_implausible_event_times_over_kinesis_go_to_the_error_output(kinesalite: KinesisServer, tmp_path, cli) -> None:
    stream = kinesalite.create_stream(1)
    client = kinesalite.client()
    now = datetime.now(UTC).replace(tzinfo=None)
    datas = [
        json.dumps({"id": 1, "key": "a", "ts": now.isoformat(sep=" ")}).encode(),
        b'{"id": 2, "key": "a", "ts": "2099-01-01 00:00:00"}',
        b'{"id": 3, "key": "a", "ts": "infinity"}',
        json.dumps({"id": 4, "key": "a", "ts": (now + timedelta(seconds=1)).isoformat(sep=" ")}).encode(),
    ]
    sequences = [client.put_record(StreamName=stream, Data=d, PartitionKey="a")["SequenceNumber"] for d in datas]
    path = tmp_path / "poison.sql"
    out = tmp_path / "out"
    path.write_text(f"""
CREATE SOURCE events (id BIGINT, key VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '0 seconds')
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{kinesalite.url}', region = 'us-east-1',
      idle_interval = '50 ms', max_future = '1 hour');
CREATE SINK rows WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
INSERT INTO rows SELECT window_start, count(*) AS n, sum(id) AS ids FROM TUMBLE(events, ts, INTERVAL '1 hour')
GROUP BY ALL;
""")
    summary_file = tmp_path / "summary.json"
    result = cli(
        "run", str(path), "--until-caught-up", "--no-checkpoint", "--quiet", "--summary-json", str(summary_file)
    )
    assert result.code == 0, result.stderr
    rows, errors = [], []
    for file in out.rglob("*.json"):
        for line in file.read_text().splitlines():
            (errors if "errorCode" in json.loads(line) else rows).append(json.loads(line))
    assert sum(r["n"] for r in rows) == 2 and sum(r["ids"] for r in rows) == 5
    assert json.loads(summary_file.read_text())["late"] == 0
    by_id = {json.loads(base64.b64decode(e["rawData"]))["id"]: e for e in errors}
    assert sorted(by_id) == [2, 3]
    assert base64.b64decode(by_id[2]["rawData"]) == datas[1]
    assert base64.b64decode(by_id[3]["rawData"]) == datas[2]
    assert by_id[2]["position"] == f"shardId-000000000000/{sequences[1]}"
    assert by_id[3]["position"] == f"shardId-000000000000/{sequences[2]}"
    assert all(e["errorCode"] == "implausible-event-time" for e in errors)
    assert "max_future" in by_id[2]["errorMessage"] and "infinity" in by_id[3]["errorMessage"]
