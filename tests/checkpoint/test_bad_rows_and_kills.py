"""Random input with random bad rows (values a CAST rejects, NULL / empty / path-like partition
keys, event times that cannot be true, malformed lines), killed at random points of its progress
and restarted: the lake equals one clean run, every good row is there once, and the error output
holds exactly the bad records, each with its reason and original bytes."""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.checkpoint.test_crash_recovery import FOLLOW, NO_FOLLOW, run_with_kills
from tests.conftest import run_cli

PIPELINE = """
SET checkpoint_interval = '0.3 s';
CREATE SOURCE s (id BIGINT, page VARCHAR, amount VARCHAR, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '3 seconds')
WITH (connector = 'file', path = '{data}', chunk_size = '16 KB', {follow});

CREATE SINK raw WITH (connector = 'file', path = '{out}/raw', format = 'json',
    prefix = 'page=!{{partitionKeyFromQuery:page}}/', buffer_interval = '0 s');
CREATE SINK minutes WITH (connector = 'file', path = '{out}/minutes', format = 'json', buffer_interval = '0 s');

INSERT INTO raw SELECT id, page, CAST(amount AS INTEGER) AS amount, ts FROM s;

INSERT INTO minutes
SELECT window_start, page, count(*) AS n, sum(CAST(amount AS INTEGER)) AS total
FROM TUMBLE(s, ts, INTERVAL '1' MINUTE) GROUP BY ALL;
"""

PAGES = [None, "", " ", "a/b", "home", "..", "__HIVE_DEFAULT_PARTITION__", ".flowsql-staging", "x=y"]


def make_input(rng: random.Random, count: int) -> tuple[bytes, set[int], set[int]]:
    """NDJSON lines; the ids of rows a query fails on and of records that are bad on their own."""
    lines, failing, bad = [], set(), set()
    at = datetime(2024, 1, 1)
    for i in range(count):
        at += timedelta(milliseconds=rng.randint(0, 400))
        ts = at - timedelta(milliseconds=rng.randint(0, 2500))  # disorder inside the watermark's delay
        amount = str(rng.randint(-50, 500))
        record: dict[str, object] = {"id": i, "page": rng.choice(PAGES), "amount": amount, "ts": ts.isoformat(sep=" ")}
        roll = rng.random()
        if roll < 0.004:
            record["amount"] = "oops"
            failing.add(i)
        elif roll < 0.006:
            record["ts"] = rng.choice(["2099-06-01 00:00:00", "infinity", "10000-01-01 00:00:00"])
            bad.add(i)
        line = json.dumps(record)
        if 0.006 <= roll < 0.007:
            line = line[:-5]  # cut short: malformed JSON
            bad.add(i)
        lines.append(line)
    return ("\n".join(lines) + "\n").encode(), failing, bad


def lake(out: Path) -> dict[str, list[str]]:
    """Each sink's rows as sorted JSON text (NULLs compare as text too)."""

    def rows(name: str) -> list[str]:
        files = [f for f in (out / name).rglob("*.json") if "errors" not in f.parts]
        return sorted(
            json.dumps(json.loads(line), sort_keys=True) for f in files for line in f.read_text().splitlines()
        )

    return {"raw": rows("raw"), "minutes": rows("minutes")}


def error_records(out: Path) -> list[dict]:
    return [json.loads(line) for f in out.rglob("*.json") if "errors" in f.parts for line in f.read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bad_rows_and_kills_give_one_clean_run(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    content, failing, bad = make_input(rng, 20_000)
    data = tmp_path / "in.ndjson"
    data.write_bytes(content)
    reference = tmp_path / "reference.sql"
    reference.write_text(PIPELINE.format(data=data, out=tmp_path / "ref", follow=NO_FOLLOW))
    result = run_cli("run", str(reference), "--no-checkpoint")
    assert result.code == 0, result.stderr
    expected = lake(tmp_path / "ref")
    good = set(range(20_000)) - failing - bad
    assert sorted(json.loads(r)["id"] for r in expected["raw"]) == sorted(good)

    fed = tmp_path / "fed.ndjson"
    crashed = tmp_path / "crashed.sql"
    crashed.write_text(PIPELINE.format(data=fed, out=tmp_path / "out", follow=FOLLOW))
    kills = run_with_kills(crashed, fed, content, tmp_path / "out", tmp_path / "state", kills=3, seed=seed)
    assert kills == 3
    got = lake(tmp_path / "out")
    assert got == expected

    # Each bad record once per query that met it, with its reason and its bytes as written.
    errors = error_records(tmp_path / "out")
    by_code: dict[str, list[int]] = {}
    for record in errors:
        raw = base64.b64decode(record["rawData"])
        assert raw in content.splitlines() and record["errorMessage"] and record["position"]
        by_code.setdefault(record["errorCode"], []).append(int(raw.split(b",")[0].split(b":")[1]))
    assert sorted(by_code.get("query-failed", [])) == sorted(list(failing) * 2)  # both queries cast it
    decode_codes = by_code.get("implausible-event-time", []) + by_code.get("format-conversion-failed", [])
    assert sorted(decode_codes) == sorted(bad)
    assert set(by_code) <= {"query-failed", "implausible-event-time", "format-conversion-failed"}
