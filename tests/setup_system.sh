#!/usr/bin/env bash
# System packages the tests need that pip cannot bring. Idempotent; run by `make test`.
# - chromium: the HTML reports are tested in a real headless browser (Playwright drives
#   Debian's chromium through executable_path; no browser download).
# - postgresql: the lab index's query suite runs on a real PostgreSQL server too
#   (tests/index/conftest.py starts its own with initdb/pg_ctl; the package's service stays off).
set -euo pipefail
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian's ${missing[*]} for the tests" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
