"""Waiting in tests: poll a condition until it holds or a deadline passes, so a test waits for
what it needs (a file, a metric, a log line) and never for a guessed length of time."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Short enough that a test goes on soon after its condition holds, long enough that polling a
# file or an endpoint costs nothing.
_POLL_INTERVAL = 0.01


def wait_until(
    condition: Callable[[], T], deadline_s: float, what: str, process: subprocess.Popen[bytes] | None = None
) -> T:
    """Call `condition` until it returns something true, and return that. After `deadline_s`
    seconds raise AssertionError naming `what`; with `process`, fail at once if it exits first
    (whatever it waited for will not come)."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = condition()
        if result:
            return result
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited ({process.returncode}) before {what}{_stderr(process)}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {deadline_s:g} s waiting for {what}")
        time.sleep(_POLL_INTERVAL)  # the one sleep of the tests' waiting


def _stderr(process: subprocess.Popen[bytes]) -> str:
    """What an exited process said on a piped stderr, to show why it stopped."""
    if process.stderr is None or process.stderr.closed:
        return ""
    return ": " + process.stderr.read().decode(errors="replace")[-4000:]
