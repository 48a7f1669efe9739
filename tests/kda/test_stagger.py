"""A stagger window feeding an in-application stream: the next pump sees each window's close
as its ROWTIME, as KDA gives it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def test_stagger_output_rowtime_is_the_window_close() -> None:
    result = run_cli("run", "--quiet", "--no-checkpoint", str(Path(__file__).parent / "stagger_chain.sql"))
    assert result.code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == [
        {"CLOSED_AT": "2024-05-01 10:01:20", "TICKER_SYMBOL": "ABC", "TICKER_COUNT": 3},
        {"CLOSED_AT": "2024-05-01 10:02:10", "TICKER_SYMBOL": "ABC", "TICKER_COUNT": 1},
        {"CLOSED_AT": "2024-05-01 10:02:25", "TICKER_SYMBOL": "ABC", "TICKER_COUNT": 1},
        {"CLOSED_AT": "2024-05-01 10:02:30", "TICKER_SYMBOL": "XYZ", "TICKER_COUNT": 1},
    ]
