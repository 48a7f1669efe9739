"""Runs one benchmark pipeline in a process of its own and prints, as JSON, the seconds its run
took (imports and planning excluded, as for the in-process figures) and the process's peak RSS."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from flowsql.pipeline import parse_text
from flowsql.runner import PipelineRun


def peak_rss_mib() -> float:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child started by a large
    # parent would report the parent's peak.
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+)", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def main(path: str) -> None:
    run = PipelineRun(parse_text(Path(path).read_text(), path))
    started = time.perf_counter()
    summary = run.run()
    elapsed = time.perf_counter() - started
    if summary.errors:
        raise SystemExit(f"{summary.errors} records failed to decode")
    print(json.dumps({"seconds": elapsed, "peak_mib": peak_rss_mib(), "events": summary.events, "late": summary.late}))


if __name__ == "__main__":
    main(sys.argv[1])
