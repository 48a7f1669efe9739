"""Sources: one module per connector, chosen by the `connector` option through a registry."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from flowsql.errors import ConfigError
from flowsql.options import bind_options
from flowsql.pipeline.model import SourceDecl
from flowsql.sources.base import Source, SourceOptions

_CONNECTORS: dict[str, type[Source]] = {}
# Each connector's module, imported when a pipeline names it (it registers its class as it
# loads): a run from files never pays for botocore, nor one from Kinesis for the file lister.
_MODULES = {
    "file": "flowsql.sources.files",
    "generator": "flowsql.sources.generator",
    "kinesis": "flowsql.sources.kinesis",
    "stdin": "flowsql.sources.stdin",
}


def register(name: str) -> Callable[[type[Source]], type[Source]]:
    def add(cls: type[Source]) -> type[Source]:
        _CONNECTORS[name] = cls
        return cls

    return add


def create_source(decl: SourceDecl) -> Source:
    """The source for a declaration, its options checked."""
    connector = (decl.option("connector") or "").lower()
    _load_connector(connector)
    if connector not in _CONNECTORS:
        where = next((o for o in decl.options if o.key.lower() == "connector"), None)
        raise ConfigError(
            f"source '{decl.name}' needs connector = one of: {', '.join(connector_names())}"
            + (f" (got '{connector}')" if connector else ""),
            where.location if where else decl.location,
            where.source_line if where else None,
        )
    cls = _CONNECTORS[connector]
    options = bind_options(cls.options_class, list(decl.options), f"source '{decl.name}' ({connector})")
    return cls(decl, options)


def connector_names() -> list[str]:
    """The connectors a source may name."""
    return sorted(_MODULES)


def _load_connector(name: str) -> None:
    # Imported here, not above, so that each connector registers itself without import cycles.
    if name in _MODULES and name not in _CONNECTORS:
        importlib.import_module(_MODULES[name])


__all__ = ["Source", "SourceOptions", "connector_names", "create_source", "register"]
