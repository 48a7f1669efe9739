"""Pipeline-wide settings, written in the pipeline file as `SET key = value;`."""

from __future__ import annotations

from dataclasses import dataclass

from flowsql.options import bind_options, duration
from flowsql.pipeline.model import Pipeline


@dataclass(frozen=True)
class PipelineSettings:
    checkpoint: str = ""  # a folder, or dynamodb://TABLE; default: beside the pipeline file
    checkpoint_interval: float = duration(5.0)  # at most this long between checkpoints
    checkpointing: bool = True


def pipeline_settings(pipeline: Pipeline) -> PipelineSettings:
    return bind_options(PipelineSettings, pipeline.settings, "the pipeline (SET)")
