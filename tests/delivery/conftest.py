"""Fixtures for delivery tests: a bucket on the moto server, fault proxies, pipeline text."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.servers.fault_proxy import FaultProxy

_BUCKETS = itertools.count(1)


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"lake-{next(_BUCKETS)}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_proxy(moto_endpoint: str) -> Iterator[FaultProxy]:
    with FaultProxy(moto_endpoint) as proxy:
        yield proxy


def clicks_source(count: int, seed: int = 7, rate: float = 1000.0, batch_size: int = 65_536) -> str:
    return f"""CREATE SOURCE clicks (
    event_id BIGINT, user_id VARCHAR, page VARCHAR, event_type VARCHAR, country VARCHAR, price DOUBLE, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '5 seconds'
) WITH (connector = 'generator', count = {count}, rate = {rate}, seed = {seed},
    batch_size = {batch_size});
"""


def download(s3: Any, bucket: str, into: Path, prefix: str = "") -> list[str]:
    """Every object under `prefix`, copied to `into` under its key; returns the keys."""
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            target = into / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            keys.append(item["Key"])
    return sorted(keys)
