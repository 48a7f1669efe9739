"""CSV records over Kinesis: a record holds one row or several (KDA's RecordRowDelimiter); bad
rows go to the error output with the record's shard and sequence number."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.conftest import run_cli
from tests.sources.test_csv import _batch_answer, _csv_text, _events, _window_rows


def test_csv_records_over_kinesis_one_or_several_rows_per_record(kinesalite, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from flowsql.produce import produce

    rows = _events(400, seed=3)
    lines = [_csv_text([row], "|", None) for row in rows]  # a quoted field may hold a newline
    # KDA splits a record at its row delimiter: some records hold three rows.
    records, index = [], 0
    while index < len(lines):
        take = 3 if index % 7 == 0 else 1
        records.append("".join(lines[index : index + take]).encode())
        index += take
    bad = [b"bad|many|2024-01-01 00:00:00", b'"open quote|1|2024-01-01 00:00:00']
    records.insert(5, bad[0] + b"\n")
    records.insert(9, bad[1])
    stream = kinesalite.create_stream(2)
    assert produce(stream, records, endpoint_url=kinesalite.url).ok
    out = tmp_path / "out"
    pipeline = tmp_path / "p.sql"
    pipeline.write_text(f"""
CREATE SOURCE events (user_id VARCHAR, amount BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
WITH (connector = 'kinesis', stream = '{stream}', endpoint_url = '{kinesalite.url}', region = 'us-east-1',
      format = 'csv', delimiter = '|', null_string = 'NULL', idle_interval = '100 ms', max_future = '1000 days');
CREATE SINK o WITH (connector = 'file', path = '{out}', format = 'json', buffer_interval = '0 s');
INSERT INTO o
SELECT window_start, user_id, count(*) AS n, sum(amount) AS total
FROM TUMBLE(events, ts, INTERVAL '1' MINUTE) GROUP BY ALL;
""")
    result = run_cli("run", str(pipeline), "--until-caught-up", "--no-checkpoint", timeout=120)
    assert result.code == 0, result.stderr
    assert _window_rows(out) == _batch_answer(rows)
    errors = [json.loads(line) for f in (out / "errors").rglob("*.json") for line in f.read_text().splitlines()]
    by_data = {base64.b64decode(e["rawData"]): e for e in errors}
    assert sorted(by_data) == sorted(bad)
    assert "column 'amount'" in by_data[bad[0]]["errorMessage"]
    assert all(e["position"].startswith("shardId-") for e in errors)
