#!/usr/bin/env bash
# Make the database servers the test suite runs against available: PostgreSQL and MariaDB
# (the tests start their own private servers on loopback ports; nothing is started here).
# Installs Debian's packages when a server binary is missing and we can (root or sudo +
# apt-get); otherwise says what to set instead.
set -euo pipefail

have_postgres() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
have_mariadb() { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; }

missing=()
have_postgres || missing+=(postgresql)
have_mariadb || missing+=(mariadb-server)
[ ${#missing[@]} -eq 0 ] && exit 0

if "$(dirname "$0")/apt_install.sh" "${missing[@]}"; then
  # the packages' own service instances are not needed: the tests start private servers
  if [ "$(id -u)" = "0" ]; then service mariadb stop >/dev/null 2>&1 || true
  else sudo service mariadb stop >/dev/null 2>&1 || true; fi
else
  echo "missing database servers: ${missing[*]}; install them, or point the tests at running" >&2
  echo "servers with AIFLOW_TEST_POSTGRES_URL / AIFLOW_TEST_MYSQL_URL." >&2
  exit 1
fi
have_postgres && have_mariadb
