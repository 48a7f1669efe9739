"""The files of one file source as they are read: which file gives the next chunk, how far
each has been taken, and which are finished.

Each file is a partition of the source's event time. The next chunk comes from the file whose
time is lowest (a file not started yet first, with a small first chunk that tells its time),
so files with overlapping time ranges are read side by side and none runs far ahead of the
others. A position records every file's offset and the finished files, so a resume takes each
file up where it was, whatever the interleaving.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flowsql.errors import SourceError
from flowsql.sources.event_time import PartitionClocks
from flowsql.sources.file_reader import CorruptFile, FileReader

FIRST_CHUNK = 64 << 10  # enough lines to learn a file's time before reading much of it


@dataclass(frozen=True)
class Chunk:
    """Whole lines cut from a file, and the source's position after them (taken when cut, in order)."""

    file: str
    offset: int
    data: bytes
    position: dict[str, Any]
    arrival: datetime
    finished: bool  # the file's last chunk: it holds the source's time back no longer


@dataclass(frozen=True)
class Step:
    """What reading did next, in order: files found (they hold time from now on), files that
    answered empty when asked (they may be idle), and the chunk cut, if any."""

    added: tuple[str, ...] = ()
    quiet: tuple[str, ...] = ()
    chunk: Chunk | None = None


@dataclass
class _File:
    offset: int  # bytes of content taken into chunks
    started: bool
    carry: bytes = b""  # read past `offset`, up to a line not yet complete
    asked_empty_at: float | None = None  # when it last answered empty (follow mode)
    empty_since: float | None = None  # when it began answering empty, since its last data


@dataclass
class FileSetOptions:
    path: str
    follow: bool
    poll_interval: float
    chunk_size: int
    max_open_files: int
    idle_timeout: float  # a followed file quiet this long, with a newer file beside it, is finished
    event_column: str | None  # the WATERMARK column: files are read in its order
    record_end: Callable[[bytes], int]  # where whole records end in a block (the format's rule)
    finished: list[str] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)


def list_files(path: str) -> list[str]:
    """The files `path` names now (a file, a glob or a folder), in name order."""
    if any(ch in path for ch in "*?["):
        found = glob.glob(path, recursive=True)
    elif os.path.isdir(path):
        found = [str(p) for p in Path(path).rglob("*") if p.is_file() and not p.name.startswith(".")]
    else:
        found = [path]
    return sorted(f for f in found if os.path.isfile(f))


