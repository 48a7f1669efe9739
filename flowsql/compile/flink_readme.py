"""The README written beside a compiled Flink job: what it needs, how to run it, and where
it behaves differently from `flowsql run`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowsql.compile.flink_common import FLINK_VERSION

if TYPE_CHECKING:
    from flowsql.compile.flink import FlinkJob


def job_readme(job: FlinkJob, script_name: str) -> str:
    name = job.pipeline.name
    lines = [
        f"# Flink SQL job: {name}",
        "",
        f"Compiled from `{job.pipeline.path}` by `flowsql compile --target flink`. "
        f"`{script_name}` is a Flink SQL script for Flink {FLINK_VERSION} or later: it declares the sources "
        "and sinks as tables, the views, and runs every INSERT in one statement set.",
        "",
        "## Connector jars",
        "",
    ]
    if job.jars:
        lines += ["| Maven coordinates | what for |", "| --- | --- |"]
        lines += [f"| `{jar.coordinates}` | {jar.why} |" for jar in job.jars]
        lines.append("")
        lines.append("The JSON format and the filesystem connector ship with Flink itself.")
    else:
        lines.append("None beyond Flink itself (the filesystem connector and the JSON format ship with it).")
    lines += [
        "",
        "## Run it",
        "",
        "- Self-managed cluster: put the jars in `lib/` (file system plugins such as `flink-s3-fs-hadoop` in "
        "`plugins/<name>/`), then `./bin/sql-client.sh -f " + script_name + "`.",
        "- Managed Service for Apache Flink: package the script with the jars in an application (Studio "
        "notebook, or a small Table API program that runs each statement), and give the application's role "
        "read access to the Kinesis streams and write access to the S3 paths. See docs/scaling.md in flowsql.",
        "",
        "Checkpointing, restarts and exactly-once delivery are Flink's in this job: the filesystem sink "
        "finishes files at checkpoints, so results appear one checkpoint interval after a window closes.",
        "",
        "## Differences from `flowsql run`",
        "",
        "- Timestamps are milliseconds (`TIMESTAMP(3)`): Flink's time attributes are; flowsql keeps microseconds.",
        "- Files are named by Flink (`part-<uuid>-<n>`), folders are `name=value` partition folders.",
    ]
    lines += [f"- {note}" for note in job.notes]
    return "\n".join(lines) + "\n"
