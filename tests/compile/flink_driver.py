"""Run a compiled Flink SQL script on PyFlink's local mini-cluster (streaming mode).

Executed with the PyFlink virtual environment's python, never imported by flowsql's tests:
    python flink_driver.py job.sql [parallelism]
SET lines configure the table environment, CREATE statements run one by one, and the
statement set's inserts run as one job that the driver waits for.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from pyflink.table import EnvironmentSettings, TableEnvironment


def statements(script: str) -> list[str]:
    text = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", text) if s.strip()]


def main(path: str, parallelism: str = "1") -> None:
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


if __name__ == "__main__":
    main(*sys.argv[1:3])
