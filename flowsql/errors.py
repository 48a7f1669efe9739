"""The flowsql error family: every failure a user can meet, with where and what to do.

Exit codes follow from the class: configuration and SQL problems exit 2, runtime failures 1.
"""

from __future__ import annotations

from dataclasses import dataclass


class FlowsqlError(Exception):
    """Base of every error flowsql reports to a user."""

    exit_code = 1


class UsageError(FlowsqlError):
    """A command line or configuration the user must fix before anything runs."""

    exit_code = 2


@dataclass(frozen=True)
class Location:
    """A place in a pipeline file, 1-based."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class PipelineError(UsageError):
    """A pipeline file that does not parse or check: names file:line:column and the text."""

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        source_line: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.location = location
        self.source_line = source_line
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.location}: {self.message}" if self.location else self.message
        parts = [head]
        if self.source_line is not None and self.location is not None:
            parts.append(f"    {self.source_line.rstrip()}")
            parts.append("    " + " " * (self.location.column - 1) + "^")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class ConfigError(PipelineError):
    """An option of a source, sink or pipeline that is unknown or has a bad value."""


class SourceError(FlowsqlError):
    """A source that cannot be read (missing file, unreachable stream)."""


class DeliveryError(FlowsqlError):
    """A sink that could not deliver within its retry budget."""
