"""The report clock of EMIT EVERY: cuts inside a micro-batch, live ticks, the final snapshot."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pyarrow as pa

from flowsql.cdc.source import create_change_source
from flowsql.engine import Engine, plan_pipeline
from flowsql.pipeline import parse_text

TEXT = """
CREATE TABLE t (id BIGINT, v BIGINT, PRIMARY KEY (id)) WITH (connector = 'stdin', format = 'changes-json');
CREATE SINK out WITH (connector = 'stdout');
INSERT INTO out SELECT count(*) AS n, sum(v) AS total FROM t EMIT EVERY INTERVAL '10' SECOND;
"""
T0 = datetime(2024, 1, 1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def micros(seconds: float) -> int:
    return int((at(seconds) - datetime(1970, 1, 1)).total_seconds() * 1_000_000)


def test_snapshots_follow_arrival_time_including_live_ticks() -> None:
    pipeline = parse_text(TEXT)
    source = create_change_source(pipeline.tables["t"])
    plan = plan_pipeline(pipeline, {"t": source.schema})
    outputs: list[pa.Table] = []
    engine = Engine(plan, lambda sink, rows: outputs.append(rows), lambda op, rejected: None)
    changes = pa.table(
        {
            "op": ["c", "c", "c"],
            "id": [1, 2, 3],
            "v": [1, 2, 3],
            "change_time": [at(0), at(4), at(11)],
            "change_position": [Decimal(1), Decimal(2), Decimal(3)],
            "arrival_time": [at(1), at(5), at(12)],
        }
    ).cast(source.schema)

    def snapshots() -> list[tuple]:  # type: ignore[type-arg]
        return [(r["snapshot_time"], r["n"], r["total"]) for t in outputs for r in t.to_pylist()]

    engine.push("t", changes)
    assert snapshots() == [(at(10), 2, 3)]  # the batch is cut where arrival time reaches 00:00:10
    engine.tick("t", micros(25))
    assert snapshots()[1:] == [(at(20), 3, 6)]  # nothing arrived, the clock moved on
    engine.tick("t", micros(26))
    assert len(snapshots()) == 2
    engine.finish("t")
    assert snapshots()[2:] == [(at(26), 3, 6)]  # the final snapshot, at the clock's last value
