"""Sources: one module per connector, chosen by the `connector` option through a registry."""

from __future__ import annotations

from collections.abc import Callable

from flowsql.errors import ConfigError
from flowsql.options import bind_options
from flowsql.pipeline.model import SourceDecl
from flowsql.sources.base import Source, SourceOptions

_CONNECTORS: dict[str, type[Source]] = {}


def register(name: str) -> Callable[[type[Source]], type[Source]]:
    def add(cls: type[Source]) -> type[Source]:
        _CONNECTORS[name] = cls
        return cls

    return add


def create_source(decl: SourceDecl) -> Source:
    """The source for a declaration, its options checked."""
    _load_connectors()
    connector = (decl.option("connector") or "").lower()
    if connector not in _CONNECTORS:
        where = next((o for o in decl.options if o.key.lower() == "connector"), None)
        raise ConfigError(
            f"source '{decl.name}' needs connector = one of: {', '.join(sorted(_CONNECTORS))}"
            + (f" (got '{connector}')" if connector else ""),
            where.location if where else decl.location,
            where.source_line if where else None,
        )
    cls = _CONNECTORS[connector]
    options = bind_options(cls.options_class, list(decl.options), f"source '{decl.name}' ({connector})")
    return cls(decl, options)


def connector_names() -> list[str]:
    """The connectors a source may name."""
    _load_connectors()
    return sorted(_CONNECTORS)


def _load_connectors() -> None:
    # Imported here so that each connector registers itself without import cycles.
    from flowsql.sources import files, generator, kinesis, stdin  # noqa: F401


__all__ = ["Source", "SourceOptions", "connector_names", "create_source", "register"]
