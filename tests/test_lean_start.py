"""The command's start skips pyarrow's look for pandas, and pyarrow's pandas conversions still
work when something asks for them."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_pandas_is_not_loaded_yet_still_converts() -> None:
    script = (
        "import sys\n"
        "from flowsql.lean_start import skip_pandas_probe\n"
        "skip_pandas_probe()\n"
        "import pyarrow as pa\n"
        "table = pa.table({'a': [1, 2, 3]})\n"
        "print('pandas' in sys.modules)\n"
        "frame = table.to_pandas()\n"
        "print(type(frame).__name__, int(frame['a'].sum()), pa.Table.from_pandas(frame).num_rows)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "DataFrame", "6", "3"]
