"""Newline-delimited JSON from standard input, read as it comes (a pipe or a redirected file)."""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from flowsql.pipeline.model import SourceDecl
from flowsql.records import SourceBatch
from flowsql.sources import register
from flowsql.sources.base import Source, SourceOptions

_READ_SIZE = 4 << 20


@register("stdin")
class StdinSource(Source):
    options_class = SourceOptions

    def __init__(self, decl: SourceDecl, options: SourceOptions) -> None:
        super().__init__(decl, options)
        self.decoder = self.record_decoder()
        self.schema = self.decoder.schema

    @property
    def bounded(self) -> bool:
        return True

    @property
    def live(self) -> bool:
        return True

    def read(self, stop: threading.Event) -> Iterator[SourceBatch]:
        fd = sys.stdin.fileno()
        offset = 0
        carry = b""
        while not stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            block = os.read(fd, _READ_SIZE)
            if not block:
                break
            data = carry + block
            cut = self.decoder.record_end(data)
            if cut == 0:
                carry = data
                continue
            whole, carry = data[:cut], data[cut:]
            yield self._batch(offset, whole)
            offset += len(whole)
        if carry and not stop.is_set():
            yield self._batch(offset, carry)

    def _batch(self, offset: int, data: bytes) -> SourceBatch:
        table, errors, origins = self.decoder.decode_with_origins(
            data.rstrip(b"\n"), "stdin", offset, datetime.now(UTC)
        )
        return SourceBatch(self.name, table, errors, {"offset": offset + len(data)}, len(data), None, origins)
