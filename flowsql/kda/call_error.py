"""The error a KDA function translation raises; the pump translator places it at the call."""

from __future__ import annotations

from sqlglot import exp


class FunctionError(ValueError):
    """A KDA function used in a way flowsql cannot translate faithfully; `node` is the call."""

    def __init__(self, message: str, node: exp.Expression) -> None:
        super().__init__(message)
        self.node = node
