"""Compile a pipeline file for another engine, so the same file runs beyond one machine.

Only writes text: the target engine and its packages are never imported here.
"""

from flowsql.compile.flink import FlinkJob, compile_flink
from flowsql.compile.unsupported import UnsupportedError

TARGETS = ("flink",)

__all__ = ["TARGETS", "FlinkJob", "UnsupportedError", "compile_flink"]
