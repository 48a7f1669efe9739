"""The Kinesis source's `shard_column`: each row carries the id of the shard its record came
from, which a KDA application reads as SHARD_ID."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.kinesis.conftest import read_json_rows


def test_shard_id_is_the_shard_each_record_was_put_to(kinesalite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stream = kinesalite.create_stream(2)
    client = kinesalite.client()
    shard_of: dict[int, str] = {}
    for n in range(40):
        answer = client.put_record(
            StreamName=stream,
            PartitionKey=f"key-{n}",
            Data=json.dumps({"n": n, "ticker": ["AMZN", "WMT"][n % 2]}).encode(),
        )
        shard_of[n] = answer["ShardId"]
    assert len(set(shard_of.values())) == 2  # the keys spread over both shards
    out = tmp_path / "out"
    pipeline = tmp_path / "app.sql"
    pipeline.write_text(f"""
CREATE SOURCE "SOURCE_SQL_STREAM_001" ("n" INTEGER, "SHARD_ID" VARCHAR, "ticker" VARCHAR)
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{kinesalite.url}', region = 'us-east-1',
      idle_interval = '100 ms', shard_column = 'SHARD_ID');
CREATE SINK "DESTINATION_SQL_STREAM" WITH (connector = 'file', path = '{out}', format = 'json',
                                          buffer_interval = '0 s');
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (n INTEGER, shard VARCHAR(64), ticker VARCHAR(4));
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
    SELECT STREAM "n", SHARD_ID, "ticker" FROM "SOURCE_SQL_STREAM_001";
""")
    result = run_cli("run", str(pipeline), "--until-caught-up", "--no-checkpoint", timeout=120)
    assert result.code == 0, result.stderr
    rows = read_json_rows(out)
    assert sorted((row["N"], row["SHARD"]) for row in rows) == sorted(shard_of.items())


def test_shard_column_must_be_a_declared_varchar(kinesalite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pipeline = tmp_path / "app.sql"
    for columns, words in [
        ('"n" INTEGER', "shard_column 'SHARD_ID' is not a declared column"),
        ('"n" INTEGER, "SHARD_ID" INTEGER', "shard_column 'SHARD_ID' must be declared VARCHAR"),
    ]:
        pipeline.write_text(f"""
CREATE SOURCE s ({columns}) WITH (connector = 'kinesis', stream = 'x', endpoint_url = '{kinesalite.url}',
      region = 'us-east-1', shard_column = 'SHARD_ID');
CREATE SINK o WITH (connector = 'stdout');
INSERT INTO o SELECT n FROM s;
""")
        result = run_cli("validate", str(pipeline))
        assert result.code == 2, result.stderr
        assert words in result.stderr
