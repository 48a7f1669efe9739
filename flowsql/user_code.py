"""User code named in a pipeline as `module:function` or `path/to/file.py:function`, found as
Lambda finds a handler: a file relative to the pipeline's folder, whose folder goes on the import
path; a module on the import path or beside the pipeline."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
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
        where = getattr(module, "__file__", None) or module_part
    handler = getattr(module, function, None)
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
