"""Start-up: wall time and import time of `flowsql validate` on an example pipeline and of a
`flowsql run` over ten generated events, each in a fresh process with its bytecode cached, as an
installed flowsql has it. Run alone with `python -m benchmarks.startup`."""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "pipelines" / "clickstream_demo.sql"
TINY = (
    "CREATE SOURCE clicks (event_id BIGINT, user_id VARCHAR, page VARCHAR, price DOUBLE, ts TIMESTAMP, "
    "WATERMARK FOR ts AS ts - INTERVAL '5 seconds') WITH (connector = 'generator', count = 10);\n"
    "CREATE SINK out WITH (connector = 'file', path = '{out}', format = 'parquet');\n"
    "INSERT INTO out SELECT window_start, window_end, page, count(*) AS views, sum(price) AS revenue "
    "FROM TUMBLE(clicks, ts, INTERVAL '1 minute') GROUP BY ALL;\n"
)
# What any command needs before flowsql's own code: the engine, Arrow and the SQL parser with
# DuckDB's dialect (pandas, which pyarrow would load, is skipped: flowsql/lean_start.py).
FLOOR = "import duckdb, pyarrow, sqlglot.dialects.duckdb"
_TOP_LEVEL = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")


def environment(cache: Path) -> dict[str, str]:
    """Bytecode written to and read from `cache`, not compiled afresh on every start."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the command. CPU time is the steadier figure on a machine
    that other work shares: it leaves out the time spent waiting for a core."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_seconds(command: list[str], env: dict[str, str]) -> float:
    """The time the process spent importing: the sum of `-X importtime`'s outermost imports,
    those made by flowsql's start and those made later inside functions."""
    result = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return sum(int(m.group(1)) for line in result.stderr.splitlines() if (m := _TOP_LEVEL.match(line))) / 1e6


def measure(name: str, command: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    timed(command, env)  # fills the bytecode cache
    walls, cpus = zip(*(timed(command, env) for _ in range(runs)), strict=True)
    imports = [import_seconds(command, env) for _ in range(runs)]
    figures = {
        "wall_seconds": statistics.median(walls),
        "cpu_seconds": statistics.median(cpus),
        "import_seconds": statistics.median(imports),
    }
    print(
        f"startup    {name:<24} wall {figures['wall_seconds']:.2f} s ({min(walls):.2f}-{max(walls):.2f}), "
        f"CPU {figures['cpu_seconds']:.2f} s ({min(cpus):.2f}-{max(cpus):.2f}), "
        f"importing {figures['import_seconds']:.2f} s ({min(imports):.2f}-{max(imports):.2f})"
    )
    return figures


def run(runs: int, scratch_root: Path) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(dir=scratch_root) as scratch_dir:
        scratch = Path(scratch_dir)
        env = environment(scratch_root / "pycache")
        tiny = scratch / "tiny.sql"
        tiny.write_text(TINY.format(out=scratch / "out"))
        python = sys.executable
        return {
            "python": measure("python alone", [python, "-c", "pass"], env, runs),
            "floor": measure("duckdb+pyarrow+sqlglot", [python, "-c", FLOOR], env, runs),
            "validate": measure("flowsql validate", [python, "-m", "flowsql", "validate", str(EXAMPLE)], env, runs),
            "run": measure(
                "flowsql run, 10 events",
                [python, "-m", "flowsql", "run", str(tiny), "--quiet", "--no-checkpoint"],
                env,
                runs,
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "flowsql-bench")
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    run(args.runs, args.data_dir)


if __name__ == "__main__":
    main()
