"""Run compiled Flink SQL scripts on PyFlink's local mini-cluster (streaming mode).

Executed with the PyFlink virtual environment's python, never imported by flowsql's tests:
    python flink_driver.py job.sql [parallelism]
    python flink_driver.py --report report.json job1.sql job2.sql ...
SET lines configure the table environment, CREATE statements run one by one, and the
statement set's inserts run as one job that the driver waits for. With --report, every
script runs in this one process (one JVM) and each one's outcome is written as JSON:
"ok", or the first lines of its error.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from pathlib import Path

from pyflink.table import EnvironmentSettings, TableEnvironment


def statements(script: str) -> list[str]:
    text = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", text) if s.strip()]


def run_script(path: str, parallelism: str = "1") -> None:
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("parallelism.default", parallelism)
    # A failing job must fail the run, not restart for ever (checkpointing's default strategy).
    env.get_config().set("restart-strategy.type", "none")
    inserts: list[str] = []
    in_set = False
    for statement in statements(Path(path).read_text()):
        setting = re.match(r"SET\s+'([^']+)'\s*=\s*'([^']*)'$", statement, re.IGNORECASE)
        if setting:
            env.get_config().set(setting.group(1), setting.group(2))
            continue
        opening = re.match(r"EXECUTE\s+STATEMENT\s+SET\s+BEGIN\s+(.*)$", statement, re.IGNORECASE | re.DOTALL)
        if opening:
            in_set, statement = True, opening.group(1)
        if in_set and statement.upper() == "END":
            in_set = False
            statement_set = env.create_statement_set()
            for insert in inserts:
                statement_set.add_insert_sql(insert)
            statement_set.execute().wait()
            continue
        if in_set:
            inserts.append(statement)
        else:
            env.execute_sql(statement).wait()


def _reason(error: BaseException) -> str:
    """The Java cause lines of a failed job, which say why (Python's own frames do not)."""
    text = "".join(traceback.format_exception_only(type(error), error))
    causes = [line.strip() for line in text.splitlines() if "Exception" in line or "Error" in line]
    return "\n".join(causes[:8]) or text[-2000:]


def run_all(report: str, paths: list[str]) -> None:
    outcomes: dict[str, str] = {}
    for path in paths:
        try:
            run_script(path)
            outcomes[path] = "ok"
        except Exception as error:  # noqa: BLE001 - one failing job must not stop the others
            outcomes[path] = _reason(error)
        Path(report).write_text(json.dumps(outcomes, indent=2))


if __name__ == "__main__":
    if sys.argv[1] == "--report":
        run_all(sys.argv[2], sys.argv[3:])
    else:
        run_script(*sys.argv[1:3])
