#!/usr/bin/env bash
# Build the web dashboard (web/) into aiflow/server/dashboard_dist, which `aiflow server`
# serves under / and the wheel packages. Needs Node.js >= 20.19 and npm.
#
# A build is kept under ~/.cache/aiflow/web/<key>, the key a hash of everything the build reads
# (sources, lock file, the OpenAPI document the client is generated from): an unchanged tree
# costs a copy, not a build. `npm ci` runs when package-lock.json changed (npm's own cache
# makes a reinstall offline-fast).
# Usage: scripts/build_web.sh [--if-node]   --if-node: without Node, say so and exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "${1:-}" = "--if-node" ]; then
    echo "Node.js is not installed: the web dashboard is not built (the API works without it)"
    exit 0
  fi
  echo "building the web dashboard needs Node.js >= 20.19 and npm" >&2
  exit 1
fi

key=$(
  {
    sha256sum web/package-lock.json web/index.html web/vite.config.ts web/tsconfig.json docs/openapi.json
    find web/src -type f ! -name 'schema.d.ts' -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-16
)
cache="${AIFLOW_CACHE:-$HOME/.cache/aiflow}/web/$key"
dist=aiflow/server/dashboard_dist

# node_modules: installed from the lock file, again only when it changed
lock_stamp=web/node_modules/.aiflow-lock.sha256
lock_sum=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [ ! -f "$lock_stamp" ] || [ "$(cat "$lock_stamp")" != "$lock_sum" ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" > "$lock_stamp"
fi
(cd web && npm run --silent gen:api >/dev/null)  # the typed client: tests and type checks need it

if [ -f "$cache/index.html" ]; then
  rm -rf "$dist" && mkdir -p "$dist" && cp -r "$cache/." "$dist/"
  echo "web dashboard: cached build $key"
  exit 0
fi
(cd web && npx tsc -b && npx vite build --logLevel warn)
mkdir -p "$(dirname "$cache")" && rm -rf "$cache.tmp" && cp -r "$dist" "$cache.tmp" && mv "$cache.tmp" "$cache"
echo "web dashboard: built $key -> $dist"
