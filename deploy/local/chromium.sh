#!/usr/bin/env bash
# Installs Debian's headless Chromium and the Noto CJK fonts the canteen reports are checked with
# (tests/safecampus/test_canteen_reports.py). Idempotent: does nothing when both are present, and runs
# apt-get update only when the install fails on missing or stale package lists (a fresh CI image).
#   chromium.sh        install if absent, print the browser's path
set -euo pipefail

have() { command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; }

if ! have; then
  [[ "$(id -u)" == 0 ]] || { echo "chromium: not installed; run as root or: apt-get install chromium fonts-noto-cjk" >&2; exit 1; }
  echo "chromium: installing Debian's chromium and fonts-noto-cjk" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk >/dev/null; }
fi
command -v chromium
