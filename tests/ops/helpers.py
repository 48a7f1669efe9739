"""Reading the Prometheus endpoint and waiting for figures in tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Self

from tests.waiting import wait_until

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_exposition(text: str) -> Samples:
    samples: Samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        labels = frozenset(_LABEL.findall(match.group(2) or ""))
        samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def scrape(port: int) -> tuple[str, Samples]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return text, parse_exposition(text)


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def wait_for(check: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    wait_until(check, timeout, what)


class RunningPipeline:
    """`flowsql run FILE ARGS --metrics-port P` in a process of its own, as a user starts it:
    `samples()` scrapes its endpoint, `stop()` sends SIGINT and returns the exit code and stderr."""

    def __init__(self, pipeline: Path, *args: str, env: dict[str, str] | None = None) -> None:
        from tests.conftest import ROOT
        from tests.servers.ports import free_port

        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flowsql", "run", str(pipeline), "--metrics-port", str(self.port), *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def __enter__(self) -> Self:
        from tests.servers.ports import wait_for_port

        try:
            wait_for_port(self.port, process=self.process)
        except (RuntimeError, TimeoutError):
            self.process.kill()
            raise RuntimeError(self.process.communicate()[1].decode()) from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()

    def samples(self) -> Samples:
        return scrape(self.port)[1]

    def figure(self, name: str, **labels: str) -> float:
        return value(self.samples(), name, **labels) or 0.0

    def stop(self, timeout: float = 60.0) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 60.0) -> tuple[int, str]:
        _, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stderr.decode()
