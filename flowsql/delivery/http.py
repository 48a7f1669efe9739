"""The HTTP endpoint sink: Firehose's HTTP delivery contract, request by request.

Each buffered batch becomes one or more POSTs under the size limit, each with a request id
derived from its records and their position in the sink's output: retries and replays of the
same records repeat it, other records never get it, so receivers can de-duplicate on it.
A batch the endpoint will not take within `retry_duration` goes to the error output as
`http-endpoint-failed`; nothing is dropped.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

import duckdb
import pyarrow as pa
import urllib3

from flowsql.delivery.buffer import Buffering, BufferOptions, DeliveryBuffer
from flowsql.delivery.destinations import Destination
from flowsql.delivery.encoders import encode_json_lines
from flowsql.delivery.error_output import CONTENT_TYPE as ERROR_CONTENT_TYPE
from flowsql.delivery.error_output import ErrorObject, ErrorOutput
from flowsql.delivery.prefix import Prefix
from flowsql.delivery.retry import (
    RetriesExhausted,
    RetryOptions,
    RetryPolicy,
    TransientError,
    call_with_retry,
    describe_error,
    log,
)
from flowsql.delivery.sink import SinkStats, oldest_time
from flowsql.delivery.transform_options import TransformOptions
from flowsql.delivery.transforming import TransformingBufferedDelivery
from flowsql.errors import DeliveryError
from flowsql.metrics import DeliveryReporter, ReportsMetrics
from flowsql.options import choice, size
from flowsql.records import BadRecord
from flowsql.secrets import scrub, secret_values

if TYPE_CHECKING:
    from flowsql.delivery.transform import TransformStage

PROTOCOL_VERSION = "1.0"
MAX_ACCESS_KEY_BYTES = 4096
# uuid5 namespace for request ids: the same pipeline, sink, position and records give the same id.
REQUEST_ID_NAMESPACE = uuid.UUID("6f0c7a52-3d43-5b7e-9a55-1c0f3f2d8e11")
_RECORD_OVERHEAD = len('{"data":""},')


@dataclass(frozen=True)
class HttpSinkOptions(TransformOptions, RetryOptions, BufferOptions):
    DEFAULT_BUFFERING: ClassVar[Buffering] = Buffering(5 * 1000**2, 60.0)  # Firehose's HTTP endpoint defaults

    connector: str = ""
    url: str = ""
    access_key: str = dataclasses.field(default="", repr=False)
    access_key_env: str = ""
    content_encoding: str = choice("none", "gzip")
    common_attributes: str = ""  # a JSON object of string values
    source_arn: str = ""
    ca_bundle: str = ""
    request_size_limit: int = size(4 * 1000**2)
    error_output_prefix: str = ""
    backup_path: str = ""
    backup_bucket: str = ""
    backup_endpoint_url: str = ""
    time_column: str = ""


@dataclass(frozen=True)
class Endpoint:
    """Where the sink delivers, as the run summary names it. A POST cannot be staged and
    promoted later, so the sink is checkpointed but not transactional: the endpoint's
    guarantee is at-least-once with request ids a replay repeats (docs/delivery.md)."""

    url: str

    def describe(self) -> str:
        return self.url


class PayloadTooLarge(Exception):
    """The endpoint answered 413: the request must be split, not repeated."""


class Throttled(TransientError):
    """The endpoint answered 429: worth another attempt, and counted as a throttle."""


def request_id(pipeline: str, sink: str, position: int, records: list[bytes]) -> str:
    """The id of a request carrying `records`, the first of them at `position` (rows taken
    before it) in the sink's output. The records' digest is part of it: a replay that cuts
    batches elsewhere sends other records from the same position, and those must not be taken
    for a repeat by a receiver that de-duplicates."""
    digest = hashlib.sha256(b"\n".join(records)).hexdigest()
    return str(uuid.uuid5(REQUEST_ID_NAMESPACE, f"{pipeline}/{sink}/{position}/{len(records)}/{digest}"))


def split_records(records: list[bytes], limit: int) -> list[list[bytes]]:
    """Group records into requests whose JSON body stays under `limit` bytes (a record larger
    than the limit travels alone: the endpoint's 413 then sends it to the error output)."""
    groups: list[list[bytes]] = []
    current: list[bytes] = []
    used = 0
    base = len('{"requestId":"00000000-0000-0000-0000-000000000000","timestamp":0000000000000,"records":[]}')
    for record in records:
        cost = 4 * ((len(record) + 2) // 3) + _RECORD_OVERHEAD
        if current and base + used + cost > limit:
            groups.append(current)
            current, used = [], 0
        current.append(record)
        used += cost
    if current:
        groups.append(current)
    return groups


def is_transient_http_error(exc: BaseException) -> bool:
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, urllib3.exceptions.SSLError):
        return False  # an untrusted certificate does not heal by waiting
    return isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError))


