"""The Kinesis client flowsql uses, and the rules for which failures are worth another try.

botocore's own retries are off: the reader and the producer retry themselves, with capped
backoff and full jitter, so a throttled shard waits without holding up anything else.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from flowsql import aws

# Kinesis answers these when a shard or the account is over its limits, or is briefly unwell.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ThrottlingException",
        "KMSThrottlingException",
    }
)
NETWORK_ERRORS = (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError, ConnectionClosedError)


def kinesis_client(region: str = "", endpoint_url: str = "", pool_size: int = 32, read_timeout: float = 15.0) -> Any:
    """A Kinesis client with short timeouts (SDK defaults wait a minute on a dead connection),
    one connection per shard reader, and botocore's retries off (see the module docstring)."""
    return aws.client(
        "kinesis",
        region or aws.configured_region() or "us-east-1",
        endpoint_url,
        connect_timeout=5.0,
        read_timeout=read_timeout,
        max_attempts=1,
        pool_size=pool_size,
    )


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    """Throttling, limits, 5xx answers and network timeouts: worth another try after a wait."""
    if isinstance(exc, NETWORK_ERRORS):
        return True
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return error_code(exc) in RETRYABLE_CODES or status >= 500
    return False


class Backoff:
    """Capped exponential backoff with full jitter: wait a random time in [0, min(cap, base*2^n))."""

    def __init__(self, base: float = 0.1, cap: float = 5.0) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0

    def next_wait(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt += 1
        return random.uniform(0, ceiling)

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Sleep the next wait; True when `stop` was set meanwhile."""
        seconds = self.next_wait()
        if stop is None:
            threading.Event().wait(seconds)
            return False
        return stop.wait(seconds)

    def reset(self) -> None:
        self.attempt = 0
