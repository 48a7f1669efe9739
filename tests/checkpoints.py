"""A running pipeline's checkpoint as a test reads it: the state its store committed last (the
epoch folder that `CURRENT` names)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def committed_state(state_dir: Path) -> dict[str, Any] | None:
    """The state.json committed last by the one pipeline below `state_dir`, or None before the
    first commit or when the run replaced that epoch while it was being read (a caller polling
    with `wait_until` simply asks again)."""
    try:
        current = next(state_dir.rglob("CURRENT"))
        state: dict[str, Any] = json.loads((current.parent / current.read_text().strip() / "state.json").read_text())
    except (StopIteration, FileNotFoundError):
        return None
    return state
