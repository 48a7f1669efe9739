"""The Kinesis Data Analytics SQL front end: KDA application code (streams, pumps, STEP
windows, KDA functions) translated onto flowsql's planner and engine."""

from flowsql.kda.parser import add_kda_statement, is_kda_statement

__all__ = ["add_kda_statement", "is_kda_statement"]
