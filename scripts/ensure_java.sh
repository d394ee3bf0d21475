#!/usr/bin/env bash
# Make a JDK (for Flink and the Kafka broker) and, with --maven, Maven (to fetch pinned jars)
# available: installs Debian's packages when missing and we can (root or sudo + apt-get).
# Idempotent and non-interactive.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || [ -n "${JAVA_HOME:-}" ] || missing+=(openjdk-17-jdk-headless)
if [ "${1:-}" = "--maven" ]; then
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = "0" ]; then sudo=(); else sudo=(sudo); fi
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = "0" ] || command -v sudo >/dev/null 2>&1; }; then
  echo "installing ${missing[*]} from Debian packages..."
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing: ${missing[*]}; install them (a JDK 11-21 for Flink, Maven for the jars)" >&2
fi
