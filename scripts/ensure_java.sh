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

"$(dirname "$0")/apt_install.sh" "${missing[@]}" || \
  echo "missing: ${missing[*]}; install them (a JDK 11-21 for Flink, Maven for the jars)" >&2
