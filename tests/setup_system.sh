#!/usr/bin/env bash
# System packages the tests need that pip cannot bring (none yet beyond Python, git, make).
set -euo pipefail
exit 0
