"""Every S3 call a run makes is retried: a 500 on the listing at start and at the end, and on
the HEAD that recovery makes, neither fails the run nor loses a row; errors name the real call."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from tests.conftest import run_cli
from tests.delivery.conftest import download
from tests.servers.fault_proxy import Fault, FaultProxy

INTERNAL_ERROR = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"


def is_listing(method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
    return method == "GET" and "list-type=2" in path


def nth_listing(*wanted: int) -> Any:
    seen = itertools.count()
    return lambda *request: is_listing(*request) and next(seen) in wanted


def test_a_500_on_list_and_head_is_retried_and_the_output_is_complete(
    tmp_path: Path, s3: Any, bucket: str, s3_proxy: FaultProxy
) -> None:
    data = tmp_path / "rows.ndjson"
    data.write_text("".join(json.dumps({"id": i, "kind": ["a", "b"][i % 2]}) + "\n" for i in range(2_000)))
    pipeline = tmp_path / "retries.sql"
    pipeline.write_text(f"""CREATE SOURCE rows (id BIGINT, kind VARCHAR) WITH (connector = 'file', path = '{data}');
CREATE SINK lake WITH (connector = 's3', bucket = '{bucket}', endpoint_url = '{s3_proxy.url}', format = 'json',
    prefix = 'kind=!{{partitionKeyFromQuery:kind}}/', retry_base_delay = '20 ms');
INSERT INTO lake SELECT id, kind FROM rows;
""")
    # The first listing clears staging at start; the third (after the retried first) at the end.
    listing = s3_proxy.add(Fault(nth_listing(0, 2), status=500, body=INTERNAL_ERROR, times=2))
    first = run_cli("run", str(pipeline), cwd=tmp_path)
    assert first.code == 0, first.stderr
    assert listing.fired == 2 and "LIST" in first.stderr and "InternalError" in first.stderr

    # A restart finishes the last checkpoint's promotions: the staged objects are gone, so it asks
    # with HEAD whether their keys are there.
    head = s3_proxy.add(Fault(lambda method, *rest: method == "HEAD", status=500, times=1))
    again = run_cli("run", str(pipeline), cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert head.fired == 1 and "resumed from checkpoint" in again.stderr

    keys = download(s3, bucket, tmp_path / "got")
    assert not [k for k in keys if k.startswith(".flowsql-staging/")]
    rows = [json.loads(line) for k in keys for line in (tmp_path / "got" / k).read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == list(range(2_000))


def test_a_failing_head_names_itself_not_a_missing_key(
    tmp_path: Path, s3: Any, bucket: str, s3_proxy: FaultProxy
) -> None:
    data = tmp_path / "rows.ndjson"
    data.write_text("".join(json.dumps({"id": i}) + "\n" for i in range(10)))
    pipeline = tmp_path / "heads.sql"
    pipeline.write_text(f"""CREATE SOURCE rows (id BIGINT) WITH (connector = 'file', path = '{data}');
CREATE SINK lake WITH (connector = 's3', bucket = '{bucket}', endpoint_url = '{s3_proxy.url}', format = 'json',
    retry_duration = '1 s', retry_base_delay = '20 ms');
INSERT INTO lake SELECT id FROM rows;
""")
    assert run_cli("run", str(pipeline), cwd=tmp_path).code == 0
    s3_proxy.add(Fault(lambda method, *rest: method == "HEAD", status=503, times=None))
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 1
    assert "HEAD s3://" in result.stderr and "503" in result.stderr and "NoSuchKey" not in result.stderr
