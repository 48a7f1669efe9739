"""A KDA stream join killed with SIGKILL and restarted from its checkpoints gives exactly the
pairs of one uninterrupted run: none lost, none twice. The killed runs follow a file fed part by
part, so every kill lands mid-run; the input's times lie in the future, so the wall clock that
moves a followed file's arrival time never overtakes them."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

from tests.checkpoint.test_crash_recovery import FOLLOW, NO_FOLLOW, run_with_kills
from tests.conftest import run_cli
from tests.kda.helpers import EXAMPLES

ORDERS = 6000


def _write_input(path: Path) -> None:
    """Orders and their trades, 0 to 90 s apart either way, so some pairs fall outside the minute."""
    rng = random.Random(7)
    start = datetime(2100, 5, 1, 10, 0, 0)
    records = []
    for number in range(ORDERS):
        at = start + timedelta(seconds=number * 0.5)
        records.append((at, {"kind": "order", "order_id": f"o{number}", "ticker": "AMZN", "price": 100.0 + number % 7}))
        for trade in range(rng.randint(0, 2)):
            offset = timedelta(seconds=rng.uniform(-90, 90))
            records.append(
                (
                    at + offset,
                    {
                        "kind": "trade",
                        "trade_id": f"t{number}-{trade}",
                        "order_id": f"o{number}",
                        "price": 100.5 + trade,
                    },
                )
            )
    records.sort(key=lambda r: r[0])
    with path.open("w") as out:
        for at, record in records:
            out.write(json.dumps({"arrival_time": at.isoformat(sep=" "), **record}) + "\n")


def _pipeline(tmp_path: Path, name: str, data: Path, follow: bool = False) -> tuple[Path, Path]:
    text = (EXAMPLES / "stream_join.sql").read_text()
    text = text.replace(
        "path = 'pipelines/kda/data/orders_trades.json'",
        f"path = '{data}', chunk_size = '16 KB', {FOLLOW if follow else NO_FOLLOW}",
    )
    out = tmp_path / name
    text = text.replace(
        "CREATE SINK \"DESTINATION_SQL_STREAM\" WITH (connector = 'stdout', format = 'json');",
        f"CREATE SINK \"DESTINATION_SQL_STREAM\" WITH (connector = 'file', path = '{out}', "
        "format = 'json', buffer_interval = '0 s');\nSET checkpoint_interval = '0.2 s';",
    )
    pipeline = tmp_path / f"{name}.sql"
    pipeline.write_text(text)
    return pipeline, out


def _pairs(out: Path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for f in out.rglob("*.json") for line in f.read_text().splitlines() if line.strip()]
    return sorted((r["order_id"], r["trade_id"]) for r in rows)


def test_join_restarted_after_sigkill_gives_each_pair_once(tmp_path: Path) -> None:
    data = tmp_path / "orders_trades.json"
    _write_input(data)
    reference, reference_out = _pipeline(tmp_path, "reference", data)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(reference))
    assert result.code == 0, result.stderr
    expected = _pairs(reference_out)
    assert len(expected) > ORDERS // 2

    fed = tmp_path / "fed.json"
    crashed, crashed_out = _pipeline(tmp_path, "crashed", fed, follow=True)
    survived = run_with_kills(crashed, fed, data.read_bytes(), crashed_out, tmp_path / "state", kills=3, seed=5)
    got = _pairs(crashed_out)
    assert len(got) == len(set(got))  # no pair twice
    assert got == expected  # and none lost
    assert survived == 3