class FileSet:
    """Cuts the chunks of one source's files in reading order (runs on one thread)."""

    def __init__(self, source: str, options: FileSetOptions, clocks: PartitionClocks) -> None:
        self.source = source
        self.options = options
        self.clocks = clocks  # the consumer's view of each file's time, to choose the next file
        self._files: dict[str, _File] = {}
        self._finished = list(options.finished)
        self._finished_set = set(options.finished)
        self._offsets = {f: o for f, o in options.offsets.items() if f not in self._finished_set and o > 0}
        self._readers: OrderedDict[str, FileReader] = OrderedDict()
        self._added: list[str] = []
        self._quiet: list[str] = []
        self._listed_at = 0.0

    def steps(self, stop: threading.Event) -> Iterator[Step]:
        self._discover()
        if not self._files and not self._finished and not self.options.follow:
            raise SourceError(f"source '{self.source}': no file matches path '{self.options.path}'")
        try:
            while not stop.is_set():
                if self.options.follow and time.monotonic() - self._listed_at >= self.options.poll_interval:
                    self._discover()  # also while data keeps coming, so new files are not left aside
                file = self._next()
                if file is not None:
                    chunk = self._take(file)
                    if chunk is not None:
                        yield self._step(chunk)
                    continue
                if self._added or self._quiet:
                    yield self._step(None)
                if not self._files and not self.options.follow:
                    return
                stop.wait(self._pause())
        finally:
            for reader in self._readers.values():
                reader.close()

    def _step(self, chunk: Chunk | None) -> Step:
        step = Step(tuple(self._added), tuple(self._quiet), chunk)
        self._added.clear()
        self._quiet.clear()
        return step

    def _discover(self) -> None:
        self._listed_at = time.monotonic()
        for file in list_files(self.options.path):
            if file not in self._files and file not in self._finished_set:
                offset = self._offsets.get(file, 0)
                self._files[file] = _File(offset, started=offset > 0)
                self._added.append(file)

    def _pause(self) -> float:
        """How long to wait before a file may be asked again."""
        now = time.monotonic()
        asked = [f.asked_empty_at for f in self._files.values() if f.asked_empty_at is not None]
        if not asked or len(asked) < len(self._files):
            return self.options.poll_interval
        return max(0.005, min(a + self.options.poll_interval - now for a in asked))

    # -- which file next ---------------------------------------------------------------------
    def _next(self) -> str | None:
        """The file to cut the next chunk from: the one whose time is lowest, among those not
        waiting for more data; one not started yet first."""
        now = time.monotonic()
        poll = self.options.poll_interval
        ready = [name for name, f in self._files.items() if f.asked_empty_at is None or now - f.asked_empty_at >= poll]
        if not ready or self.options.event_column is None:
            return min(ready, default=None)
        unstarted = [name for name in ready if not self._files[name].started]
        if unstarted:
            return min(unstarted)
        column = self.options.event_column
        partitions = self.clocks.snapshot()

        def time_of(name: str) -> tuple[bool, int, str]:
            times = partitions.get(name, {}).get("latest", {})
            latest = times.get(column) if isinstance(times, dict) else None
            return (latest is not None, latest or 0, name)  # a file whose time is unknown holds time: first

        for name in sorted(ready, key=time_of):
            # Alignment: while a followed file waits for data, the others are read only up to
            # max_drift ahead of it, so window state stays bounded until it goes idle.
            if self.options.follow and self.clocks.ahead(name):
                self.clocks.set_paused(name, True)
                continue
            self.clocks.set_paused(name, False)
            return name
        return None

    # -- reading -----------------------------------------------------------------------------
    def _take(self, name: str) -> Chunk | None:
        """The next whole lines of `name`, or None when it has nothing more now (followed)."""
        state = self._files[name]
        reader = self._reader(name, state)
        size = self.options.chunk_size
        if not state.started and self.options.event_column is not None:
            size = min(size, FIRST_CHUNK)
        while True:
            try:
                block = reader.read(size)
            except CorruptFile as exc:
                raise SourceError(f"source '{self.source}': {name}: {exc}") from None
            if block:
                data = state.carry + block
                cut = self.options.record_end(data)
                if cut == 0:  # a record longer than a chunk: read on
                    state.carry = data
                    continue
                state.carry = data[cut:]
                return self._cut(name, state, data[:cut], finished=False)
            if not self._ended(name, state, reader):
                state.asked_empty_at = time.monotonic()
                if state.empty_since is None:
                    state.empty_since = state.asked_empty_at
                self._quiet.append(name)
                return None
            last, state.carry = state.carry, b""  # a last line with no newline is still a record
            return self._cut(name, state, last, finished=True)

    def _ended(self, name: str, state: _File, reader: FileReader) -> bool:
        """At the end of what `name` holds now: is it finished? A followed `.gz` is when its gzip
        stream has ended (never inside it: its writer is still writing); a plain followed file
        once a newer file has appeared and it has not grown for idle_timeout (tail -F)."""
        if not self.options.follow:
            if not reader.complete:
                raise SourceError(
                    f"source '{self.source}': {name} ends inside its gzip stream (truncated, or "
                    f"still being written: read it with follow = true to wait for the rest)"
                )
            return True
        if not reader.complete or reader.grew():
            return False
        if name.endswith(".gz"):
            return reader.stream_ended
        quiet_for = time.monotonic() - state.empty_since if state.empty_since is not None else 0.0
        return quiet_for >= self.options.idle_timeout and any(other > name for other in self._files)

    def _cut(self, name: str, state: _File, data: bytes, finished: bool) -> Chunk:
        offset = state.offset
        state.offset += len(data)
        state.started = True
        state.asked_empty_at = None
        if data:
            state.empty_since = None
        if finished:
            del self._files[name]
            self._offsets.pop(name, None)
            self._finished.append(name)
            self._finished_set.add(name)
            reader = self._readers.pop(name, None)
            if reader is not None:
                reader.close()
        elif state.offset:
            self._offsets[name] = state.offset
        position = {"offsets": dict(self._offsets), "finished": list(self._finished)}
        return Chunk(name, offset, data, position, datetime.now(UTC), finished)

    def _reader(self, name: str, state: _File) -> FileReader:
        reader = self._readers.get(name)
        if reader is not None:
            self._readers.move_to_end(name)
            return reader
        while len(self._readers) >= self.options.max_open_files:
            closed, oldest = self._readers.popitem(last=False)
            oldest.close()
            self._files[closed].carry = b""  # reopened at its offset, the partial line is read again
        try:
            reader = FileReader(name, state.offset)
        except OSError as exc:
            raise SourceError(f"source '{self.source}': cannot open {name}: {exc.strerror}") from None
        except CorruptFile as exc:
            raise SourceError(f"source '{self.source}': {name}: {exc}") from None
        self._readers[name] = reader
        return reader
