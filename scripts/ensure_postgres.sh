#!/usr/bin/env bash
# Make PostgreSQL server binaries available for the test suite (the tests start their own
# private server on a loopback port; nothing is started here). Installs Debian's package when
# initdb is missing and we can (root + apt-get); otherwise says what to do.
set -euo pipefail

have_initdb() {
  command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

if have_initdb; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing PostgreSQL from Debian packages..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
else
  echo "PostgreSQL server binaries (initdb) not found: install PostgreSQL >= 13, or set" >&2
  echo "AIFLOW_TEST_POSTGRES_URL to a server the tests may create databases on." >&2
  exit 1
fi
have_initdb
