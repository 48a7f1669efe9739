"""Builds an `http` sink from its declaration: options checked at load, each error naming the
option, and the error output (a local folder or an S3 bucket) every failed batch lands in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pyarrow as pa

from flowsql.delivery.destinations import Destination, LocalDestination
from flowsql.delivery.http import HttpEndpointSink, HttpSinkOptions, parse_common_attributes, resolve_access_key
from flowsql.delivery.prefix import DEFAULT_ERROR_PREFIX, PrefixError, parse_prefix
from flowsql.delivery.sink import _option_error, time_column_of
from flowsql.errors import ConfigError
from flowsql.options import bind_options
from flowsql.pipeline.model import SinkDecl


def build_http_sink(decl: SinkDecl, pipeline_name: str, schema: pa.Schema) -> HttpEndpointSink:
    options = bind_options(HttpSinkOptions, list(decl.options), f"sink '{decl.name}' (http)")
    where = urlsplit(options.url)
    if where.scheme not in ("http", "https") or not where.hostname:
        raise _option_error(decl, "url", "needs an http:// or https:// URL")
    if where.username or where.password:
        raise _option_error(decl, "url", "must not carry credentials; use access_key_env")
    try:
        access_key = resolve_access_key(options)
    except ValueError as exc:
        raise _option_error(decl, "access_key_env" if options.access_key_env else "access_key", str(exc)) from None
    try:
        attributes = parse_common_attributes(options.common_attributes)
    except ValueError as exc:
        raise _option_error(decl, "common_attributes", str(exc)) from None
    try:
        error_prefix = parse_prefix(options.error_output_prefix or DEFAULT_ERROR_PREFIX, error_prefix=True)
    except PrefixError as exc:
        raise _option_error(decl, "error_output_prefix", str(exc)) from None
    time_column = time_column_of(decl, options.time_column, schema)
    sink = HttpEndpointSink(
        decl.name,
        pipeline_name,
        options,
        schema,
        access_key,
        attributes,
        _backup(decl, options),
        error_prefix,
        time_column,
    )
    if options.transform:
        from flowsql.delivery.transform_config import build_transform

        # An endpoint gets the handler's records as they are, as Firehose sends them on.
        sink.use_transform(
            build_transform(decl, options, pipeline_name, schema, time_column, (), records_as_they_are=True)
        )
    return sink


def _backup(decl: SinkDecl, options: HttpSinkOptions) -> Destination:
    """Firehose keeps failed batches in S3; here that is a bucket or a local folder, and one of
    them is required, because a batch the endpoint refuses must land somewhere."""
    if options.backup_bucket and options.backup_path:
        raise _option_error(decl, "backup_path", "set backup_bucket or backup_path, not both")
    if options.backup_path:
        return LocalDestination(options.backup_path)
    if options.backup_bucket:
        from flowsql.delivery.s3 import S3Destination, S3Options

        return S3Destination(
            S3Options(
                bucket=options.backup_bucket,
                endpoint_url=options.backup_endpoint_url,
                retry_duration=options.retry_duration,
                connect_timeout=options.connect_timeout,
                read_timeout=options.read_timeout,
                retry_base_delay=options.retry_base_delay,
                retry_max_delay=options.retry_max_delay,
            )
        )
    raise ConfigError(
        f"sink '{decl.name}' (http) needs backup_path or backup_bucket: batches the endpoint does not "
        "accept within retry_duration go there as http-endpoint-failed",
        decl.location,
        hint="add backup_path = 'failed/' (a local folder) or backup_bucket = 'my-bucket'",
    )
