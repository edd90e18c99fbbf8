#!/usr/bin/env bash
# Debian's Chromium for the Playwright browser tests (tests/test_browser.py). Idempotent.
# Needs root (or sudo) and the Debian package mirror; without them the browser tests skip.
set -uo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo -n"; fi
echo "==> installing Debian chromium for the browser tests"
if ! ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null); then
  echo "WARNING: could not install chromium; tests/test_browser.py will be skipped" >&2
fi
exit 0
