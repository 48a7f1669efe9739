"""Streams whose shards differ in size, written in event-time order, and DuckDB's batch answers
for window queries over the records actually stored (their own arrival times included).

A lane is one explicit hash key; each shard of a fresh stream has two lanes (at a quarter and at
three quarters of its hash range), so a split sends one lane to each child and a merge takes both.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tests.waiting import wait_until

T0 = datetime(2024, 5, 1, 12, 0, 0)
STEP = timedelta(milliseconds=50)
PAUSE_EVERY = 500  # every this many records, event time jumps PAUSE ahead (sessions break there)
PAUSE = timedelta(seconds=3)


def lanes_of(client: Any, stream: str) -> list[list[str]]:
    """Per open shard of the stream, its two explicit hash keys."""
    lanes = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        low, high = int(shard["HashKeyRange"]["StartingHashKey"]), int(shard["HashKeyRange"]["EndingHashKey"])
        lanes.append([str(low + (high - low) // 4), str(low + 3 * (high - low) // 4)])
    return lanes


@dataclass
class LaneWriter:
    """Writes records `{"id", "key", "ts"}` in event-time order; shard k of the lanes gets
    `weights[k]` of them, so shards of very unequal size cover the same span of event time."""

    client: Any
    stream: str
    lanes: list[list[str]]
    weights: list[float]
    seed: int = 7
    next_id: int = 0
    per_shard: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def event_time(self, index: int) -> datetime:
        return T0 + STEP * index + PAUSE * (index // PAUSE_EVERY)

    def put(self, count: int, call_size: int = 250, pace: float = 0.03) -> None:
        """`pace` seconds between calls spread the records' arrival times over a few seconds."""
        for start in range(0, count, call_size):
            entries = []
            for _ in range(min(call_size, count - start)):
                i = self.next_id
                shard = self.rng.choices(range(len(self.lanes)), self.weights)[0]
                self.per_shard[shard] = self.per_shard.get(shard, 0) + 1
                record = {"id": i, "key": f"k{i % 5}", "ts": self.event_time(i).isoformat(sep=" ")}
                entries.append(
                    {
                        "Data": json.dumps(record).encode(),
                        "PartitionKey": f"k{i % 5}",
                        "ExplicitHashKey": self.rng.choice(self.lanes[shard]),
                    }
                )
                self.next_id += 1
            answer = self.client.put_records(StreamName=self.stream, Records=entries)
            assert answer.get("FailedRecordCount", 0) == 0, answer
            # The next call's records must arrive later on the server's clock (this machine's).
            after = time.monotonic() + pace
            wait_until(lambda after=after: time.monotonic() >= after, pace + 5, "the arrival clock to move on")


def stored_records(client: Any, stream: str) -> pa.Table:
    """Every record of every shard, read with plain GetRecords: id, key, ts and arrival_time."""
    rows = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = client.get_records(ShardIterator=iterator, Limit=10_000)
            for record in answer["Records"]:
                data = json.loads(record["Data"])
                arrival = record["ApproximateArrivalTimestamp"].astimezone(UTC).replace(tzinfo=None)
                rows.append(
                    {
                        "id": data["id"],
                        "key": data["key"],
                        "ts": datetime.fromisoformat(data["ts"]),
                        "arrival_time": arrival,
                    }
                )
            if not answer["Records"] and not answer.get("MillisBehindLatest"):
                break
            iterator = answer.get("NextShardIterator")
    return pa.Table.from_pylist(rows)


WINDOW_QUERIES = {
    # name: (window call, GROUP BY keys besides the window)
    "tumble": ("TUMBLE(events, {col}, INTERVAL '{size}')", ""),
    "hop": ("HOP(events, {col}, INTERVAL '{slide}', INTERVAL '{size}')", ""),
    "session": ("SESSION(events, {col}, INTERVAL '{gap}')", "key, "),
}


def sink_and_query(name: str, column: str, sizes: dict[str, str], out: Path) -> str:
    call, keys = WINDOW_QUERIES[name]
    sink = f"{name}_{column}"
    window = call.format(col=column, **sizes)
    return (
        f"CREATE SINK {sink} WITH (connector = 'file', path = '{out / sink}', format = 'json', "
        f"buffer_interval = '0 s');\n"
        f"INSERT INTO {sink} SELECT {keys}window_start, window_end, count(*) AS n, sum(id) AS ids "
        f"FROM {window} GROUP BY ALL;\n"
    )


def batch_answer(records: pa.Table, name: str, column: str, sizes: dict[str, str]) -> list[tuple]:
    """The windows DuckDB computes in one pass over every record."""
    con = duckdb.connect()
    con.register("events", records)
    if name == "tumble":
        sql = f"""SELECT time_bucket(INTERVAL '{sizes["size"]}', {column}, TIMESTAMP '1970-01-01') AS ws,
                         ws + INTERVAL '{sizes["size"]}' AS we, count(*), sum(id) FROM events GROUP BY ALL"""
    elif name == "hop":
        sql = f"""WITH w AS (SELECT id, time_bucket(INTERVAL '{sizes["slide"]}', {column}, TIMESTAMP '1970-01-01')
                                 - k * INTERVAL '{sizes["slide"]}' AS ws
                             FROM events, range(CAST(epoch(INTERVAL '{sizes["size"]}')
                                                     / epoch(INTERVAL '{sizes["slide"]}') AS BIGINT)) AS r(k))
                  SELECT ws, ws + INTERVAL '{sizes["size"]}' AS we, count(*), sum(id) FROM w GROUP BY ALL"""
    else:
        sql = f"""WITH o AS (SELECT key, id, {column} AS t,
                                    lag({column}) OVER (PARTITION BY key ORDER BY {column}, id) AS prev FROM events),
                  s AS (SELECT *, sum(CASE WHEN prev IS NULL OR t - prev >= INTERVAL '{sizes["gap"]}' THEN 1 ELSE 0
                                      END) OVER (PARTITION BY key ORDER BY t, id) AS session FROM o)
                  SELECT key, min(t), max(t) + INTERVAL '{sizes["gap"]}', count(*), sum(id) FROM s
                  GROUP BY key, session"""
    return sorted(tuple(row) for row in con.execute(sql).fetchall())


def emitted(folder: Path, name: str) -> tuple[list[tuple], list[dict]]:
    """The windows a sink wrote, and its error records."""
    rows, errors = [], []
    for file in sorted(folder.rglob("*")):
        if file.is_file():
            for line in file.read_text().splitlines():
                if line.strip():
                    record = json.loads(line)
                    (errors if "errorCode" in record else rows).append(record)
    windows = []
    for row in rows:
        bounds = (
            datetime.fromisoformat(row["window_start"]),
            datetime.fromisoformat(row["window_end"]),
            row["n"],
            row["ids"],
        )
        windows.append(((row["key"],) if name == "session" else ()) + bounds)
    return sorted(windows), errors
