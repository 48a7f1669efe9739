"""The s3 sink against moto in server mode, with faults injected on the wire between them."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import fastparquet
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.conftest import run_cli
from tests.delivery.conftest import clicks_source, download
from tests.pipeline.test_examples import generated_clicks
from tests.servers.fault_proxy import Fault, FaultProxy
from tests.waiting import wait_until

SLOW_DOWN = (
    b"<?xml version='1.0' encoding='UTF-8'?>"
    b"<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"
)
COLUMNS = ["event_id", "user_id", "page", "event_type", "country", "price", "ts"]


def is_put(method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
    return method == "PUT"


def write_pipeline(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lake.sql"
    path.write_text(text)
    return path


def read_three_ways(root: Path) -> dict[str, pd.DataFrame]:
    """The same Hive-partitioned folder read by pyarrow, fastparquet and DuckDB, normalised."""
    files = sorted(str(p) for p in root.rglob("*.parquet"))
    frames = {
        "pyarrow": ds.dataset(str(root), format="parquet", partitioning="hive").to_table().to_pandas(),
        "fastparquet": fastparquet.ParquetFile(files, root=str(root)).to_pandas(),
        "duckdb": duckdb.connect()
        .sql(f"SELECT * FROM read_parquet('{root}/**/*.parquet', hive_partitioning = true)")
        .df(),
    }
    out = {}
    for reader, frame in frames.items():
        frame = frame[COLUMNS].copy()
        frame["event_type"] = frame["event_type"].astype(str)
        frame["ts"] = pd.to_datetime(frame["ts"]).astype("datetime64[us]")
        out[reader] = frame.sort_values("event_id").reset_index(drop=True)
    return out


def expected_frame(count: int, seed: int = 7) -> pd.DataFrame:
    frame = generated_clicks(count, seed).select(COLUMNS).to_pandas()
    frame["ts"] = frame["ts"].astype("datetime64[us]")
    return frame.sort_values("event_id").reset_index(drop=True)


@pytest.mark.slow
def test_every_record_arrives_once_through_faults(tmp_path: Path, s3: Any, bucket: str, s3_proxy: FaultProxy) -> None:
    faults = [
        s3_proxy.add(Fault(is_put, status=500, body=b"<Error><Code>InternalError</Code></Error>")),
        s3_proxy.add(Fault(is_put, status=503, body=SLOW_DOWN, times=2)),
        s3_proxy.add(Fault(is_put, reset=True)),
        s3_proxy.add(Fault(is_put, delay=1.5)),  # longer than read_timeout: the client gives up and retries
        s3_proxy.add(Fault(is_put, status=503, body=b"<Error><Code>ServiceUnavailable</Code></Error>")),
    ]
    pipeline = write_pipeline(
        tmp_path,
        clicks_source(30_000, batch_size=2_000)
        + f"""
CREATE SINK raw WITH (connector = 's3', bucket = '{bucket}', endpoint_url = '{s3_proxy.url}',
    prefix = 'events/event_type=!{{partitionKeyFromQuery:event_type}}/', buffer_size = '300 KB',
    read_timeout = '0.5 s', retry_base_delay = '20 ms', retry_duration = '60 s');
INSERT INTO raw SELECT * FROM clicks;
""",
    )
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert [f.fired for f in faults] == [1, 2, 1, 1, 1]
    assert "SlowDown" in result.stderr  # each retry is logged with its reason
    # The delayed PUT still lands after its retry was promoted: a straggler no checkpoint names.
    # The next start clears staging of such objects, and the lake is what it was.
    wait_until(lambda: s3_proxy.in_flight == 0, 30, "the delayed PUT to reach the server")
    again = run_cli("run", str(pipeline), cwd=tmp_path)
    assert again.code == 0, again.stderr
    assert "resumed from checkpoint" in again.stderr
    staged = s3.list_objects_v2(Bucket=bucket, Prefix=".flowsql-staging/").get("Contents", [])
    assert staged == []  # every staged object was promoted after its checkpoint, or cleared

    keys = download(s3, bucket, tmp_path / "got")
    assert len(keys) > 4  # several flushes, one object per event type each
    for key in keys:
        assert re.fullmatch(
            r"events/event_type=(view|click|add_to_cart|purchase)/"
            r"lake-raw-2024-01-01-\d\d-\d\d-\d\d-\d{12}\.parquet",
            key,
        ), key
    frames = read_three_ways(tmp_path / "got" / "events")
    expected = expected_frame(30_000)
    for reader, frame in frames.items():
        assert frame["event_id"].is_unique, reader
        pd.testing.assert_frame_equal(frame, expected, check_dtype=False, obj=reader)


@pytest.mark.slow
def test_codecs_and_formats_read_back_the_same(tmp_path: Path, s3: Any, bucket: str, moto_endpoint: str) -> None:
    codecs = {"snappy": "SNAPPY", "zstd": "ZSTD", "gzip": "GZIP", "none": "UNCOMPRESSED"}
    sinks = []
    for codec in codecs:
        sinks.append(f"""CREATE SINK p_{codec} WITH (connector = 's3', bucket = '{bucket}', compression = '{codec}',
    prefix = 'parquet_{codec}/event_type=!{{partitionKeyFromQuery:event_type}}/');
