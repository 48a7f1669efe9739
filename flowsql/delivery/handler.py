"""A transformation handler as Lambda runs it: found from `module:function` or
`path/to/file.py:function`, and called with a context object carrying the attributes a
Lambda handler reads (function name, request id, remaining time, ...)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[dict[str, Any], Any], Any]


class HandlerError(ValueError):
    """A handler that cannot be found or loaded; the message says which and why."""


def load_handler(spec: str, base: Path) -> tuple[Handler, str]:
    """The function `spec` names, and a description of where it was found. A file path is taken
    relative to `base` (the folder of the file the option was written in); its folder goes on
    the import path, as a Lambda function's task root does, so the handler's own imports work."""
    module_part, _, function = spec.rpartition(":")
    if not module_part or not function.isidentifier():
        raise HandlerError(f"{spec!r} must be 'package.module:function' or 'path/to/file.py:function'")
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        path = (base / module_part).resolve()
        if not path.is_file():
            raise HandlerError(f"handler file {path} does not exist")
        module = _load_file(path)
        where = str(path)
    else:
        module = _import(module_part, base)
        where = getattr(module, "__file__", None) or module_part  # built-in modules have no file
    handler = getattr(module, function, None)  # the user's module, loaded by name: probing it is the point
    if handler is None:
        raise HandlerError(f"{where} defines no function {function!r}")
    if not callable(handler):
        raise HandlerError(f"{function!r} in {where} is not a function")
    return handler, f"{where}:{function}"


def _load_file(path: Path) -> Any:
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    # One module per file (two sinks may use files of the same name from different folders).
    name = f"_flowsql_handler_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HandlerError(f"{path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise HandlerError(f"loading {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _import(name: str, base: Path) -> Any:
    folder = str(base.resolve())
    if folder not in sys.path:
        sys.path.append(folder)  # a module beside the pipeline; installed packages come first
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise HandlerError(f"no module {name!r} on the import path or beside the pipeline ({exc})") from exc
    except Exception as exc:
        raise HandlerError(f"importing {name!r} failed: {type(exc).__name__}: {exc}") from exc


class LambdaContext:
    """What Lambda's Python runtime passes as `context`. The remaining time counts down from
    `timeout_seconds` (the function's configured timeout); the handler is not stopped when it
    runs out, so results never depend on how fast the machine is."""

    function_version = "$LATEST"
    memory_limit_in_mb = "128"
    identity = None
    client_context = None
    tenant_id = None

    def __init__(self, function_name: str, region: str, account: str, request_id: str,
                 timeout_seconds: float) -> None:
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
