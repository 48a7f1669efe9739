"""Kill -9 an http-sink run by progress (after so many requests arrived), restart it from its
checkpoint, and let a receiver that de-duplicates on the request id count: every record
arrives, and an id that comes again always carries the same records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers.fault_proxy import Fault, FaultProxy
from tests.servers.firehose_receiver import FirehoseReceiver
from tests.waiting import wait_until

ROWS = 30_000
REQUESTS_PER_LIFE = 12
KILLS = 5


def start(pipeline: Path, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "flowsql", "run", str(pipeline), "--quiet"],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for_requests(receiver: FirehoseReceiver, process: subprocess.Popen[bytes], count: int) -> bool:
    """True once `count` requests arrived while `process` runs; False if it ended first."""
    wait_until(
        lambda: receiver.state.requests >= count or process.poll() is not None, 120, f"{count} requests at the receiver"
    )
    return receiver.state.requests >= count


@pytest.mark.slow
def test_receiver_deduplicating_on_request_id_finds_every_record_after_kills(tmp_path: Path) -> None:
    data = tmp_path / "rows.ndjson"
    data.write_text("".join(json.dumps({"id": i, "page": f"p{i % 7}"}) + "\n" for i in range(ROWS)))
    with FirehoseReceiver() as receiver, FaultProxy(receiver.url.rsplit("/", 1)[0]) as proxy:
        # Slow answers keep the engine behind the reader, so replays join batches differently.
        proxy.add(Fault(lambda method, *rest: method == "POST", delay=0.03, times=None))
        pipeline = tmp_path / "to_http.sql"
        pipeline.write_text(f"""CREATE SOURCE rows (id BIGINT, page VARCHAR)
WITH (connector = 'file', path = '{data}', chunk_size = '16 KB');
CREATE SINK endpoint WITH (connector = 'http', url = '{proxy.url}/ingest', buffer_interval = '0 s',
    backup_path = 'failed');
INSERT INTO endpoint SELECT id, page FROM rows;
""")
        kills = 0
        while True:
            process = start(pipeline, tmp_path)
            if kills < KILLS and wait_for_requests(receiver, process, receiver.state.requests + REQUESTS_PER_LIFE):
                process.send_signal(signal.SIGKILL)
                process.wait()
                kills += 1
                continue
            assert process.wait(timeout=300) == 0, process.stderr.read().decode() if process.stderr else ""
            break
    state = receiver.state
    assert kills == KILLS
    assert state.violations == []  # an id that came again carried the same records
    ids = [row["id"] for row in receiver.rows()]
    assert sorted(set(ids)) == list(range(ROWS))  # none lost
    assert not (tmp_path / "failed").exists()
    print(f"{kills} kills, {state.repeats} repeated requests, {len(ids) - ROWS} records delivered twice")
