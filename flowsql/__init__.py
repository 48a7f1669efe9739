"""flowsql: streaming SQL pipelines on DuckDB with Firehose-style delivery."""

__version__ = "0.1.0"
