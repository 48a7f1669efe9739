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
        from flowsql.secrets import redact_line  # a quoted line may hold `access_key = '...'`

        head = f"{self.location}: {self.message}" if self.location else self.message
        parts = [head]
        if self.source_line is not None and self.location is not None:
            line, column = redact_line(self.source_line.rstrip().expandtabs(1), self.location.column)
            line, column = _shortened(line, column)
            parts.append(f"    {line}")
            parts.append("    " + " " * (column - 1) + "^")
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


_WIDEST_LINE = 120


def _shortened(line: str, column: int) -> tuple[str, int]:
    """A long line cut to the part around `column`, so the caret stays on screen."""
    if len(line) <= _WIDEST_LINE:
        return line, column
    start = max(0, min(column - 1 - _WIDEST_LINE // 2, len(line) - _WIDEST_LINE))
    cut = line[start : start + _WIDEST_LINE]
    head = "..." if start else ""
    tail = "..." if start + _WIDEST_LINE < len(line) else ""
    return head + cut + tail, column - start + len(head)


class PipelineErrors(PipelineError):
    """Every problem found in one pipeline file, in file order; shown together."""

    def __init__(self, errors: list[PipelineError]) -> None:
        self.errors = sorted(errors, key=_file_order)
        super().__init__(
            self.errors[0].message, self.errors[0].location, self.errors[0].source_line, self.errors[0].hint
        )

    def render(self) -> str:
        if len(self.errors) <= 1:
            return super().render()
        return "\n".join(e.render() for e in self.errors) + f"\n{len(self.errors)} errors"


def _file_order(error: PipelineError) -> tuple[int, int]:
    where = error.location
    return (where.line, where.column) if where is not None else (0, 0)


class ConfigError(PipelineError):
    """An option of a source, sink or pipeline that is unknown or has a bad value."""


class SourceError(FlowsqlError):
    """A source that cannot be read (missing file, unreachable stream)."""


class DeliveryError(FlowsqlError):
    """A sink that could not deliver within its retry budget."""
