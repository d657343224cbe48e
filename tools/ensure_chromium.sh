#!/usr/bin/env bash
# Make sure Debian's chromium is installed at /usr/bin/chromium (the report's browser test,
# tests/report/test_report.py, drives it with Playwright; no browser is ever downloaded).
#
#   tools/ensure_chromium.sh
#
# Silent and does nothing when chromium is already there. As root (CI, containers) it installs
# the Debian package with apt-get; otherwise it prints the command to run and exits 1.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    cat >&2 <<MSG
chromium is not installed ($CHROMIUM is missing); the report's browser test needs it.
Install Debian's package as root, then run the tests again:
    sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium
MSG
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium is missing and apt-get is not available: install chromium so that" \
        "$CHROMIUM exists." >&2
    exit 1
fi

echo "Installing Debian's chromium for the report's browser test (apt-get) ..."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } \
    >"$log" 2>&1; then
    cat "$log" >&2
    echo "apt-get could not install chromium (output above)." >&2
    exit 1
fi
if [[ ! -x "$CHROMIUM" ]]; then
    echo "apt-get finished but $CHROMIUM is still missing." >&2
    exit 1
fi
echo "Installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
