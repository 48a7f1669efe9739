"""Pipeline-wide settings, written in the pipeline file as `SET key = value;`."""

from __future__ import annotations

from dataclasses import dataclass

from flowsql.errors import ConfigError
from flowsql.options import bind_options, choice, duration, size
from flowsql.pipeline.model import Pipeline

# Below this DuckDB cannot hold the working set of even a small query per thread.
MIN_STATE_MEMORY = 16 * 1024**2


@dataclass(frozen=True)
class PipelineSettings:
    checkpoint: str = ""  # a folder, or dynamodb://TABLE; default: beside the pipeline file
    checkpoint_interval: float = duration(5.0)  # at most this long between checkpoints
    checkpointing: bool = True
    # A row the query fails on (a cast it rejects, a division by zero, error()): 'skip' sends it
    # to the error output and goes on; 'fail' ends the run at it.
    on_query_error: str = choice("skip", "fail")
    # The most memory the engine's DuckDB database takes (window state and query work); past
    # it DuckDB spills to a temporary directory. None: DuckDB's default (80% of RAM).
    state_memory: int | None = size(None, positive=True)


def pipeline_settings(pipeline: Pipeline) -> PipelineSettings:
    settings = bind_options(PipelineSettings, pipeline.settings, "the pipeline (SET)")
    if settings.state_memory is not None and settings.state_memory < MIN_STATE_MEMORY:
        option = next(o for o in pipeline.settings if o.key.lower() == "state_memory")
        raise ConfigError(
            f"bad value {option.value!r} for option 'state_memory' of the pipeline (SET): DuckDB needs at least 16 MiB",
            option.location,
            option.source_line,
            "give a size such as '256 MB' or '2 GB'",
        )
    return settings
