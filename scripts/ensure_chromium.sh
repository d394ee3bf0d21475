#!/usr/bin/env bash
# Debian's Chromium for the dashboard's end-to-end tests (tests/web/). Browsers cannot be
# downloaded by test tools here (no `playwright install`): Playwright drives this one.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if ! "$(dirname "$0")/apt_install.sh" chromium; then
  echo "chromium is missing and could not be installed: the dashboard's browser tests need" >&2
  echo "/usr/bin/chromium (Debian package 'chromium')." >&2
  exit 1
fi
command -v chromium >/dev/null 2>&1
