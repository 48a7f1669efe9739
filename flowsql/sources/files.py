"""Newline-delimited JSON from a file, a glob or a folder (plain or .gz), optionally followed.

Files are read in name order in large chunks cut at the last newline, so the decoder sees only
whole records. A position is (file, byte offset in its uncompressed stream), so a resume
starts at the first record not yet taken.
"""

from __future__ import annotations

import glob
import gzip
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from flowsql.decode import NdjsonDecoder
from flowsql.errors import ConfigError, SourceError
from flowsql.options import duration, size
from flowsql.records import SourceBatch
from flowsql.sources import register
from flowsql.sources.ahead import map_in_order
from flowsql.sources.base import Source, SourceOptions


@dataclass(frozen=True)
class _Chunk:
    """Whole lines cut from a file, and the position after them (taken when cut, in order)."""

    file: str
    offset: int
    data: bytes
    position: dict[str, Any]


@dataclass(frozen=True)
class FileSourceOptions(SourceOptions):
    path: str = ""
    follow: bool = False
    poll_interval: float = duration(0.25)
    chunk_size: int = size(8 << 20)
    decode_threads: int = 2


@register("file")
class FileSource(Source):
    options_class = FileSourceOptions
    options: FileSourceOptions

    def __init__(self, decl: Any, options: FileSourceOptions) -> None:
        super().__init__(decl, options)
        if not options.path:
            raise ConfigError(f"source '{decl.name}' (file) needs the option 'path'", decl.location)
        self.decoder = NdjsonDecoder(decl.name, decl.columns)
        self.schema = self.decoder.schema
        self.finished: set[str] = set()
        self.resume_file: str | None = None
        self.resume_offset = 0

    @property
    def bounded(self) -> bool:
        return not self.options.follow

    def seek(self, position: dict[str, Any]) -> None:
        self.finished = set(position.get("finished", []))
        self.resume_file = position.get("file")
        self.resume_offset = int(position.get("offset", 0))

    def files(self) -> list[str]:
        """The files the path names now, in the order they are read."""
        path = self.options.path
        if any(ch in path for ch in "*?["):
            found = glob.glob(path, recursive=True)
        elif os.path.isdir(path):
            found = [str(p) for p in Path(path).rglob("*") if p.is_file() and not p.name.startswith(".")]
        else:
            found = [path]
        return sorted(f for f in found if os.path.isfile(f))

    def read(self, stop: threading.Event) -> Iterator[SourceBatch]:
        chunks = self._chunks(stop)
        yield from map_in_order(chunks, self._decode, self.options.decode_threads, f"decode-{self.name}")

    def _chunks(self, stop: threading.Event) -> Iterator[_Chunk]:
        files = self.files()
        if not files and not self.options.follow:
            raise SourceError(f"source '{self.name}': no file matches path '{self.options.path}'")
        while not stop.is_set():
            pending = [f for f in self.files() if f not in self.finished]
            for file in pending:
                start = self.resume_offset if file == self.resume_file else 0
                yield from self._read_file(file, start, stop)
                if stop.is_set():
                    return
            if not self.options.follow:
                return
            stop.wait(self.options.poll_interval)

    def _read_file(self, file: str, start: int, stop: threading.Event) -> Iterator[_Chunk]:
        offset = start
        try:
            stream = _open(file)
        except OSError as exc:
            raise SourceError(f"source '{self.name}': cannot open {file}: {exc.strerror}") from None
        with stream:
            if start:
                _skip(stream, start)
            carry = b""
            while not stop.is_set():
                block = stream.read(self.options.chunk_size)
                if not block:
                    if self.options.follow and not file.endswith(".gz") and not self._rotated(file, offset + len(carry)):
                        if stop.wait(self.options.poll_interval):
                            return
                        continue
                    if carry:  # a last line with no newline is still a record
                        yield _Chunk(file, offset, carry, self._position(file, offset + len(carry), True))
                        offset += len(carry)
                    else:
                        yield _Chunk(file, offset, b"", self._position(file, offset, True))
                    self.finished.add(file)
                    return
                data = carry + block
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                whole, carry = data[: cut + 1], data[cut + 1 :]
                yield _Chunk(file, offset, whole, self._position(file, offset + len(whole), False))
                offset += len(whole)

    def _rotated(self, file: str, consumed: int) -> bool:
        """A followed file is done when a newer file has appeared after it (tail -F style)."""
        newer = [f for f in self.files() if f > file and f not in self.finished]
        return bool(newer) and os.path.getsize(file) <= consumed

    def _decode(self, chunk: _Chunk) -> SourceBatch:
        arrival = datetime.now(timezone.utc)
        table, errors = self.decoder.decode(chunk.data.rstrip(b"\n"), chunk.file, chunk.offset, arrival)
        return SourceBatch(self.name, table, errors, chunk.position, len(chunk.data))

    def _position(self, file: str, offset: int, finished: bool) -> dict[str, Any]:
        done = sorted(self.finished | ({file} if finished else set()))
        return {"file": file, "offset": offset, "finished": done}


def _open(file: str) -> IO[bytes]:
    if file.endswith(".gz"):
        return gzip.open(file, "rb")
    return open(file, "rb")


def _skip(stream: IO[bytes], count: int) -> None:
    if stream.seekable() and not isinstance(stream, gzip.GzipFile):
        stream.seek(count)
        return
    while count > 0:
        block = stream.read(min(count, 1 << 20))
        if not block:
            return
        count -= len(block)

