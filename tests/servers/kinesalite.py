"""kinesalite (npm) as a separate node process on loopback: a second Kinesis implementation.

Its CLI (`node_modules/kinesalite/cli.js --port P`) listens on every interface, so the same
package is started through its module API to bind 127.0.0.1 only, with no stream-state delays.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers.ports import free_port, wait_for_port

SERVERS = Path(__file__).resolve().parent
MODULE = SERVERS / "node_modules" / "kinesalite"

_START = (
    "require(process.argv[1])({createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 200})"
    ".listen(Number(process.argv[2]), '127.0.0.1')"
)


def available() -> bool:
    return MODULE.is_dir() and shutil.which("node") is not None


@contextmanager
def kinesalite_server() -> Iterator[str]:
    """Start kinesalite on a free loopback port; yields its endpoint URL."""
    if not available():
        raise RuntimeError("kinesalite is not installed: run `npm install` in tests/servers (scripts/test.sh does)")
    port = free_port()
    process = subprocess.Popen(
        ["node", "-e", _START, str(MODULE), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=SERVERS,
    )
    try:
        wait_for_port(port, process=process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
