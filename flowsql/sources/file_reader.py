"""One file's content from a byte offset on, plain or gzip, as it is now and as it grows.

A `.gz` file is inflated incrementally rather than through `gzip.open`, so a stream that a
writer has not finished (`producer | gzip > in/b.ndjson.gz`) yields what can be read so far
and is read on from the same place once it has grown, instead of failing at its end.
"""

from __future__ import annotations

import os
import zlib
from typing import IO

_RAW_BLOCK = 1 << 20
_GZIP = 16 + zlib.MAX_WBITS  # a gzip header and trailer around a deflate stream


class CorruptFile(Exception):
    """The file's bytes cannot be decompressed."""


class FileReader:
    """Reads one file's content (uncompressed for `.gz`) from `offset`. `read` returns b"" when
    nothing more is there now; the file may still grow."""

    def __init__(self, path: str, offset: int = 0) -> None:
        self.path = path
        # Held open across reads while the file grows; close() releases it.
        self._raw: IO[bytes] = open(path, "rb")  # noqa: SIM115
        self._gzip = path.endswith(".gz")
        self._inflate = zlib.decompressobj(_GZIP)
        self._input = b""  # compressed bytes read from the file and not yet inflated
        self._in_member = False  # inside a gzip member whose end has not been read yet
        self._members = 0  # gzip members read to their end
        try:
            self._skip(offset)
        except BaseException:
            self._raw.close()
            raise

    def close(self) -> None:
        self._raw.close()

    @property
    def complete(self) -> bool:
        """Whether what was read so far ends where a whole file can end (a `.gz` cut inside a
        gzip stream has not: its writer is still writing, or it was truncated)."""
        return not self._in_member and not self._input

    @property
    def stream_ended(self) -> bool:
        """For a `.gz`: a gzip stream was read to its end and nothing follows it yet (an empty
        file has not: the writer may not have written its header yet)."""
        return self._gzip and self._members > 0 and self.complete

    def grew(self) -> bool:
        """Whether the file holds bytes not yet read."""
        return os.fstat(self._raw.fileno()).st_size > self._raw.tell()

    def read(self, size: int) -> bytes:
        if not self._gzip:
            return self._raw.read(size)
        out: list[bytes] = []
        wanted = size
        while wanted > 0:
            if not self._input and not self._in_member:
                self._input = self._raw.read(_RAW_BLOCK)
                if not self._input:
                    break
            if not self._in_member:
                if not self._input.strip(b"\0"):  # padding after the last member, as gzip allows
                    self._input = b""
                    continue
                self._inflate = zlib.decompressobj(_GZIP)
                self._in_member = True
            data = self._inflated(wanted)
            if data:
                out.append(data)
                wanted -= len(data)
            elif self._in_member and not self._input:
                more = self._raw.read(_RAW_BLOCK)
                if not more:
                    break
                self._input = more
        return b"".join(out)

    def _inflated(self, wanted: int) -> bytes:
        try:
            data = self._inflate.decompress(self._input, wanted)
        except zlib.error as exc:
            raise CorruptFile(
                f"not a valid gzip stream at compressed byte {self._raw.tell() - len(self._input)}: {exc}"
            ) from None
        if self._inflate.eof:
            self._in_member = False
            self._members += 1
            self._input = self._inflate.unused_data
        else:
            self._input = self._inflate.unconsumed_tail
        return data

    def _skip(self, count: int) -> None:
        if not self._gzip:
            self._raw.seek(count)
            return
        while count > 0:
            block = self.read(min(count, _RAW_BLOCK))
            if not block:
                return
            count -= len(block)
