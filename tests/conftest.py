"""Shared fixtures: run the CLI as a user would, and local AWS-compatible servers."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(
    *args: str,
    cwd: Path | None = None,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> CliResult:
    """Run `python -m flowsql ARGS` in a separate process, as a user runs the command."""
    completed = subprocess.run(
        [sys.executable, "-m", "flowsql", *args],
        cwd=cwd or ROOT,
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    return CliResult(completed.returncode, completed.stdout.decode(), completed.stderr.decode())


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    return run_cli


@pytest.fixture(scope="session")
def aws_env() -> Iterator[dict[str, str]]:
    """Credentials and region for local servers; no request ever leaves loopback."""
    values = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield values
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def moto_endpoint(aws_env: dict[str, str]) -> Iterator[str]:
    """A moto server process on loopback for the whole session: its endpoint URL."""
    from tests.servers.moto_server import moto_server

    with moto_server() as url:
        yield url
