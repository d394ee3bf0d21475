#!/usr/bin/env bash
# Type-check aiflow as it installs: translators/ and deployers/ become aiflow.translators and
# aiflow.deployers only through the package mapping, which mypy cannot follow in the source
# tree, so check a plain (non-editable) install of the package instead.
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(mktemp -d)"
trap 'rm -rf "$target"' EXIT
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
  --target "$target" . >/dev/null
root="$PWD"
cd "$target" && "$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" --cache-dir "$root/.mypy_cache" -p aiflow
