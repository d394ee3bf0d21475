#!/usr/bin/env bash
# Install Debian packages by name, non-interactively, when we can (root, or sudo + apt-get).
# Usage: scripts/apt_install.sh PACKAGE...   Exit 1 (installing nothing) when we cannot.
# The one place the setup scripts install system packages from.
set -euo pipefail
[ $# -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ]; then sudo=(); else sudo=(sudo); fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" != "0" ] && ! command -v sudo >/dev/null 2>&1; }; then
  exit 1
fi
echo "installing $* from Debian packages..."
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "$@" >/dev/null
