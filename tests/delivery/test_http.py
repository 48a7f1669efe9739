"""The http sink against a receiver that checks Firehose's HTTP delivery contract, with faults
injected by a proxy between them and by the receiver itself."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from flowsql.delivery.http import request_id
from tests.conftest import run_cli
from tests.delivery.conftest import clicks_source
from tests.servers.fault_proxy import Fault, FaultProxy
from tests.servers.firehose_receiver import FirehoseReceiver, ReceiverState

ACCESS_KEY = "fh-key-7d1c9b2e-NEVER-LOGGED"


def is_post(method: str, path: str, headers: dict[str, str], body: bytes) -> bool:
    return method == "POST"


def write_pipeline(tmp_path: Path, count: int, sink_options: str, batch_size: int = 1_000) -> Path:
    path = tmp_path / "to_http.sql"
    path.write_text(
        clicks_source(count, batch_size=batch_size)
        + f"""
CREATE SINK endpoint WITH (connector = 'http', {sink_options});
INSERT INTO endpoint SELECT event_id, event_type, price, ts FROM clicks;
"""
    )
    return path


def event_ids(receiver: FirehoseReceiver) -> list[int]:
    return sorted(row["event_id"] for row in receiver.rows())  # type: ignore[misc]


@pytest.mark.slow
def test_contract_holds_through_faults_and_every_record_arrives_once(tmp_path: Path) -> None:
    state = ReceiverState(
        access_key=ACCESS_KEY,
        common_attributes={"team": "web", "env": "test"},
        gzip=True,
        fail_statuses=[503],
        wrong_echo=1,
    )
    with FirehoseReceiver(state) as receiver, FaultProxy(receiver.url.rsplit("/", 1)[0]) as proxy:
        # The 413 comes first: a 413 to a retry of a request that had already arrived would make
        # its halves new requests, a duplicate no request id can reveal (see docs/delivery.md).
        faults = [
            proxy.add(Fault(is_post, status=413)),  # split in two and sent again
            proxy.add(Fault(is_post, status=500, body=b'{"errorMessage": "boom"}')),
            proxy.add(Fault(is_post, reset=True)),
            proxy.add(Fault(is_post, delay=1.5)),  # the answer comes after read_timeout: retried, same id
        ]
        pipeline = write_pipeline(
            tmp_path,
            6_000,
            f"""url = '{proxy.url}/ingest', access_key_env = 'ENDPOINT_KEY',
            content_encoding = 'gzip', common_attributes = '{{"team": "web", "env": "test"}}', read_timeout = '0.5 s',
            retry_base_delay = '20 ms', buffer_size = '60 KB', request_size_limit = '100 KB', backup_path = 'failed'""",
        )
        result = run_cli("run", str(pipeline), cwd=tmp_path, env={"ENDPOINT_KEY": ACCESS_KEY})
    assert result.code == 0, result.stderr
    assert state.violations == []
    assert [f.fired for f in faults] == [1, 1, 1, 1]
    assert event_ids(receiver) == list(range(6_000))  # every record once, although some requests came twice
    assert state.repeats >= 2  # the slow request and the one whose answer lacked the echo
    assert not (tmp_path / "failed").exists()
    # Request ids are derived from the records and their position in the sink's output; retries repeat them.
    seen = [h["x-amz-firehose-request-id"] for h in state.headers_seen]
    assert len(set(seen)) < len(seen)
    position = 0
    for rid in state.order:
        assert rid == request_id("to_http", "endpoint", position, state.batches[rid])
        position += len(state.batches[rid])
    assert ACCESS_KEY not in result.stderr + result.stdout


def test_request_ids_are_the_same_on_a_replay(tmp_path: Path) -> None:
    runs = []
    for extra in ([], ["--reset"]):  # the second run throws the checkpoint away and replays it all
        with FirehoseReceiver() as receiver:
            pipeline = write_pipeline(
                tmp_path, 3_000, f"url = '{receiver.url}', buffer_size = '50 KB', backup_path = 'failed'"
            )
            assert run_cli("run", str(pipeline), *extra, cwd=tmp_path).code == 0
        assert receiver.state.violations == []
        runs.append(list(receiver.state.order))
    assert runs[0] == runs[1] and len(runs[0]) > 1
    first = runs[0][0]
    assert first == request_id("to_http", "endpoint", 0, receiver.state.batches[first])


def test_413_splits_the_body_until_it_fits(tmp_path: Path) -> None:
    state = ReceiverState(max_body=20_000)
    with FirehoseReceiver(state) as receiver:
        pipeline = write_pipeline(
            tmp_path,
            4_000,
            f"url = '{receiver.url}', request_size_limit = '1 MB', backup_path = 'failed'",
            batch_size=4_000,
        )
        result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert state.too_large >= 3 and state.violations == []
    assert event_ids(receiver) == list(range(4_000))
    assert "413" in result.stderr


def test_spent_retry_duration_sends_the_batch_to_the_backup_and_never_logs_the_key(tmp_path: Path) -> None:
    state = ReceiverState(access_key=ACCESS_KEY, fail_statuses=[500] * 10_000)
    with FirehoseReceiver(state) as receiver:
        pipeline = write_pipeline(
            tmp_path,
            500,
            f"""url = '{receiver.url}', access_key = '{ACCESS_KEY}',
            retry_duration = '1 s', retry_base_delay = '50 ms', backup_path = 'failed', time_column = 'ts'""",
        )
        result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert state.batches == {} and state.requests >= 3
    assert "retrying" in result.stderr and "500" in result.stderr
    files = sorted((tmp_path / "failed").rglob("*.json"))
    assert files and all("/errors/http-endpoint-failed/2024/01/01/00/" in str(f) for f in files)
    documents = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    rows = [json.loads(base64.b64decode(d["rawData"])) for d in documents]
    assert sorted(r["event_id"] for r in rows) == list(range(500))
    assert {d["errorCode"] for d in documents} == {"http-endpoint-failed"}
    assert "HTTP 500" in documents[0]["errorMessage"]
    assert "500 error records" in result.stderr
    everything = result.stderr + result.stdout + "".join(f.read_text() for f in files)
    assert ACCESS_KEY not in everything


def make_certificate(folder: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, made for this test only."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "endpoint.pem", folder / "endpoint.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def test_tls_is_verified_unless_a_ca_bundle_trusts_the_endpoint(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    certificate = make_certificate(tmp_path)
    with FirehoseReceiver(certificate=certificate) as receiver:
        assert receiver.url.startswith("https://")
        pipeline = write_pipeline(tmp_path, 200, f"url = '{receiver.url}', backup_path = 'failed'")
        refused = run_cli("run", str(pipeline), cwd=tmp_path)
        assert refused.code == 1
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr and "went to the error output" in refused.stderr
        assert receiver.records() == []
        kept = [json.loads(line) for f in (tmp_path / "failed").rglob("*.json") for line in f.read_text().splitlines()]
        assert len(kept) == 200  # refused, but not dropped

        pipeline = write_pipeline(
            tmp_path, 200, f"url = '{receiver.url}', ca_bundle = '{certificate[0]}', backup_path = 'failed2'"
        )
        trusted = run_cli("run", str(pipeline), cwd=tmp_path)
    assert trusted.code == 0, trusted.stderr
    assert event_ids(receiver) == list(range(200)) and receiver.state.violations == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("url = 'http://127.0.0.1:9/'", "needs backup_path or backup_bucket"),
        ("url = 'ftp://host/', backup_path = 'f'", "option 'url': needs an http:// or https:// URL"),
        ("url = 'http://user:pw@host/', backup_path = 'f'", "must not carry credentials"),
        ("url = 'http://h/', access_key_env = 'NO_SUCH_KEY_VAR', backup_path = 'f'", "NO_SUCH_KEY_VAR is not set"),
        ("url = 'http://h/', common_attributes = '[1]', backup_path = 'f'", "option 'common_attributes'"),
        ("url = 'http://h/', content_encoding = 'br', backup_path = 'f'", "allowed: none, gzip"),
        (
            "url = 'http://h/', backup_path = 'f', error_output_prefix = 'e/!{timestamp:yyyy}/'",
            "must hold !{firehose:error-output-type}",
        ),
    ],
)
def test_http_options_are_checked_at_load(tmp_path: Path, options: str, message: str) -> None:
    from flowsql.errors import ConfigError
    from flowsql.pipeline.parser import load_pipeline
    from flowsql.runner import PipelineRun

    with pytest.raises(ConfigError) as caught:
        PipelineRun(load_pipeline(write_pipeline(tmp_path, 10, options)))
    assert message in str(caught.value)


def test_failed_batches_can_go_to_an_s3_backup(tmp_path: Path, s3: Any, bucket: str, moto_endpoint: str) -> None:
    state = ReceiverState(fail_statuses=[503] * 10_000)
    with FirehoseReceiver(state) as receiver:
        pipeline = write_pipeline(
            tmp_path,
            300,
            f"""url = '{receiver.url}', retry_duration = '0.5 s',
            retry_base_delay = '50 ms', backup_bucket = '{bucket}', backup_endpoint_url = '{moto_endpoint}',
            error_output_prefix = 'endpoint-failures/!{{firehose:error-output-type}}/'""",
        )
        result = run_cli("run", str(pipeline), cwd=tmp_path)
    assert result.code == 0, result.stderr
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys and all(k.startswith("endpoint-failures/http-endpoint-failed/to_http-endpoint-") for k in keys)
    documents = [
        json.loads(line)
        for k in keys
        for line in s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode().splitlines()
    ]
    assert sorted(json.loads(base64.b64decode(d["rawData"]))["event_id"] for d in documents) == list(range(300))
    assert all("HTTP 503" in d["errorMessage"] and d["attemptsMade"] >= 2 for d in documents)
