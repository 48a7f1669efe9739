"""The options of a sink's Firehose transformation handler, the same on every sink that takes one."""

from __future__ import annotations

from dataclasses import dataclass

from flowsql.options import duration, size


@dataclass(frozen=True)
class TransformOptions:
    # A Firehose transformation handler ('module:function' or 'file.py:function'), see transform.py.
    transform: str = ""
    transform_buffer_size: int = size(1000**2)  # Firehose's default Lambda buffering hints
    transform_buffer_interval: float = duration(60.0)
    transform_retries: int = 3  # Firehose's default NumberOfRetries
    transform_timeout: float = duration(60.0)  # what the context's remaining time counts down from
    transform_schema: str = ""  # columns the transformed records are read into