INSERT INTO p_{codec} SELECT * FROM clicks;""")
    for codec in ("none", "gzip"):
        sinks.append(f"""CREATE SINK j_{codec} WITH (connector = 's3', bucket = '{bucket}', format = 'json',
    compression = '{codec}', prefix = 'json_{codec}/');
INSERT INTO j_{codec} SELECT * FROM clicks;""")
    pipeline = write_pipeline(tmp_path, clicks_source(5_000) + "\n".join(sinks))
    result = run_cli("run", str(pipeline), cwd=tmp_path, env={"AWS_ENDPOINT_URL": moto_endpoint})
    assert result.code == 0, result.stderr
    download(s3, bucket, tmp_path / "got")
    expected = expected_frame(5_000)
    for codec, name in codecs.items():
        root = tmp_path / "got" / f"parquet_{codec}"
        for file in root.rglob("*.parquet"):
            metadata = pq.ParquetFile(file).metadata
            assert {metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)} == {name}
            assert "event_type" not in metadata.schema.names  # the partition value lives in the folder
        for reader, frame in read_three_ways(root).items():
            pd.testing.assert_frame_equal(frame, expected, check_dtype=False, obj=f"{codec} via {reader}")
    for codec in ("none", "gzip"):
        files = sorted((tmp_path / "got" / f"json_{codec}").rglob("*.json*"))
        assert files and all(f.name.endswith(".json.gz" if codec == "gzip" else ".json") for f in files)
        text = b"".join(gzip.decompress(f.read_bytes()) if codec == "gzip" else f.read_bytes() for f in files)
        rows = [json.loads(line) for line in text.decode().splitlines()]
        assert sorted(r["event_id"] for r in rows) == list(expected["event_id"])


@pytest.mark.slow
def test_default_names_are_hourly_folders_and_a_replay_overwrites(
    tmp_path: Path, s3: Any, bucket: str, moto_endpoint: str
) -> None:
    pipeline = write_pipeline(
        tmp_path,
        clicks_source(3_000, batch_size=500)
        + f"""
CREATE SINK raw WITH (connector = 's3', bucket = '{bucket}', buffer_size = '100 KB');
INSERT INTO raw SELECT * FROM clicks;
""",
    )
    env = {"AWS_ENDPOINT_URL": moto_endpoint}
    assert run_cli("run", str(pipeline), cwd=tmp_path, env=env).code == 0
    first = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert len(first) >= 2
    assert all(re.fullmatch(r"2024/01/01/00/lake-raw-2024-01-01-00-\d\d-\d\d-\d{12}\.parquet", k) for k in first)
    # --reset throws the checkpoint away: the whole stream is replayed and delivered again.
    replay = run_cli("run", str(pipeline), "--reset", cwd=tmp_path, env=env)
    assert replay.code == 0 and "--reset discards checkpoint" in replay.stderr
    again = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert again == first  # same names, same bytes: the replay replaced, it did not add


@pytest.mark.slow
def test_multipart_upload_with_kms_encryption(tmp_path: Path, s3: Any, bucket: str, s3_proxy: FaultProxy) -> None:
    part_fault = s3_proxy.add(
        Fault(lambda m, path, h, b: m == "PUT" and "partNumber=2" in path, status=503, body=SLOW_DOWN)
    )
    pipeline = write_pipeline(
        tmp_path,
        clicks_source(60_000)
        + f"""
CREATE SINK raw WITH (connector = 's3', bucket = '{bucket}', endpoint_url = '{s3_proxy.url}', format = 'json',
    prefix = 'big/', buffer_size = '1 GB', multipart_threshold = '5 MiB', multipart_part_size = '5 MiB',
    server_side_encryption = 'aws:kms', kms_key_id = 'alias/lake', retry_base_delay = '10 ms');
INSERT INTO raw SELECT * FROM clicks;
""",
    )
    # Without checkpoints the object goes straight to its key, so its ETag shows the parts
    # (with checkpoints it is staged as a multipart upload, then copied into place).
    result = run_cli("run", str(pipeline), "--no-checkpoint", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert part_fault.fired == 1
    (item,) = s3.list_objects_v2(Bucket=bucket)["Contents"]
    head = s3.head_object(Bucket=bucket, Key=item["Key"])
    parts = item["Size"] // (5 * 1024**2) + 1
    assert item["Size"] > 10 * 1024**2 and head["ETag"].strip('"').endswith(f"-{parts}")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith("alias/lake")
    body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
    ids = sorted(json.loads(line)["event_id"] for line in body.splitlines())
    assert ids == list(expected_frame(60_000)["event_id"])
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_sse_s3_passes_through(tmp_path: Path, s3: Any, bucket: str, moto_endpoint: str) -> None:
    pipeline = write_pipeline(
        tmp_path,
        clicks_source(100)
        + f"""
CREATE SINK raw WITH (connector = 's3', bucket = '{bucket}', endpoint_url = '{moto_endpoint}',
    server_side_encryption = 'AES256');
