"""The pipeline file: parsing and the declarations it holds."""

from flowsql.pipeline.model import (
    Column,
    EmitPolicy,
    Pipeline,
    QueryDecl,
    SinkDecl,
    SourceDecl,
    TableDecl,
    Watermark,
)
from flowsql.pipeline.parser import interval_seconds, load_pipeline, parse_text

__all__ = [
    "Column",
    "EmitPolicy",
    "Pipeline",
    "QueryDecl",
    "SinkDecl",
    "SourceDecl",
    "TableDecl",
    "Watermark",
    "interval_seconds",
    "load_pipeline",
    "parse_text",
]
