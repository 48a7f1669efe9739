"""The pipeline file: parsing and the declarations it holds."""

from flowsql.pipeline.model import Column, Pipeline, QueryDecl, SinkDecl, SourceDecl, Watermark
from flowsql.pipeline.parser import interval_seconds, load_pipeline, parse_text

__all__ = [
    "Column", "Pipeline", "QueryDecl", "SinkDecl", "SourceDecl", "Watermark",
    "interval_seconds", "load_pipeline", "parse_text",
]