class HttpEndpointSink(TransformingBufferedDelivery):
    """Delivers query results to an HTTP endpoint as Firehose does."""

    def __init__(
        self,
        name: str,
        pipeline_name: str,
        options: HttpSinkOptions,
        schema: pa.Schema,
        access_key: str,
        common_attributes: dict[str, str],
        backup: Destination,
        error_prefix: Prefix,
        time_column: str = "",
    ) -> None:
        self.name = name
        self.pipeline_name = pipeline_name
        self.options = options
        self.schema = schema
        self.url = options.url
        self.destination = Endpoint(options.url)
        self._access_key = access_key
        self.common_attributes = common_attributes
        self.backup = backup
        self.error_prefix = error_prefix
        self.error_output = ErrorOutput(error_prefix, pipeline_name, name)
        self.time_column = time_column
        self.source_arn = options.source_arn or f"flowsql:pipeline/{pipeline_name}/sink/{name}"
        self.policy = RetryPolicy.from_options(options)
        self.reporter: DeliveryReporter | None = None
        # An endpoint's error body can echo what it was sent (the access key): it is scrubbed of these.
        self.secrets = secret_values([*dataclasses.asdict(options).items(), ("access_key", access_key)])
        self.http = urllib3.PoolManager(
            num_pools=2,
            maxsize=2,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=options.ca_bundle or None,
            timeout=urllib3.Timeout(connect=options.connect_timeout, read=options.read_timeout),
        )
        self.buffering = options.buffering
        self.buffer = DeliveryBuffer(self.buffering.size, self.buffering.interval)
        self.errors: list[BadRecord] = []
        self.rows_taken = 0
        self.errors_taken = 0
        self.stats = SinkStats()
        self.delivered: list[str] = []
        self._con = duckdb.connect()

    def __repr__(self) -> str:
        return f"HttpEndpointSink({self.name!r}, url={self.url!r})"

    def bind_metrics(self, reporter: DeliveryReporter) -> None:
        self.reporter = reporter
        if isinstance(self.backup, ReportsMetrics):
            self.backup.bind_metrics(reporter)

    def describe(self) -> str:
        return self.url

    def explain_lines(self) -> list[str]:
        return self.transform_lines()

    def use_transform(self, stage: TransformStage) -> None:
        super().use_transform(stage)
        # Failed batches are named by each record's approximateArrivalTimestamp, as Firehose does.
        self.time_column = stage.rows.hidden[0]

    def flush(self, wall_time: datetime | None = None) -> list[str]:
        wall = wall_time or datetime.now(UTC)
        self.transform_pending()
        table = self.buffer.take()
        if table is None and not self.errors:
            return []
        done: list[str] = []
        if table is not None:
            position, self.rows_taken = self.rows_taken, self.rows_taken + table.num_rows
            encoded = self.output_records(table, self._json_lines)
            # Failed batches are named by the rows' own time, so a replay overwrites its backup.
            when = oldest_time(table, self.time_column, wall)
            for group in split_records(encoded, self.options.request_size_limit):
                done.extend(self._deliver(group, position, when))
                position += len(group)
        if self.errors:
            errors, self.errors = self.errors, []
            position, self.errors_taken = self.errors_taken, self.errors_taken + len(errors)
            done.extend(
                self._write_backup(item) for item in self.error_output.objects(errors, position, datetime.now(UTC))
            )
        self.delivered.extend(done)
        return done

    def _json_lines(self, table: pa.Table) -> list[bytes]:
        return [line.encode() for line in encode_json_lines(self._con, table).decode().splitlines()]

    # Checkpoints: the buffer and the positions survive a restart (BufferedDelivery.snapshot),
    # so a replayed batch of the same records carries the request ids it had before.

    # -- one request -------------------------------------------------------------------------
    def _deliver(self, records: list[bytes], position: int, when: datetime) -> list[str]:
        rid = request_id(self.pipeline_name, self.name, position, records)
        what = f"POST {self.url} (request {rid})"
        try:
            sent = call_with_retry(
                lambda: self._post(records, rid),
                self.policy,
                what,
                is_transient_http_error,
                reporter=self.reporter,
                is_throttle=lambda exc: isinstance(exc, Throttled),
                secrets=self.secrets,
            )
        except PayloadTooLarge:
            if len(records) == 1:
                return [self._fail(records, rid, "the endpoint answered 413 to a single record", when)]
            half = len(records) // 2
            log.warning("%s: 413 Payload Too Large; splitting %d records in two", what, len(records))
            return self._deliver(records[:half], position, when) + self._deliver(records[half:], position + half, when)
        except RetriesExhausted as exc:
            return [self._fail(records, rid, str(exc), when, exc.attempts)]
        except Exception as exc:
            if not isinstance(exc, (urllib3.exceptions.HTTPError, OSError)):
                raise
            # A refused certificate or a bad URL: keep the batch, then stop the run loudly.
            reason = scrub(describe_error(exc), self.secrets)
            self._fail(records, rid, reason, when)
            raise DeliveryError(
                f"{what} failed and will not succeed by retrying: {reason}; the batch went to the error output"
            ) from exc
        self.stats.rows += len(records)
        self.stats.objects += 1
        self.stats.bytes += sent
        return [rid]

    def _post(self, records: list[bytes], rid: str) -> int:
        """One attempt; returns the body's size when the endpoint took it."""
        body = json.dumps(
            {
                "requestId": rid,
                "timestamp": int(time.time() * 1000),
                "records": [{"data": base64.b64encode(r).decode("ascii")} for r in records],
            },
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Amz-Firehose-Protocol-Version": PROTOCOL_VERSION,
            "X-Amz-Firehose-Request-Id": rid,
            "X-Amz-Firehose-Source-Arn": self.source_arn,
            "User-Agent": "flowsql",
        }
        if self._access_key:
            headers["X-Amz-Firehose-Access-Key"] = self._access_key
        if self.common_attributes:
            headers["X-Amz-Firehose-Common-Attributes"] = json.dumps({"commonAttributes": self.common_attributes})
        if self.options.content_encoding == "gzip":
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        response = self.http.request("POST", self.url, body=body, headers=headers, redirect=False)
        if response.status == 413:
            raise PayloadTooLarge()
        if response.status == 429:
            raise Throttled(f"HTTP 429: {_answer_text(response.data)}")
        if response.status != 200:
            raise TransientError(f"HTTP {response.status}: {_answer_text(response.data)}")
        try:
            answer = json.loads(response.data or b"{}")
        except ValueError:
            raise TransientError("HTTP 200 with a body that is not JSON") from None
        if not isinstance(answer, dict) or answer.get("requestId") != rid:
            raise TransientError("HTTP 200 without the requestId echoed: not counted as delivered")
        return len(body)

    # -- the error output --------------------------------------------------------------------
    def _fail(self, records: list[bytes], rid: str, reason: str, when: datetime, attempts: int = 1) -> str:
        reason = scrub(reason, self.secrets)  # it goes into the error output's errorMessage
        bad = [
            BadRecord(self.name, "http-endpoint-failed", reason, r, position=f"request {rid}", arrival_time=when)
            for r in records
        ]
        if self.reporter is not None:
            self.reporter.failure(f"{len(records)} records to the error output after: {reason}")
        else:
            log.error("sink '%s': %d records to the error output after: %s", self.name, len(records), reason)
        return self._write_backup(
            self.error_output.object(bad, "http-endpoint-failed", rid, datetime.now(UTC), attempts)
        )

    def _write_backup(self, item: ErrorObject) -> str:
        where = self.backup.write(item.key, item.data, ERROR_CONTENT_TYPE)
        self.stats.errors += item.records
        return where


def _answer_text(data: bytes) -> str:
    try:
        answer = json.loads(data)
        if isinstance(answer, dict) and answer.get("errorMessage"):
            return str(answer["errorMessage"])[:200]
    except ValueError:
        pass
    return data[:200].decode(errors="replace")


def resolve_access_key(options: HttpSinkOptions) -> str:
    if options.access_key and options.access_key_env:
        raise ValueError("set access_key or access_key_env, not both")
    key = options.access_key
    if options.access_key_env:
        if options.access_key_env not in os.environ:
            raise ValueError(f"the environment variable {options.access_key_env} is not set")
        key = os.environ[options.access_key_env]
    if len(key.encode()) > MAX_ACCESS_KEY_BYTES:
        raise ValueError(f"an access key is at most {MAX_ACCESS_KEY_BYTES} bytes")
    return key


def parse_common_attributes(text: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        raise ValueError('common_attributes is a JSON object of strings, such as \'{"team": "web"}\'') from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError('common_attributes is a JSON object of strings, such as \'{"team": "web"}\'')
    return value


__all__ = ["HttpEndpointSink", "HttpSinkOptions", "request_id", "split_records"]
