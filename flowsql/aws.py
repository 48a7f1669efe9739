"""The one place boto3 clients are built: region, endpoint, per-attempt timeouts and botocore's
retry policy, so every AWS call (S3, Glue, DynamoDB, ...) is retried the same way.

Credentials, region and endpoint otherwise come from boto3's standard chain (environment,
`AWS_ENDPOINT_URL[_SERVICE]`, config files, roles).
"""

from __future__ import annotations

from typing import Any

# botocore's "standard" mode retries throttling, 5xx answers, resets and timeouts with capped
# exponential backoff; five attempts ride out a single bad answer without hiding an outage.
DEFAULT_ATTEMPTS = 5
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 15.0
RETRY_MODES = ("standard", "adaptive")


def client(
    service: str,
    region: str = "",
    endpoint_url: str = "",
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_attempts: int = DEFAULT_ATTEMPTS,
    retry_mode: str = "standard",
    pool_size: int | None = None,
) -> Any:
    """A boto3 client for `service`; empty `region` or `endpoint_url` leave boto3's own settings.
    `max_attempts` counts the first attempt: 1 turns botocore's retries off, for callers that
    run their own time-bounded loop around each call (delivery/retry.py, the Kinesis reader and
    producer). `pool_size` is how many connections it keeps (botocore's default: 10)."""
    if retry_mode not in RETRY_MODES:
        raise ValueError(f"retry_mode is one of {', '.join(RETRY_MODES)} (got {retry_mode!r})")
    if max_attempts < 1:
        raise ValueError(f"max_attempts is at least 1 (got {max_attempts})")
    # Imported here: boto3 and botocore take about 0.1 s to import, which runs without AWS never need.
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        retries={"mode": retry_mode, "total_max_attempts": max_attempts},
        **({"max_pool_connections": pool_size} if pool_size else {}),
    )
    # A session per client: boto3's default session is not safe to share between threads.
    return boto3.session.Session().client(
        service, region_name=region or None, endpoint_url=endpoint_url or None, config=config
    )


def configured_region() -> str:
    """The region boto3's chain gives (environment, config files), or '' when none is set."""
    import boto3

    return boto3.session.Session().region_name or ""
