"""A handler as Lambda runs it: found from `module:function` or `path/to/file.py:function`
(flowsql/user_code.py), and called with a context object carrying the attributes a Lambda
handler reads (function name, request id, remaining time, ...)."""

from __future__ import annotations

import hashlib
import time
import uuid

from flowsql.user_code import Handler, HandlerError, load_handler

__all__ = ["Handler", "HandlerError", "LambdaContext", "load_handler", "stable_uuid"]


class LambdaContext:
    """What Lambda's Python runtime passes as `context`. The remaining time counts down from
    `timeout_seconds` (the function's configured timeout); the handler is not stopped when it
    runs out, so results never depend on how fast the machine is."""

    function_version = "$LATEST"
    memory_limit_in_mb = "128"
    identity = None
    client_context = None
    tenant_id = None

    def __init__(self, function_name: str, region: str, account: str, request_id: str, timeout_seconds: float) -> None:
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"flowsql/[$LATEST]{request_id.replace('-', '')}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def stable_uuid(*parts: object) -> str:
    """A UUID (version 4 layout) derived from `parts`: the same parts give the same id, so a
    replay after a restart invokes the handler with the ids the first run used."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))
