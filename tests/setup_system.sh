#!/usr/bin/env bash
# System packages the tests need that pip cannot bring. Idempotent; run by `make test`.
# - chromium: the HTML reports are tested in a real headless browser (Playwright drives
#   Debian's chromium through executable_path; no browser download).
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing Debian's chromium for the browser tests" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
