#!/usr/bin/env bash
# Sets up Hark in a local virtualenv (first run only) and starts it; arguments go to Hark.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
if [ ! -f .venv/.hark-installed ] || [ pyproject.toml -nt .venv/.hark-installed ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e . >&2
  touch .venv/.hark-installed
fi
exec .venv/bin/python main.py "$@"