INSERT INTO raw SELECT * FROM clicks;
""",
    )
    assert run_cli("run", str(pipeline), cwd=tmp_path).code == 0
    (item,) = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert s3.head_object(Bucket=bucket, Key=item["Key"])["ServerSideEncryption"] == "AES256"


def test_records_that_fail_conversion_land_in_the_error_prefix(
    tmp_path: Path, s3: Any, bucket: str, moto_endpoint: str
) -> None:
    lines = [
        b'{"id": 1, "name": "a"}',
        b'{"id": "not a number", "name": "b"}',
        b'{"id": 3, "name": "c"}',
        b"{broken json",
        b'{"id": 5, "name": "e"}',
    ]
    (tmp_path / "in.json").write_bytes(b"\n".join(lines) + b"\n")
    pipeline = write_pipeline(
        tmp_path,
        f"""
CREATE SOURCE rows (id BIGINT, name VARCHAR) WITH (connector = 'file', path = 'in.json');
CREATE SINK out WITH (connector = 's3', bucket = '{bucket}', endpoint_url = '{moto_endpoint}', prefix = 'good/',
    error_output_prefix = 'failed/!{{firehose:error-output-type}}/!{{timestamp:yyyy}}/');
INSERT INTO out SELECT id, name FROM rows;
""",
    )
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr
    keys = download(s3, bucket, tmp_path / "got")
    good = [k for k in keys if k.startswith("good/")]
    assert sorted(pq.read_table(tmp_path / "got" / good[0]).column("id").to_pylist()) == [1, 3, 5]
    (error_key,) = [k for k in keys if k.startswith("failed/")]
    assert re.fullmatch(r"failed/format-conversion-failed/\d{4}/lake-out-.*-format-conversion-failed\.json", error_key)
    documents = [json.loads(x) for x in (tmp_path / "got" / error_key).read_text().splitlines()]
    assert sorted(base64.b64decode(d["rawData"]) for d in documents) == sorted([lines[1], lines[3]])
    for document in documents:
        assert document["errorCode"] == "format-conversion-failed" and document["errorMessage"]
        assert document["attemptsMade"] == 1
        assert isinstance(document["arrivalTimestamp"], int) and isinstance(document["attemptEndingTimestamp"], int)


def test_a_destination_down_past_retry_duration_fails_the_run(
    tmp_path: Path, bucket: str, s3_proxy: FaultProxy
) -> None:
    s3_proxy.add(Fault(is_put, status=503, body=SLOW_DOWN, times=None))
    pipeline = write_pipeline(
        tmp_path,
        clicks_source(100)
        + f"""
CREATE SINK raw WITH (connector = 's3', bucket = '{bucket}', endpoint_url = '{s3_proxy.url}',
    retry_duration = '1 s', retry_base_delay = '50 ms');
INSERT INTO raw SELECT * FROM clicks;
""",
    )
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 1
    assert "retry_duration of 1 s" in result.stderr and "SlowDown" in result.stderr
    assert s3_proxy.requests >= 3


def test_s3_options_are_checked_at_load(tmp_path: Path) -> None:
    pipeline = write_pipeline(
        tmp_path,
        clicks_source(10)
        + """
CREATE SINK raw WITH (connector = 's3', bucket = 'b', prefix = 'x/!{firehose:error-output-type}/');
INSERT INTO raw SELECT * FROM clicks;
""",
    )
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 2
    assert "lake.sql:7:" in result.stderr and "option 'prefix'" in result.stderr
    pipeline.write_text(
        clicks_source(10)
        + """
CREATE SINK raw WITH (connector = 's3', prefix = 'x/');
INSERT INTO raw SELECT * FROM clicks;
"""
    )
    result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 2 and "needs the option 'bucket'" in result.stderr


def test_staged_objects_are_promoted_once_and_orphans_discarded(
    tmp_path: Path, s3: Any, bucket: str, moto_endpoint: str
) -> None:
    from flowsql.delivery.s3 import S3Destination, S3Options

    destination = S3Destination(S3Options(bucket=bucket, endpoint_url=moto_endpoint))
    destination.use_staging(tmp_path / "raw", "clicks")
    staged = destination.stage("events/a.parquet", b"rows", "application/vnd.apache.parquet")
    orphan = destination.stage("events/b.parquet", b"lost", "application/vnd.apache.parquet")
    assert staged.startswith(".flowsql-staging/clicks/raw/") and staged.endswith(".parquet")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="events/")
    assert destination.promote(staged, "events/a.parquet") == f"s3://{bucket}/events/a.parquet"
    assert destination.promote(staged, "events/a.parquet") == f"s3://{bucket}/events/a.parquet"  # again: no-op
    assert s3.get_object(Bucket=bucket, Key="events/a.parquet")["Body"].read() == b"rows"
    assert destination.discard_staged(set()) == 1
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=".flowsql-staging/")
    from flowsql.errors import DeliveryError

    with pytest.raises(DeliveryError):
        destination.promote(orphan, "events/b.parquet")  # neither staged nor promoted: an error, not a no-op
