#!/usr/bin/env bash
# Set up a fresh machine, check lint and formatting (ruff) and types (mypy), and run the whole test suite
# (slow tests included).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
if [ -f tests/servers/package.json ]; then
  (cd tests/servers && npm install --no-audit --no-fund --silent)
fi
# Lint and type checks first: either failing stops the run.
.venv/bin/python -m ruff check flowsql tests benchmarks
.venv/bin/python -m ruff format --check flowsql tests benchmarks
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest -m "slow or not slow" "$@"
