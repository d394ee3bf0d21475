#!/usr/bin/env bash
# Create .venv and install aiflow with the given extras (default: examples).
# Usage: scripts/setup.sh [extras]      e.g. scripts/setup.sh dev
# Idempotent and non-interactive: safe on a fresh machine, in CI (no stdin), and to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."

extras="${1:-examples}"
python="${PYTHON:-python3}"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "aiflow needs Python >= 3.11 (found: $("$python" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# Re-install only when pyproject.toml changed since the last successful install.
stamp=".venv/.aiflow-installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
  touch "$stamp"
fi
