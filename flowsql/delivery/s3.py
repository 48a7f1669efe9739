"""The S3 destination: one object per key with boto3, multipart above a size threshold,
server-side encryption passed through, every call (List, Head, Put, Copy, Delete, multipart)
retried by delivery/retry.py within the sink's `retry_duration`.

The client comes from flowsql/aws.py with botocore's own retries off: the time-bounded loop
here logs each retry and rides out outages longer than a few attempts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    IncompleteReadError,
    ResponseStreamingError,
    SSLError,
)

from flowsql import aws
from flowsql.delivery.destinations import is_staged_name, staged_name
from flowsql.delivery.prefix import STAGING_ROOT, sanitise_value
from flowsql.delivery.retry import RetryOptions, RetryPolicy, call_with_retry, describe_error, log
from flowsql.delivery.sink import SinkOptions
from flowsql.errors import DeliveryError
from flowsql.metrics import DeliveryReporter
from flowsql.options import choice, size
from flowsql.secrets import scrub, secret_values

_MIB = 1024**2
# S3 refuses parts under 5 MiB except the last, and allows at most 10,000 parts.
MIN_PART_SIZE = 5 * _MIB
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "RequestLimitExceeded",
    "TooManyRequestsException",
}
# Of those, the answers that refuse for throughput (counted as throttles).
_THROTTLE_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}


@dataclass(frozen=True)
class S3Options(RetryOptions):
    """Where and how objects go to S3 (mixed into the s3 sink's options)."""

    bucket: str = ""
    endpoint_url: str = ""
    region: str = ""
    server_side_encryption: str = choice("none", "aes256", "aws:kms")
    kms_key_id: str = ""
    multipart_threshold: int = size(16 * _MIB)
    multipart_part_size: int = size(8 * _MIB)


@dataclass(frozen=True)
class S3SinkOptions(SinkOptions, S3Options):
    pass


def is_transient_s3_error(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return error.get("Code") in _TRANSIENT_CODES or status >= 500 or status == 429
    if isinstance(exc, SSLError):
        return False  # a certificate problem does not heal by waiting
    # Missing credentials or a bad parameter are BotoCoreErrors too, but waiting will not fix them.
    return isinstance(exc, (ConnectionError, HTTPClientError, IncompleteReadError, ResponseStreamingError))


def is_s3_throttle(exc: BaseException) -> bool:
    if not isinstance(exc, ClientError):
        return False
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return exc.response.get("Error", {}).get("Code") in _THROTTLE_CODES or status == 429


def make_s3_client(options: S3Options) -> Any:
    return aws.client(
        "s3",
        options.region,
        options.endpoint_url,
        connect_timeout=options.connect_timeout,
        read_timeout=options.read_timeout,
        max_attempts=1,
    )


def _is_missing(exc: BaseException) -> bool:
    """A 404 (NoSuchKey on GET and copy, a bare 404 on HEAD), as opposed to any other failure."""
    if not isinstance(exc, ClientError):
        return False
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound") or status == 404


class S3Destination:
    """Objects in one bucket; a key written again is replaced, which makes replays idempotent."""

    def __init__(self, options: S3Options, client: Any | None = None) -> None:
        if options.multipart_part_size < MIN_PART_SIZE:
            raise ValueError(f"multipart_part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum)")
        self.options = options
        self.bucket = options.bucket
        self.client = client or make_s3_client(options)
        self.policy = RetryPolicy.from_options(options)
        self.reporter: DeliveryReporter | None = None
        # S3's error messages can echo what they were sent: they are scrubbed of these.
        self.secrets = secret_values(dataclasses.asdict(options).items())
        self.staging_prefix: str | None = None
        self.encryption: dict[str, str] = {}
        if options.server_side_encryption == "aes256":
            self.encryption = {"ServerSideEncryption": "AES256"}
        elif options.server_side_encryption == "aws:kms":
            self.encryption = {"ServerSideEncryption": "aws:kms"}
            if options.kms_key_id:
                self.encryption["SSEKMSKeyId"] = options.kms_key_id

    def describe(self) -> str:
        return f"s3://{self.bucket}/"

    def bind_metrics(self, reporter: DeliveryReporter) -> None:
        self.reporter = reporter

    def write(self, key: str, data: bytes, content_type: str) -> str:
        with self._counting_failure():
            self._put(key, data, content_type)
        return f"s3://{self.bucket}/{key}"

    @contextmanager
    def _counting_failure(self) -> Iterator[None]:
        """A delivery that failed (retries spent, or refused for good) counts as a failure."""
        try:
            yield
        except DeliveryError as exc:
            if self.reporter is not None:
                self.reporter.failure(str(exc))
            raise

    # -- staging for checkpoints (see flowsql/checkpoint) -------------------------------------
    def use_staging(self, folder: Path, pipeline: str) -> None:
        self.staging_prefix = f"{STAGING_ROOT}{sanitise_value(pipeline)}/{sanitise_value(folder.name)}/"

    def stage(self, key: str, data: bytes, content_type: str) -> str:
        if self.staging_prefix is None:
            raise DeliveryError("staging needs use_staging() first")
        staged = self.staging_prefix + staged_name(key)
        with self._counting_failure():
            self._put(staged, data, content_type)
        return staged

    def promote(self, staged: str, key: str) -> str:
        """Copy the staged object to its key, then delete it; a second call finds the staged
        object gone and the key present, and does nothing."""
        what = f"promote s3://{self.bucket}/{staged} to {key}"
        with self._counting_failure():
            try:
                self._call(
                    lambda: self.client.copy_object(
                        Bucket=self.bucket,
                        Key=key,
                        CopySource={"Bucket": self.bucket, "Key": staged},
                        **self.encryption,
                    ),
                    what,
                )
            except (ClientError, BotoCoreError) as exc:
                if not _is_missing(exc):
                    raise DeliveryError(f"{what} failed: {self._describe(exc)}") from exc
                if not self._exists(key):
                    raise DeliveryError(
                        f"{what} failed: the staged object is gone and {key} was never written ({self._describe(exc)})"
                    ) from exc
                return f"s3://{self.bucket}/{key}"
        self._retry(lambda: self.client.delete_object(Bucket=self.bucket, Key=staged), f"DELETE {staged}")
        return f"s3://{self.bucket}/{key}"

    def discard_staged(self, keep: set[str]) -> int:
        """Delete staged objects no checkpoint names. Only names stage() makes are touched, so an
        object some prefix put under the staging folder is never taken for an orphan."""
        if self.staging_prefix is None:
            return 0
        removed = 0
        for key in self._list(self.staging_prefix):
            if key not in keep and is_staged_name(key.removeprefix(self.staging_prefix)):
                self._retry(partial(self.client.delete_object, Bucket=self.bucket, Key=key), f"DELETE {key}")
                removed += 1
        return removed

    def remove_named(self, under: str, name_start: str) -> int:
        removed = 0
        for key in self._list(under):
            staged = self.staging_prefix is not None and key.startswith(self.staging_prefix)
            if not staged and key.rsplit("/", 1)[-1].startswith(name_start):
                self._retry(partial(self.client.delete_object, Bucket=self.bucket, Key=key), f"DELETE {key}")
                removed += 1
        return removed

    def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = self._retry(
                partial(self.client.list_objects_v2, Bucket=self.bucket, Prefix=prefix, **token),
                f"LIST s3://{self.bucket}/{prefix}",
            )
            keys.extend(item["Key"] for item in page.get("Contents", []))
            if not page.get("IsTruncated"):
                return keys
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def _exists(self, key: str) -> bool:
        """True when `key` is there, False on 404; any other failure is retried, then raised."""
        try:
            self._retry(lambda: self.client.head_object(Bucket=self.bucket, Key=key), f"HEAD s3://{self.bucket}/{key}")
            return True
        except DeliveryError as exc:
            if exc.__cause__ is not None and _is_missing(exc.__cause__):
                return False
            raise

    def _put(self, key: str, data: bytes, content_type: str) -> None:
        if len(data) >= self.options.multipart_threshold:
            self._multipart(key, data, content_type)
        else:
            self._retry(
                lambda: self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **self.encryption
                ),
                f"PUT s3://{self.bucket}/{key}",
            )

    def _retry(self, action: Any, what: str) -> Any:
        try:
            return self._call(action, what)
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryError(f"{what} failed: {self._describe(exc)}") from exc

    def _call(self, action: Any, what: str) -> Any:
        return call_with_retry(
            action,
            self.policy,
            what,
            is_transient_s3_error,
            reporter=self.reporter,
            is_throttle=is_s3_throttle,
            secrets=self.secrets,
        )

    def _describe(self, exc: BaseException) -> str:
        return scrub(describe_error(exc), self.secrets)

    def _multipart(self, key: str, data: bytes, content_type: str) -> None:
        what = f"multipart upload s3://{self.bucket}/{key}"
        started = self._retry(
            lambda: self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ContentType=content_type, **self.encryption
            ),
            what,
        )
        upload_id = started["UploadId"]
        part_size = max(self.options.multipart_part_size, -(-len(data) // 10_000))
        try:
            parts = []
            for number, start in enumerate(range(0, len(data), part_size), start=1):
                chunk = data[start : start + part_size]
                upload = partial(
                    self.client.upload_part,
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                )
                answer = self._retry(upload, f"{what} part {number}")
                parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            self._retry(
                lambda: self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                ),
                what,
            )
        except BaseException:
            self._abort(key, upload_id)
            raise

    def _abort(self, key: str, upload_id: str) -> None:
        # Left alone, an unfinished upload's parts are billed until a lifecycle rule drops them.
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not abort multipart upload of s3://%s/%s: %s", self.bucket, key, self._describe(exc))
