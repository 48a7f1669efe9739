"""Row-level error isolation: when a user's query fails on a set of rows, the rows are bisected
(halves, then halves of the failing halves) to find the ones that make it fail, so the query
runs on the rest and those rows go to the error output instead of ending the run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import duckdb
import numpy as np
import pyarrow as pa

from flowsql.engine.planner import OperatorPlan
from flowsql.errors import FlowsqlError

QUERY_FAILED = "query-failed"
"""The error output type of rows a query failed on."""

T = TypeVar("T")
Rejected = tuple[str, str, pa.Table]
"""(error code, reason, rows) of rows a query could not take."""

# Failures a row's values cause: a cast that rejects a value, a value out of range, a division
# by zero, error(). Anything else (out of memory, an internal error) is not the data's fault.
_ROW_ERRORS = (duckdb.DataError, duckdb.InvalidInputException)
_INTERNAL_NAME = re.compile(r'"?\b__(?:flowsql|kda)_[A-Za-z0-9_]*"?')
# DuckDB's words around an exception a CREATE FUNCTION function raised (its message names the function).
_FUNCTION_RAISED = re.compile(
    r"^Invalid Input Error: Python exception occurred while executing the UDF: "
    r"FunctionRaised: "
)


class QueryError(FlowsqlError):
    """A query failed at run time: on rows no single one of which is to blame, or on a row
    while the pipeline says `SET on_query_error = 'fail'`."""


def is_row_error(error: BaseException) -> bool:
    return isinstance(error, _ROW_ERRORS)


def clean_message(error: BaseException) -> str:
    """DuckDB's message without the SQL flowsql generated around the user's query: no quoted
    statement, no internal relation names."""
    text = _FUNCTION_RAISED.sub("", str(error).split("\n\nLINE ", 1)[0].strip())
    return _INTERNAL_NAME.sub("the input", text)


def query_place(plan: OperatorPlan) -> str:
    return f"{plan.decl.location}: the query into '{plan.target}'"


@dataclass
class Isolated(Generic[T]):
    """A query's result over `good`: the rows without those in `rejected`."""

    result: T
    good: pa.Table
    rejected: list[Rejected] = field(default_factory=list)


_ISOLATING = ContextVar("flowsql_isolating_rows", default=True)


@contextmanager
def failing_loudly() -> Iterator[None]:
    """Within the block a failing query raises DuckDB's own error instead of setting rows
    apart: `validate` puts one made-up row through each query, and a failure there is the
    query's fault, not the data's."""
    token = _ISOLATING.set(False)
    try:
        yield
    finally:
        _ISOLATING.reset(token)


def run_isolated(plan: OperatorPlan, rows: pa.Table, run: Callable[[pa.Table], T]) -> Isolated[T]:
    """`run(rows)`; if it fails because of some rows, `run` over the others, and those rows
    rejected with DuckDB's message. A failure no row set apart explains raises QueryError."""
    try:
        return Isolated(run(rows), rows)
    except duckdb.Error as exc:
        if not _ISOLATING.get():
            raise
        failure: duckdb.Error = exc
    remaining = np.arange(rows.num_rows, dtype=np.int64)
    reasons: dict[int, str] = {}
    while True:
        if not is_row_error(failure) or remaining.size == 0:
            raise _unattributed(plan, failure) from failure
        try:
            found = _culprits(rows, run, remaining, failure)
        except duckdb.Error as exc:
            raise _unattributed(plan, exc) from exc
        if not found:
            raise _unattributed(plan, failure) from failure
        reasons.update(found)
        remaining = remaining[~np.isin(remaining, np.fromiter(found, np.int64, len(found)))]
        good = rows.take(pa.array(remaining))
        try:
            return Isolated(run(good), good, _grouped(rows, reasons))
        except duckdb.Error as exc:  # rows that fail only together with others: look again
            failure = exc


def run_whole(plan: OperatorPlan, run: Callable[[], T]) -> T:
    """A query over rows that are not the input's own (partial aggregates): a failure here is
    no single input row's, so it ends the run with a clear message."""
    try:
        return run()
    except duckdb.Error as exc:
        raise _unattributed(plan, exc) from exc


def _culprits(
    rows: pa.Table, run: Callable[[pa.Table], object], indices: np.ndarray, failure: duckdb.Error
) -> dict[int, str]:
    """The rows among `indices` (which fail together, with `failure`) that fail on their own
    or within a failing half; empty when each half runs alone."""
    if indices.size == 1:
        return {int(indices[0]): clean_message(failure)}
    found: dict[int, str] = {}
    middle = indices.size // 2
    for half in (indices[:middle], indices[middle:]):
        try:
            run(rows.take(pa.array(half)))
        except duckdb.Error as exc:
            if not is_row_error(exc):
                raise
            found.update(_culprits(rows, run, half, exc))
    return found


def _grouped(rows: pa.Table, reasons: dict[int, str]) -> list[Rejected]:
    by_reason: dict[str, list[int]] = {}
    for index in sorted(reasons):
        by_reason.setdefault(reasons[index], []).append(index)
    return [(QUERY_FAILED, reason, rows.take(pa.array(indices, pa.int64()))) for reason, indices in by_reason.items()]


def _unattributed(plan: OperatorPlan, failure: BaseException) -> QueryError:
    return QueryError(f"{query_place(plan)} failed, and not because of particular rows: {clean_message(failure)}")
