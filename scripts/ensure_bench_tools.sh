#!/usr/bin/env bash
# Tools the benchmarks drive from outside Python: wrk (HTTP load) from Debian's packages.
set -euo pipefail
command -v wrk >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = "0" ]; then sudo=(); else sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq wrk >/dev/null
command -v wrk >/dev/null
