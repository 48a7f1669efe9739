"""Newline-delimited JSON from a file, a glob or a folder (plain or .gz), optionally followed.

Each file is a partition of the source's event time: files are read side by side, lowest
time first, in chunks cut at the last newline, and the source's progress is the least time
over the files not finished (file_set.py, event_time.py). A position holds every file's byte
offset in its uncompressed content, so a resume starts at the first record not yet taken.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from flowsql.decode import with_arrival_time
from flowsql.errors import ConfigError
from flowsql.options import count, duration, size
from flowsql.records import ARRIVAL_TIME, BadRecord, SourceBatch
from flowsql.row_origins import RowOrigins
from flowsql.sources import register
from flowsql.sources.ahead import map_in_order
from flowsql.sources.base import Source, SourceOptions
from flowsql.sources.event_time import PartitionClocks
from flowsql.sources.file_set import FileSet, FileSetOptions, Step, list_files


@dataclass(frozen=True)
class FileSourceOptions(SourceOptions):
    path: str = ""
    follow: bool = False
    poll_interval: float = duration(0.25, positive=True)
    chunk_size: int = size(8 << 20, positive=True)
    decode_threads: int = count(2)
    max_open_files: int = count(64)


@dataclass(frozen=True)
class _Decoded:
    step: Step
    table: pa.Table | None
    errors: list[BadRecord]
    latest: dict[str, int] | None  # per time column the data carries, the chunk's greatest (microseconds)
    origins: RowOrigins | None = None


@register("file")
class FileSource(Source):
    options_class = FileSourceOptions
    options: FileSourceOptions

    def __init__(self, decl: Any, options: FileSourceOptions) -> None:
        super().__init__(decl, options)
        if not options.path:
            raise ConfigError(f"source '{decl.name}' (file) needs the option 'path'", decl.location)
        self.decoder = self.record_decoder()
        self.schema = self.decoder.schema
        watermark = decl.watermark.column.lower() if decl.watermark is not None else None
        self.event_column = watermark if watermark != ARRIVAL_TIME else None
        # Records that carry their own arrival_time (a replay of recorded data) are timed by it,
        # file by file, like the event column; otherwise arrival is when a chunk was cut.
        self.arrival_in_data = any(c.name.lower() == ARRIVAL_TIME for c in decl.columns)
        self.data_clocks = [c for c in (self.event_column, ARRIVAL_TIME if self.arrival_in_data else None) if c]
        self.position: dict[str, Any] = {"offsets": {}, "finished": []}
        self.clocks: PartitionClocks | None = None  # while reading: each file's time (status, tests)
        self._empty = with_arrival_time(self.schema.empty_table(), pa.array([], pa.timestamp("us")))

    @property
    def bounded(self) -> bool:
        return not self.options.follow

    def seek(self, position: dict[str, Any]) -> None:
        finished = [str(f) for f in position.get("finished", [])]
        offsets = {str(f): int(o) for f, o in position.get("offsets", {}).items()}
        if "file" in position and position["file"] not in finished:  # a position of files read one by one
            offsets[str(position["file"])] = int(position.get("offset", 0))
        self.position = {"offsets": offsets, "finished": finished}

    def files(self) -> list[str]:
        """The files the path names now, in name order."""
        return list_files(self.options.path)

    def read(self, stop: threading.Event) -> Iterator[SourceBatch]:
        clocks = self.clocks = self.partition_clocks()
        options = self.options
        files = FileSet(
            self.name,
            FileSetOptions(
                options.path,
                options.follow,
                options.poll_interval,
                options.chunk_size,
                options.max_open_files,
                options.idle_timeout,
                self.event_column,
                self.decoder.record_end,
                self.position["finished"],
                self.position["offsets"],
            ),
            clocks,
        )
        position = self.position
        arrival: int | None = None
        shown: dict[str, int | None] | None = None
        # Decoding runs ahead on threads; the files' times are taken here, in the order read.
        decoded_steps = map_in_order(
            files.steps(stop), self._decode, self.options.decode_threads, f"decode-{self.name}"
        )
        for decoded in decoded_steps:
            step, chunk = decoded.step, decoded.step.chunk
            for file in step.added:
                clocks.add(file)
            for file in step.quiet:
                clocks.answered_empty(file)
            if chunk is not None:
                if decoded.latest:
                    clocks.observe(chunk.file, decoded.latest)
                if chunk.finished:
                    clocks.finish(chunk.file)
                position = chunk.position
                arrival = int(chunk.arrival.timestamp() * 1_000_000)
            progress = clocks.progress()
            if arrival is not None and not self.arrival_in_data:
                progress[ARRIVAL_TIME] = arrival  # stamped when cut, in order: it never goes back
            if chunk is None and progress == shown:
                continue
            shown = progress
            # An empty batch when only idleness moved the time: windows close without new rows.
            table = decoded.table if decoded.table is not None else self._empty
            yield SourceBatch(
                self.name, table, decoded.errors, position, len(chunk.data) if chunk else 0, progress, decoded.origins
            )

    def _decode(self, step: Step) -> _Decoded:
        chunk = step.chunk
        if chunk is None:
            return _Decoded(step, None, [], None)
        table, errors, origins = self.decoder.decode_with_origins(
            chunk.data.rstrip(b"\n"), chunk.file, chunk.offset, chunk.arrival
        )
        return _Decoded(step, table, errors, self._latest(table), origins)

    def _latest(self, table: pa.Table) -> dict[str, int] | None:
        if not self.data_clocks or table.num_rows == 0:
            return None
        out = {}
        for column in self.data_clocks:
            name = next((c for c in table.column_names if c.lower() == column), None)
            if name is None:
                continue
            latest = pc.max(pc.cast(table.column(name), pa.timestamp("us")))
            if latest.is_valid:
                out[column] = latest.cast(pa.int64()).as_py()
        return out or None
