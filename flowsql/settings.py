"""Pipeline-wide settings, written in the pipeline file as `SET key = value;`."""

from __future__ import annotations

from dataclasses import dataclass

from flowsql.options import bind_options, choice, duration
from flowsql.pipeline.model import Pipeline


@dataclass(frozen=True)
class PipelineSettings:
    checkpoint: str = ""  # a folder, or dynamodb://TABLE; default: beside the pipeline file
    checkpoint_interval: float = duration(5.0)  # at most this long between checkpoints
    checkpointing: bool = True
    # A row the query fails on (a cast it rejects, a division by zero, error()): 'skip' sends it
    # to the error output and goes on; 'fail' ends the run at it.
    on_query_error: str = choice("skip", "fail")


def pipeline_settings(pipeline: Pipeline) -> PipelineSettings:
    return bind_options(PipelineSettings, pipeline.settings, "the pipeline (SET)")
