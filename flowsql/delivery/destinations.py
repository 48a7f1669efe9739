"""Destinations write one encoded object under a name, idempotently: writing the same name
again replaces it, so a replay after a crash overwrites instead of duplicating."""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Protocol

from flowsql.errors import DeliveryError
from flowsql.metrics import DeliveryReporter

# A staged object's name: 24 hex digits of its key's hash and the key's extension. Object names
# always hold a '-' (pipeline-sink-...), so nothing a prefix writes can look staged.
_STAGED_NAME = re.compile(r"[0-9a-f]{24}(\.[A-Za-z0-9]+)?")


def staged_name(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24] + PurePosixPath(key).suffix


def is_staged_name(name: str) -> bool:
    """Only names staged_name() makes are ever discarded as orphans: an object that a prefix
    placed inside a staging folder is data, not an orphan."""
    return _STAGED_NAME.fullmatch(name) is not None


class Destination(Protocol):
    """Where a sink's objects go. With checkpoints, objects are first *staged* (stored where no
    reader of the lake looks) and *promoted* to their final key once the checkpoint naming
    them has committed; promoting twice is harmless (see flowsql/checkpoint)."""

    def write(self, key: str, data: bytes, content_type: str) -> str:
        """Store `data` under `key` now; returns where it landed (a path or URL)."""
        ...

    def stage(self, key: str, data: bytes, content_type: str) -> str:
        """Store `data` for `key` out of sight; returns the staged object's id."""
        ...

    def promote(self, staged: str, key: str) -> str:
        """Move a staged object to `key`; a no-op when that already happened."""
        ...

    def use_staging(self, folder: Path, pipeline: str) -> None:
        """Stage from now on: `folder` is a local place the checkpoint store owns."""
        ...

    def discard_staged(self, keep: set[str]) -> int:
        """Delete staged objects not in `keep` (left by a run that crashed before its commit)."""
        ...

    def remove_named(self, under: str, name_start: str) -> int:
        """Delete the objects under the key prefix `under` whose names start with `name_start`."""

    def describe(self) -> str: ...


class LocalDestination:
    """Objects as files under a root folder, each written whole to a temporary file and
    renamed into place, so a reader never sees half an object."""

    def __init__(self, root: str, staging: Path | None = None) -> None:
        self.root = Path(root)
        self.staging = staging  # set by the checkpoint coordinator
        self.reporter: DeliveryReporter | None = None

    def bind_metrics(self, reporter: DeliveryReporter) -> None:
        self.reporter = reporter

    @contextmanager
    def _counting_failure(self, key: str) -> Iterator[None]:
        """A write the file system refuses (full, read-only, no permission) is a failed delivery:
        nothing retries it, and the run stops with the error."""
        try:
            yield
        except OSError as exc:
            if self.reporter is not None:
                self.reporter.failure(f"cannot write {key} under {self.root}: {exc.strerror or exc}")
            raise

    def use_staging(self, folder: Path, pipeline: str) -> None:
        self.staging = folder

    def stage(self, key: str, data: bytes, content_type: str) -> str:
        if self.staging is None:
            raise DeliveryError("staging needs a checkpoint state folder")
        path = self.staging / staged_name(key)
        with self._counting_failure(key):
            _write_atomically(path, data)
        return str(path)

    def promote(self, staged: str, key: str) -> str:
        target = self._target(key)
        if not os.path.exists(staged):
            if target.exists():
                return str(target)
            raise DeliveryError(f"staged object {staged} for {key} is gone and was never promoted")
        with self._counting_failure(key):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(staged, target)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                # The state folder is on another file system: copy whole, then rename in place.
                _write_atomically(target, Path(staged).read_bytes())
                os.unlink(staged)
        return str(target)

    def discard_staged(self, keep: set[str]) -> int:
        if self.staging is None or not self.staging.exists():
            return 0
        removed = 0
        for path in self.staging.iterdir():
            if str(path) not in keep and path.is_file() and is_staged_name(path.name):
                path.unlink()
                removed += 1
        return removed

    def remove_named(self, under: str, name_start: str) -> int:
        folder = self._target(under) if under else self.root
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.rglob(f"{glob.escape(name_start)}*"):
            if path.is_file() and (self.staging is None or self.staging not in path.parents):
                path.unlink()
                removed += 1
        return removed

    def _target(self, key: str) -> Path:
        target = (self.root / key).resolve()
        root = self.root.resolve()
        if root not in target.parents:
            raise DeliveryError(f"object key {key!r} would leave the sink's folder {root}")
        return target

    def describe(self) -> str:
        return str(self.root)

    def write(self, key: str, data: bytes, content_type: str) -> str:
        target = self._target(key)
        with self._counting_failure(key):
            _write_atomically(target, data)
        return str(target)


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".flowsql-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
