"""Pumps that read a stream which is also delivered to a sink (an application output read by a
further pump): the pumps into that stream also fill an in-application copy of it, and readers
read the copy. The copy is made at the first reader, so pumps may come in any order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlglot import exp
from sqlglot.tokens import Token

from flowsql.errors import Location
from flowsql.kda.model import KdaApplication, KdaStream
from flowsql.pipeline.model import Pipeline

READ_COPY = "#read"  # the copy's name: the stream's, with this after it


@dataclass(frozen=True)
class SinkPump:
    """A pump into a sink-bound stream, kept untranslated so that it can fill the copy too."""

    name: str
    insert: exp.Insert
    location: Location
    text: str
    join_windows: dict[int, int | None]
    tokens: list[Token]


Emit = Callable[[SinkPump], None]


def is_copy(name: str) -> bool:
    return name.endswith(READ_COPY)


def record_sink_pump(app: KdaApplication, target: str, pump: SinkPump, emit: Emit) -> None:
    """Note a pump into a sink-bound stream; once the stream is read, it fills the copy as well."""
    key = target.lower()
    app.sink_pumps.setdefault(key, []).append(pump)
    if (key + READ_COPY.lower()) in app.streams:
        emit(_retargeted(pump, app.streams[key + READ_COPY.lower()].name))


def redirect_reads(pipeline: Pipeline, app: KdaApplication, insert: exp.Insert, emit: Emit) -> None:
    """Point each read of a sink-bound stream that pumps fill at its copy (making the copy at
    the first read); the table keeps the stream's name as its alias, so qualified columns hold."""
    sinks = {s.lower() for s in pipeline.sinks}
    query = insert.expression
    for table in list(query.find_all(exp.Table)):
        key = table.name.lower()
        if key not in sinks or key not in app.sink_pumps or not isinstance(table.this, exp.Identifier):
            continue
        copy = _ensure_copy(app, key, emit)
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name, quoted=True)))
        table.this.set("this", copy)
        table.this.set("quoted", True)


def _ensure_copy(app: KdaApplication, key: str, emit: Emit) -> str:
    stream = app.streams[key]
    copy_key = key + READ_COPY.lower()
    if copy_key not in app.streams:
        name = stream.name + READ_COPY
        app.streams[copy_key] = KdaStream(name, stream.columns, stream.location)
        for pump in app.sink_pumps[key]:
            emit(_retargeted(pump, name))
    return app.streams[copy_key].name


def _retargeted(pump: SinkPump, copy: str) -> SinkPump:
    insert = pump.insert.copy()
    target = insert.this.this if isinstance(insert.this, exp.Schema) else insert.this
    assert isinstance(target, exp.Table) and isinstance(target.this, exp.Identifier)
    target.this.set("this", copy)
    target.this.set("quoted", True)
    return replace(pump, insert=insert)
