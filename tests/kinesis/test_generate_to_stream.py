"""`flowsql generate clickstream --kinesis STREAM` puts the generated events into a stream,
keyed by user, and a pipeline reading the stream gets them all back."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.kinesis.conftest import KinesisServer


def test_generate_into_a_stream_and_read_it_back(tmp_path: Path, kinesalite_endpoint: str) -> None:
    server = KinesisServer("kinesalite", kinesalite_endpoint)
    stream = server.create_stream(shards=2)
    env = {"AWS_ENDPOINT_URL": kinesalite_endpoint}
    put = run_cli("generate", "clickstream", "--count", "2500", "--seed", "9", "--kinesis", stream, "--quiet", env=env)
    assert put.code == 0, put.stderr
    assert "2,500 events put into" in put.stderr

    pipeline = tmp_path / "read.sql"
    pipeline.write_text(f"""CREATE SOURCE clicks (event_id BIGINT, user_id VARCHAR, page VARCHAR)
        WITH (connector = 'kinesis', stream = '{stream}');
    CREATE SINK out WITH (connector = 'file', path = '{tmp_path / "out"}', format = 'json');
    INSERT INTO out SELECT event_id, user_id FROM clicks;""")
    read = run_cli("run", str(pipeline), "--until-caught-up", "--no-checkpoint", env=env)
    assert read.code == 0, read.stderr
    rows = [json.loads(line) for f in (tmp_path / "out").rglob("*.json") for line in f.read_text().splitlines()]
    assert sorted(r["event_id"] for r in rows) == list(range(2500))
    expected = run_cli("generate", "clickstream", "--count", "2500", "--seed", "9", "--quiet").stdout.splitlines()
    users = {json.loads(line)["event_id"]: json.loads(line)["user_id"] for line in expected}
    assert all(users[r["event_id"]] == r["user_id"] for r in rows)
