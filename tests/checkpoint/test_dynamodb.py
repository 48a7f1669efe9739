"""Checkpoints in DynamoDB (moto's server on loopback): the lease lets one process run a
pipeline; the other exits clearly, and takes over from the checkpoint once the lease is free."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3

from tests.conftest import ROOT, run_cli
from tests.waiting import wait_until

PIPELINE = """SET checkpoint = 'dynamodb://flowsql-checkpoints';
CREATE SOURCE events (id BIGINT, user_id VARCHAR) WITH (connector = 'file', path = '{data}', follow = {follow});
CREATE SINK out WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
INSERT INTO out SELECT id, user_id FROM events;
"""


def write(folder: Path, data: Path, out: Path, follow: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pipeline = folder / "orders.sql"  # both copies are the pipeline 'orders'
    pipeline.write_text(PIPELINE.format(data=data, out=out, follow=str(follow).lower()))
    return pipeline


def ids_written(out: Path) -> list[int]:
    return sorted(
        json.loads(line)["id"]
        for f in out.rglob("*.json")
        if "errors" not in f.parts
        for line in f.read_text().splitlines()
    )


def test_lease_race_and_takeover(tmp_path: Path, moto_endpoint: str) -> None:
    env = {"AWS_ENDPOINT_URL": moto_endpoint}
    data = tmp_path / "events.ndjson"
    data.write_text("".join(json.dumps({"id": i, "user_id": f"u{i % 7}"}) + "\n" for i in range(1000)))
    out = tmp_path / "out"
    following = write(tmp_path / "a", data, out, follow=True)
    bounded = write(tmp_path / "b", data, out, follow=False)

    process = subprocess.Popen(
        [sys.executable, "-m", "flowsql", "run", str(following)],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: len(ids_written(out)) >= 1000, 60, "the first 1000 records written")
        assert len(ids_written(out)) == 1000

        loser = run_cli("run", str(bounded), env=env)
        assert loser.code == 1
        assert "already running" in loser.stderr and "lease" in loser.stderr

        with data.open("a") as more:
            more.write("".join(json.dumps({"id": i, "user_id": "late"}) + "\n" for i in range(1000, 1200)))
        wait_until(
            lambda: len(ids_written(out)) >= 1200, 60, "the appended records written by the lease holder", process
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()

    with data.open("a") as more:
        more.write("".join(json.dumps({"id": i, "user_id": "after"}) + "\n" for i in range(1200, 1300)))
    winner = run_cli("run", str(bounded), env=env)
    assert winner.code == 0, winner.stderr
    assert "resumed from checkpoint epoch" in winner.stderr
    assert ids_written(out) == list(range(1300))  # every record once, across both processes

    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    items = dynamodb.scan(TableName="flowsql-checkpoints")["Items"]
    head = next(i for i in items if i["entry"]["S"] == "head")
    assert head["pipeline"]["S"] == "orders" and int(head["checkpoint_epoch"]["N"]) >= 2
    epochs = {i["entry"]["S"].split("#")[1] for i in items if i["entry"]["S"].startswith("epoch#")}
    assert epochs == {head["checkpoint_epoch"]["N"]}  # older epochs are cleaned up
