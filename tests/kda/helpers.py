"""Run a KDA example pipeline through the CLI and read what its stdout sink printed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, run_cli

EXAMPLES = ROOT / "pipelines" / "kda"


def run_example(name: str, tmp_path: Path, chunk_size: int | None = None) -> list[dict[str, Any]]:
    """The rows the example wrote, in order. `chunk_size` re-reads the input in small chunks
    (many micro-batches) to check that state carries across batches."""
    pipeline = EXAMPLES / f"{name}.sql"
    if chunk_size is not None:
        text = re.sub(r"(connector = 'file', path = '[^']+')", rf"\1, chunk_size = {chunk_size}", pipeline.read_text())
        pipeline = tmp_path / f"{name}.sql"
        pipeline.write_text(text)
    result = run_cli("run", "--quiet", "--no-checkpoint", str(pipeline))
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def rounded(rows: list[dict[str, Any]], digits: int = 6) -> list[dict[str, Any]]:
    return [{k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()} for row in rows]


def unordered(rows: list[dict[str, Any]]) -> list[str]:
    """Rows of one window come in no set order: compare them as a sorted list."""
    return sorted(json.dumps(r, sort_keys=True) for r in rounded(rows))
