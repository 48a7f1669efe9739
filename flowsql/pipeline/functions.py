"""Python functions a pipeline names with CREATE FUNCTION: found from `module:function` (or a
file beside the pipeline), their SQL types taken from the declaration or the annotations, checked
against the signature, and registered with DuckDB as scalar functions."""

from __future__ import annotations

import datetime
import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from duckdb.func import PythonUDFType

from flowsql.pipeline.model import FunctionDecl
from flowsql.pipeline.text import SourceText
from flowsql.user_code import HandlerError, load_handler

_ANNOTATION_TYPES: dict[object, str] = {
    int: "BIGINT",
    float: "DOUBLE",
    str: "VARCHAR",
    bool: "BOOLEAN",
    bytes: "BLOB",
    datetime.datetime: "TIMESTAMP",
    datetime.date: "DATE",
    datetime.time: "TIME",
}
_ARROW_TYPES = (pa.Array, pa.ChunkedArray)
_TYPES_HINT = (
    "declare the types: CREATE FUNCTION name(VARCHAR, BIGINT) RETURNS DOUBLE AS 'module:function', "
    "or annotate the function (def f(x: str) -> int)"
)


@dataclass(frozen=True)
class UserFunction:
    """A resolved CREATE FUNCTION: the callable, its SQL types and how DuckDB calls it
    (`vectorized`: once per batch with Arrow arrays; otherwise once per row with Python values)."""

    decl: FunctionDecl
    function: Callable[..., Any]
    parameters: tuple[str, ...]
    returns: str
    vectorized: bool
    where: str  # the file and function it was found in

    @property
    def name(self) -> str:
        return self.decl.name

    def signature(self) -> str:
        style = "vectorized (Arrow arrays)" if self.vectorized else "row by row"
        return f"{self.name}({', '.join(self.parameters)}) RETURNS {self.returns}: {self.where}, {style}"

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        con.create_function(
            self.name,
            _naming_failures(self.name, self.function),
            [duckdb.sqltype(t) for t in self.parameters],
            duckdb.sqltype(self.returns),
            type=PythonUDFType.ARROW if self.vectorized else PythonUDFType.NATIVE,
        )


class FunctionRaised(Exception):  # its name is what DuckDB shows before the message
    """What a user's function raised, with the function's name (DuckDB's message names no UDF)."""


def _naming_failures(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def call(*arguments: Any) -> Any:
        try:
            return function(*arguments)
        except Exception as exc:
            raise FunctionRaised(f"{name}() raised {type(exc).__name__}: {exc}") from exc

    return call


def register_functions(con: duckdb.DuckDBPyConnection, functions: Iterable[UserFunction]) -> duckdb.DuckDBPyConnection:
    for function in functions:
        function.register(con)
    return con


def resolve_function(decl: FunctionDecl, file: SourceText, base_dir: Path) -> UserFunction:
    """Load the function a declaration names and fix its types; errors point at the part of
    the statement they are about."""
    try:
        function, where = load_handler(decl.target, base_dir)
    except HandlerError as exc:
        raise file.error(
            f"function '{decl.name}': {exc}",
            decl.target_offset,
            "name it 'package.module:function' (found beside the pipeline file or on "
            "the import path) or 'file.py:function'",
        ) from None
    hints = _annotations(function)
    parameters = decl.parameters if decl.parameters is not None else _annotated_parameters(decl, file, function, hints)
    returns = decl.returns or _annotated_type(hints.get("return"))
    if returns is None:
        raise file.error(f"function '{decl.name}' has no return type", decl.name_offset, _TYPES_HINT)
    _check_arity(decl, file, function, len(parameters))
    vectorized = decl.vectorized if decl.vectorized is not None else _takes_arrays(hints)
    resolved = UserFunction(decl, function, parameters, returns, vectorized, where)
    with duckdb.connect() as con:
        try:
            resolved.register(con)
        except duckdb.Error as exc:
            raise file.error(
                f"function '{decl.name}' cannot be registered: {str(exc).splitlines()[0]}",
                decl.name_offset,
                "choose a name no DuckDB function has",
            ) from None
    return resolved


def _annotations(function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except (NameError, TypeError, AttributeError):  # unresolvable string annotations: as if none
        return {}


def _annotated_parameters(
    decl: FunctionDecl, file: SourceText, function: Callable[..., Any], hints: dict[str, Any]
) -> tuple[str, ...]:
    types_found: list[str] = []
    for parameter in _positional(function):
        sql_type = _annotated_type(hints.get(parameter.name))
        if sql_type is None:
            raise file.error(
                f"function '{decl.name}': the type of argument '{parameter.name}' is not known",
                decl.name_offset,
                _TYPES_HINT,
            )
        types_found.append(sql_type)
    return tuple(types_found)


def _positional(function: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p for p in parameters if p.kind in kinds and p.default is inspect.Parameter.empty]


def _annotated_type(annotation: object) -> str | None:
    """The SQL type of a Python annotation: plain types, and `X | None` as X (NULL is any type's)."""
    if annotation is None:
        return None
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        others = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _annotated_type(others[0]) if len(others) == 1 else None
    return _ANNOTATION_TYPES.get(annotation)


def _takes_arrays(hints: dict[str, Any]) -> bool:
    """A function whose arguments are annotated as Arrow arrays is called once per batch."""
    annotated = [v for k, v in hints.items() if k != "return"]
    return bool(annotated) and all(isinstance(v, type) and issubclass(v, _ARROW_TYPES) for v in annotated)


def _check_arity(decl: FunctionDecl, file: SourceText, function: Callable[..., Any], count: int) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return  # a builtin without a readable signature: DuckDB's call will tell
    try:
        signature.bind(*range(count))
    except TypeError as exc:
        raise file.error(
            f"function '{decl.name}' is declared with {count} argument(s), but {decl.target} takes {signature}: {exc}",
            decl.name_offset,
            "make the declared argument types match the function's parameters",
        ) from None
