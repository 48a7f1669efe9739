"""Inputs opened by location: a local path, a file:// URL or s3://bucket/key. Each scheme has
one opener, chosen here by the location's scheme (as PyIceberg's FileIO chooses storage), so a
reader of inputs never parses URLs or builds an AWS client itself."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, Protocol
from urllib.parse import urlsplit
from urllib.request import url2pathname

from flowsql.errors import SourceError


class UnsupportedScheme(ValueError):
    """A location whose scheme no opener reads."""


class InputOpener(Protocol):
    """Reads inputs of one scheme."""

    def open(self, location: str) -> IO[bytes]:
        """The input's bytes, to be read once and closed. Raises SourceError naming `location`
        when it cannot be read."""
        ...

    def local_path(self, location: str) -> Path | None:
        """The input's path on this machine, for readers that take a file name (DuckDB), or
        None when it must be copied here first (`fetch`)."""
        ...


class LocalOpener:
    """Plain paths and file:// URLs (file:///abs/path, file://localhost/abs/path)."""

    def open(self, location: str) -> IO[bytes]:
        path = self._path(location)
        try:
            return path.open("rb")
        except OSError as exc:
            raise SourceError(f"cannot read {location}: {exc.strerror or exc}") from None

    def local_path(self, location: str) -> Path | None:
        return self._path(location)

    @staticmethod
    def _path(location: str) -> Path:
        if not location.startswith("file:"):
            return Path(location)
        parts = urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise UnsupportedScheme(f"{location!r} names host {parts.netloc!r}: a file:// URL reads this machine only")
        return Path(url2pathname(parts.path))


class S3Opener:
    """s3://bucket/key, read through the shared AWS client settings (flowsql/aws.py)."""

    def __init__(self, endpoint_url: str = "", region: str = "") -> None:
        self.endpoint_url = endpoint_url
        self.region = region

    def open(self, location: str) -> IO[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        from flowsql import aws

        bucket, key = split_s3(location)
        client = aws.client("s3", self.region, self.endpoint_url)
        try:
            body: IO[bytes] = client.get_object(Bucket=bucket, Key=key)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(f"cannot read {location}: {exc}") from None
        return body

    def local_path(self, location: str) -> Path | None:
        return None


def split_s3(location: str) -> tuple[str, str]:
    """Bucket and key of an s3:// URL."""
    parts = urlsplit(location)
    key = parts.path.lstrip("/")
    if parts.scheme != "s3" or not parts.netloc or not key:
        raise UnsupportedScheme(f"{location!r} is not an S3 object URL: write s3://bucket/key")
    return parts.netloc, key


OpenerFactory = Callable[[str, str], InputOpener]  # (endpoint_url, region) -> opener
_OPENERS: dict[str, OpenerFactory] = {
    "file": lambda endpoint_url, region: LocalOpener(),
    "s3": S3Opener,
}


def scheme_of(location: str) -> str:
    """The location's scheme; a plain path (or a Windows drive letter) is 'file'."""
    scheme = urlsplit(location).scheme.lower() if "://" in location or location.startswith("file:") else ""
    return "file" if len(scheme) <= 1 else scheme


def opener_for(location: str, endpoint_url: str = "", region: str = "") -> InputOpener:
    """The opener for `location`'s scheme; `endpoint_url` and `region` reach the ones that call
    a service (S3)."""
    scheme = scheme_of(location)
    if scheme not in _OPENERS:
        raise UnsupportedScheme(
            f"cannot open {location!r}: no opener for scheme '{scheme}' "
            f"(use a local path, {', '.join(f'{s}://' for s in sorted(_OPENERS))})"
        )
    return _OPENERS[scheme](endpoint_url, region)


def fetch(location: str, target: Path, endpoint_url: str = "", region: str = "") -> None:
    """Copy the input at `location` into the local file `target`."""
    from botocore.exceptions import BotoCoreError  # how an S3 body reports a broken read

    opener = opener_for(location, endpoint_url, region)
    with opener.open(location) as source, target.open("wb") as out:
        try:
            shutil.copyfileobj(source, out)
        except (OSError, BotoCoreError) as exc:
            raise SourceError(f"cannot read {location}: {exc}") from None
