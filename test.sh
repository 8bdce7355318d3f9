#!/usr/bin/env bash
# Sets up the test environment and runs every gate: ruff, mypy, import-linter, then pytest.
# With gnome-keyring and D-Bus installed, the suite runs against a real Secret Service.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
export PATH="$PWD/.venv/bin:$PATH"

# A real MCP server from npm for the MCP tests (they skip, saying so, where npm is missing).
if command -v npm >/dev/null; then
  npm install --prefix tests/.npm --no-audit --no-fund --silent \
    @modelcontextprotocol/server-filesystem@2026.8.31
fi

echo "== ruff"; ruff check .
echo "== mypy"; mypy src main.py
echo "== import-linter"; lint-imports --no-cache

echo "== pytest"
if command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null; then
  exec dbus-run-session -- bash -c '
    export HOME=$(mktemp -d)
    eval "$(printf "ci-pass" | gnome-keyring-daemon --unlock --components=secrets)"
    export GNOME_KEYRING_CONTROL
    exec pytest "$@"' pytest "$@"
fi
exec pytest "$@"
