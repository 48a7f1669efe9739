"""The KDA operators' state survives a checkpoint: an engine restored from a snapshot taken
half way gives the same rows as one run over all the input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from flowsql.engine import Engine
from flowsql.pipeline import load_pipeline
from flowsql.runner import PipelineRun
from tests.conftest import ROOT
from tests.kda.helpers import EXAMPLES


def _batches(name: str) -> tuple[PipelineRun, list[pa.Table]]:
    """The example's input decoded as the file source decodes it, one record per batch."""
    run = PipelineRun(load_pipeline(EXAMPLES / f"{name}.sql"))
    source = next(iter(run.sources.values()))
    data = ROOT / source.options.path  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    batches = [
        source.decoder.decode(line, str(data), 0, now)[0]  # type: ignore[attr-defined]
        for line in data.read_bytes().splitlines()
    ]
    return run, batches


def _engine(run: PipelineRun, out: list[dict[str, object]]) -> Engine:
    return Engine(run.plan, lambda sink, rows: out.extend(rows.to_pylist()), lambda op, rejected: None)


@pytest.mark.parametrize(
    "name",
    [
        "sliding_average",
        "sliding_rows",
        "stagger_window",
        "weather_sliding_min_max",
        "stream_join",
        "stream_join_outer",
        "multiple_pumps",
        "output_read_by_pumps",
        "anomaly_detection",
        "anomaly_explanation",
    ],
)
def test_restored_engine_continues_where_the_snapshot_was(name: str) -> None:
    run, batches = _batches(name)
    source = next(iter(run.sources))
    whole: list[dict[str, object]] = []
    engine = _engine(run, whole)
    for batch in batches:
        engine.push(source, batch)
    engine.finish()

    half = len(batches) // 2
    resumed: list[dict[str, object]] = []
    first = _engine(run, resumed)
    for batch in batches[:half]:
        first.push(source, batch)
    data, tables = first.snapshot()
    second = _engine(run, resumed)
    second.restore(json.loads(json.dumps(data)), tables)
    for batch in batches[half:]:
        second.push(source, batch)
    second.finish()
    # Rows of one emission come in the order DuckDB's GROUP BY gives them, which is not fixed.
    assert sorted(map(repr, resumed)) == sorted(map(repr, whole)) and len(whole) > 0
