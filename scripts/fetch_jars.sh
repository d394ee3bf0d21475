#!/usr/bin/env bash
# Fetch the pinned jars aiflow and its tests need (the Kafka SQL connector, the Kafka broker's
# classpath, the Flink operator's CRDs, Hadoop's client API and test cluster) into the jar cache, outside the repo: $AIFLOW_JAR_CACHE, default
# ~/.cache/aiflow/jars. Versions and SHA-256 pins live in translators/flink/versions.py.
# Usage: scripts/fetch_jars.sh [group...]     (default: every group)
# Idempotent and non-interactive: when every jar is cached and verified, Maven is not started.
# Without the cache complete it needs Maven: scripts/ensure_java.sh installs it (and a JDK).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure_java.sh --maven  # a JDK for Flink and the broker, Maven for the jars
exec .venv/bin/python -m aiflow.translators.flink.jars "$@"
