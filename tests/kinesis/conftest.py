"""Kinesis servers for the tests: moto's server and kinesalite, both real HTTP on loopback."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from tests.servers.kinesalite import kinesalite_server
from tests.waiting import wait_until


@pytest.fixture(scope="session")
def kinesalite_endpoint(aws_env: dict[str, str]) -> Iterator[str]:
    with kinesalite_server() as url:
        yield url


@dataclass
class KinesisServer:
    kind: str  # "moto" or "kinesalite"
    url: str

    def client(self, url: str | None = None) -> Any:
        return boto3.client("kinesis", endpoint_url=url or self.url, region_name="us-east-1")

    def create_stream(self, shards: int) -> str:
        name = f"s-{uuid.uuid4().hex[:10]}"
        client = self.client()
        client.create_stream(StreamName=name, ShardCount=shards)
        wait_active(client, name)
        return name


def wait_active(client: Any, stream: str, timeout: float = 20.0) -> None:
    wait_until(
        lambda: (
            client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"
        ),
        timeout,
        f"stream {stream} to be ACTIVE",
    )


@pytest.fixture(params=["moto", "kinesalite"])
def kinesis(request: pytest.FixtureRequest) -> KinesisServer:
    """Each test using this runs once against moto's server and once against kinesalite."""
    fixture = "moto_endpoint" if request.param == "moto" else "kinesalite_endpoint"
    return KinesisServer(request.param, request.getfixturevalue(fixture))


# Tests beyond the main read test run on both servers too, the moto run among the slow tests.
on_both_moto_slow = pytest.mark.parametrize(
    "kinesis", [pytest.param("moto", marks=pytest.mark.slow), "kinesalite"], indirect=True
)


@pytest.fixture
def moto_kinesis(moto_endpoint: str) -> KinesisServer:
    return KinesisServer("moto", moto_endpoint)


@pytest.fixture
def kinesalite(kinesalite_endpoint: str) -> KinesisServer:
    return KinesisServer("kinesalite", kinesalite_endpoint)


PIPELINE = """
CREATE SOURCE events (id BIGINT, key VARCHAR, n BIGINT, note VARCHAR)
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{url}', region = 'us-east-1',
      idle_interval = '100 ms', get_records_interval = '50 ms'{extra});

CREATE SINK out WITH (connector = 'file', path = '{out}', format = 'json', prefix = 'rows/',
                      buffer_interval = '1 s');

INSERT INTO out SELECT id, key, n, note, arrival_time FROM events;
"""


def write_pipeline(tmp_path: Any, stream: str, url: str, extra: str = "") -> Any:
    path = tmp_path / "read.sql"
    path.write_text(PIPELINE.format(stream=stream, url=url, out=tmp_path / "lake", extra=extra))
    return path


def read_json_rows(folder: Any) -> list[dict[str, Any]]:
    import gzip
    import json

    rows = []
    for file in sorted(folder.rglob("*")):
        if not file.is_file():
            continue
        data = file.read_bytes()
        if file.name.endswith(".gz"):
            data = gzip.decompress(data)
        rows.extend(json.loads(line) for line in data.splitlines() if line.strip())
    return rows


Factory = Callable[..., Any]
