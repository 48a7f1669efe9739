"""Benchmarks: flowsql against a one-shot baseline on the same data, in the same run."""
